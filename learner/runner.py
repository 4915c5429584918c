"""Runs the classifier on its device: placement (CUDA when it works, else the CPU), warm-up, inference passes,
and the measured inference cost per frame that the learner's time accounting relies on.

Inference takes uint8 examples (N, F, S, S, C) as stored by learner.data (F frames per video: fewer in the early
copies than in the fine-tuning ones), in batches of INFER_BATCH frames, under `torch.inference_mode` and, on
GPU, bfloat16 autocast. Costs are measured per frame, so one figure serves both frame counts.

On CUDA the first pass at every new input shape costs seconds of cuDNN set-up (on an H200: about 2 s for an
inference batch and 5-7 s for a training step, at every new side and every new batch size; CUDA_MODULE_LOADING=EAGER
does not move it). So there every inference batch is padded to the full INFER_BATCH (one shape per side, whatever
the number of examples), and the warm-up runs the shapes the run will use, at every side of the ladder when the
constructor is not charged. On the CPU such set-up is small and neither is done.
"""
from __future__ import annotations

import logging
import time
from typing import Iterator, Sequence

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

    def warm_up(self, stored_side: int, side: int, train_examples: int = 4, later_sides: Sequence[int] = ()) -> None:
        """A forward+backward (allocations, kernel selection) and a timed inference batch at `side`, which gives
        the first per-example cost guess. On CUDA these are the run's own shapes (a training step of
        `train_examples`, a full inference batch), then also at `later_sides`. A GPU that fails at this first real
        work is given up for the CPU; one that fails at a later side only stops warming up."""
        try:
            self._warm_up(stored_side, side, train_examples)
        except Exception as error:  # noqa: BLE001
            if self.device.type != "cuda":
                raise
            self.log.info("CUDA warm-up failed (%s); using the CPU", first_line(error))
            self.device, self.amp = torch.device("cpu"), False
            self.net.to(self.device)
            self._warm_up(stored_side, side, train_examples)
            return
        if self.device.type == "cuda" and later_sides:
            start = time.monotonic()
            try:
                for later in later_sides:
                    self._train_pass(stored_side, later, train_examples)
                    self._logits(self._zeros(_examples_per_batch(self.frames), stored_side), later)
            except Exception as error:  # noqa: BLE001 - e.g. out of memory at a large side: the run finds out
                self.log.info("CUDA warm-up at side %d failed (%s): left to the run", later, first_line(error))
                torch.cuda.empty_cache()
            self.log.info("CUDA warm-up of the input shapes at sides %s: %.1fs", list(later_sides),
                          time.monotonic() - start)

    def _warm_up(self, stored_side: int, side: int, train_examples: int) -> None:
        cuda = self.device.type == "cuda"
        self._train_pass(stored_side, side, train_examples if cuda else 4)
        examples = _examples_per_batch(self.frames) if cuda else max(1, 32 // self.frames)
        batch, timings = self._zeros(examples, stored_side), []
        for _ in range(3):
            start = time.monotonic()
            self._logits(batch, side)
            timings.append(time.monotonic() - start)
        self.seconds_per_frame = min(timings) / (examples * self.frames)

    def _zeros(self, examples: int, stored_side: int) -> torch.Tensor:
        return torch.zeros(examples, self.frames, stored_side, stored_side, 3, dtype=torch.uint8, device=self.device)

    def _train_pass(self, stored_side: int, side: int, examples: int) -> None:
        self.net.train()
        with self.autocast():
            self.net(self.net.images(self._zeros(examples, stored_side), side), self.frames).float().sum().backward()
        self.net.zero_grad(set_to_none=True)
        self.net.eval()

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
        start, out = time.monotonic(), []
        for batch, count in self._batches(examples):
            out.append(self._logits(batch, side, flip)[:count].cpu())
        self._measure(start, examples.shape[0] * examples.shape[1] * (2 if flip else 1))
        return torch.cat(out)

    @torch.inference_mode()
    def features(self, examples: np.ndarray, side: int) -> torch.Tensor:
        """Frozen pooled backbone features (N, D) on the CPU; video frames averaged."""
        self.net.eval()
        start, out = time.monotonic(), []
        for batch, count in self._batches(examples):
            with self.autocast():
                feats = self.net.embed(self.net.images(batch, side)).float()
            out.append(feats.view(-1, batch.shape[1], feats.shape[-1]).mean(dim=1)[:count].cpu())
        self._measure(start, examples.shape[0] * examples.shape[1])
        return torch.cat(out)

    def _batches(self, examples: np.ndarray) -> Iterator[tuple[torch.Tensor, int]]:
        """The examples in inference batches on the device, with how many rows of each are real: on CUDA the
        last batch is padded with zeros to the full size (a new shape would cost seconds of set-up)."""
        chunk = _examples_per_batch(examples.shape[1])
        for i in range(0, len(examples), chunk):
            part = examples[i:i + chunk]
            count = len(part)
            if self.device.type == "cuda" and count < chunk:
                part = np.concatenate([part, np.zeros((chunk - count, *part.shape[1:]), part.dtype)])
            yield torch.from_numpy(part).to(self.device), count

    def _measure(self, start: float, frames: int) -> None:
        """Cost per frame over all passes at this side (single small passes are distorted by one-off kernel
        set-up for new batch shapes; the warm-up figure is only a first guess)."""
        self._measured[0] += time.monotonic() - start
        self._measured[1] += frames
        if self._measured[1] >= MIN_MEASURED:
            self.seconds_per_frame = self._measured[0] / self._measured[1]


def _examples_per_batch(frames: int) -> int:
    return max(1, INFER_BATCH // frames)
