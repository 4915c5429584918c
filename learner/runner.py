"""Runs the classifier on its device: placement (CUDA when it works, else the CPU), warm-up, inference passes,
and the measured inference cost per frame that the learner's time accounting relies on.

Inference takes uint8 examples (N, F, S, S, C) as stored by learner.data (F frames per video: fewer in the early
copies than in the fine-tuning ones), in batches of INFER_BATCH frames, under `torch.inference_mode` and, on
GPU, bfloat16 autocast. Costs are measured per frame, so one figure serves both frame counts.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import torch

from autodl_format.errors import first_line
from learner.network import Classifier

INFER_BATCH = 256  # frames
MIN_MEASURED = 32  # frames: below this a measured pass is dominated by one-off set-up and is not trusted


class NetRunner:
    def __init__(self, net: Classifier, frames: int, log: logging.Logger) -> None:
        """frames: per example of the fine-tuning data (what the warm-up builds its batches with)."""
        self.net, self.frames, self.log = net, frames, log
        self.device = self._place()
        self.amp = self.device.type == "cuda"
        self.seconds_per_frame = 0.0  # the warm-up's first guess, then the mean over measured passes
        self._measured = [0.0, 0]     # seconds, frames

    def _place(self) -> torch.device:
        self.net.to(memory_format=torch.channels_last)
        if torch.cuda.is_available():
            try:
                self.net.to("cuda")
                torch.cuda.synchronize()
                return torch.device("cuda")
            except Exception as error:  # noqa: BLE001 - a broken CUDA setup must not end the run
                self.log.info("CUDA failed (%s); using the CPU", first_line(error))
                self.net.to("cpu")
        return torch.device("cpu")

    def warm_up(self, stored_side: int, side: int) -> None:
        """One forward+backward (allocations, kernel selection) and a timed inference batch, which gives the
        first per-example cost guess. A GPU that fails at this first real work is given up for the CPU."""
        try:
            self._warm_up(stored_side, side)
        except Exception as error:  # noqa: BLE001
            if self.device.type != "cuda":
                raise
            self.log.info("CUDA warm-up failed (%s); using the CPU", first_line(error))
            self.device, self.amp = torch.device("cpu"), False
            self.net.to(self.device)
            self._warm_up(stored_side, side)

    def _warm_up(self, stored_side: int, side: int) -> None:
        batch = torch.zeros(4, self.frames, stored_side, stored_side, 3, dtype=torch.uint8, device=self.device)
        self.net.train()
        with self.autocast():
            self.net(self.net.images(batch, side), self.frames).float().sum().backward()
        self.net.zero_grad(set_to_none=True)
        self.net.eval()
        examples = max(1, 32 // self.frames)
        batch = torch.zeros(examples, self.frames, stored_side, stored_side, 3, dtype=torch.uint8, device=self.device)
        timings = []
        for _ in range(3):
            start = time.monotonic()
            self._logits(batch, side)
            timings.append(time.monotonic() - start)
        self.seconds_per_frame = min(timings) / (examples * self.frames)

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def rescale_cost(self, ratio: float) -> None:
        """The input side changed: scale the cost guess, and measure afresh at the new side."""
        self.seconds_per_frame *= ratio
        self._measured = [0.0, 0]

    @torch.inference_mode()
    def _logits(self, batch: torch.Tensor, side: int, flip: bool = False) -> torch.Tensor:
        frames = batch.shape[1]
        with self.autocast():
            images = self.net.images(batch, side)
            logits = self.net(images, frames).float()
            if flip:
                logits = (logits + self.net(images.flip(3), frames).float()) / 2
        return logits

    def seconds(self, examples: int, frames: int) -> float:
        """Estimated inference time of `examples` examples of `frames` frames each."""
        return self.seconds_per_frame * examples * frames

    def predict(self, examples: np.ndarray, side: int, flip: bool = False) -> torch.Tensor:
        """Logits (N, K) on the CPU, optionally averaged with the horizontally flipped images."""
        self.net.eval()
        start, out, chunk = time.monotonic(), [], _examples_per_batch(examples)
        for i in range(0, len(examples), chunk):
            batch = torch.from_numpy(examples[i:i + chunk]).to(self.device)
            out.append(self._logits(batch, side, flip).cpu())
        self._measure(start, examples.shape[0] * examples.shape[1] * (2 if flip else 1))
        return torch.cat(out)

    @torch.inference_mode()
    def features(self, examples: np.ndarray, side: int) -> torch.Tensor:
        """Frozen pooled backbone features (N, D) on the CPU; video frames averaged."""
        self.net.eval()
        start, out, chunk = time.monotonic(), [], _examples_per_batch(examples)
        for i in range(0, len(examples), chunk):
            batch = torch.from_numpy(examples[i:i + chunk]).to(self.device)
            with self.autocast():
                feats = self.net.embed(self.net.images(batch, side)).float()
            out.append(feats.view(-1, batch.shape[1], feats.shape[-1]).mean(dim=1).cpu())
        self._measure(start, examples.shape[0] * examples.shape[1])
        return torch.cat(out)

    def _measure(self, start: float, frames: int) -> None:
        """Cost per frame over all passes at this side (single small passes are distorted by one-off kernel
        set-up for new batch shapes; the warm-up figure is only a first guess)."""
        self._measured[0] += time.monotonic() - start
        self._measured[1] += frames
        if self._measured[1] >= MIN_MEASURED:
            self.seconds_per_frame = self._measured[0] / self._measured[1]


def _examples_per_batch(examples: np.ndarray) -> int:
    return max(1, INFER_BATCH // examples.shape[1])
