"""Optimisation steps for fine-tuning: minibatches drawn from train tensors kept on the device, augmentation on
the device, linear lr warm-up, the loss (softmax CE or sigmoid BCE), and the measured step time the learner's
schedule plans with.

Nothing here decides *when* to train or evaluate (learner.schedule does); `train_until` only runs steps until a
given deadline and reports how many it ran.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from learner.config import LearnerConfig
from learner.network import Classifier, augment
from learner.runner import NetRunner
from learner.sides import resize_examples

GPU_SYNC_EVERY = 25
FIRST_STEP_GUESS_S = 0.5  # the step time assumed before any step was measured


def make_optimizer(net: Classifier, cfg: LearnerConfig) -> torch.optim.Optimizer:
    """Adam, or SGD with Nesterov momentum, over the trainable parameters."""
    params = [p for p in net.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.sgd_momentum, nesterov=True, weight_decay=cfg.weight_decay)


def examples_per_step(batch_size: int, frames: int) -> int:
    """Examples in one optimisation step: a video batch holds batch_size frames in all."""
    return max(2, batch_size // frames)


class StepTrainer:
    """Runs optimisation steps on the train tensors it is given, and measures what a step costs."""

    def __init__(self, net: Classifier, runner: NetRunner, cfg: LearnerConfig, frames: int,
                 log: logging.Logger) -> None:
        self.net, self.runner, self.cfg, self.frames, self.log = net, runner, cfg, frames, log
        self.optimizer = make_optimizer(net, cfg)  # Adam/SGD state is created at the 1st step
        self.lr_cuts = 0
        self.steps = 0
        self.step_seconds = FIRST_STEP_GUESS_S
        self.examples_per_step = examples_per_step(cfg.batch_size, frames)
        self.multilabel = False
        self.train_x: torch.Tensor | None = None
        self.train_y: torch.Tensor | None = None

    def set_data(self, examples: np.ndarray, labels: np.ndarray, side: int, multilabel: bool) -> None:
        """uint8 examples (N, F, R, R, C) and float labels (N, K) to sample from: resized once to the training side
        and kept on the device (resizing here rather than in every step saves up to 15 % of CPU throughput:
        omniglot, stored at 105 px, trained at 64)."""
        device = self.runner.device
        self.train_x = torch.from_numpy(resize_examples(examples, side)).to(device)
        self.train_y = torch.from_numpy(labels).to(device)
        self.multilabel = multilabel

    @property
    def lr(self) -> float:
        """The learning rate of the next step: cfg.lr, times lr_cut_factor per cut, ramped up over the warm-up."""
        warmup = min(1.0, (self.steps + 1) / self.cfg.warmup_steps) if self.cfg.warmup_steps else 1.0
        return self.cfg.lr * self.cfg.lr_cut_factor ** self.lr_cuts * warmup

    def cut_lr(self) -> None:
        self.lr_cuts += 1

    def rescale_step_time(self, ratio: float) -> None:
        """The input side changed: steps cost about `ratio` times more until measured afresh."""
        self.step_seconds *= ratio

    def seconds_per_step(self) -> float:
        """A pessimistic step time (decaying maximum): on a shared CPU single steps can take several times
        the mean, and a step that starts must finish before the learner's reserve."""
        return self.step_seconds if self.steps else FIRST_STEP_GUESS_S

    def steps_per_pass(self) -> int:
        return -(-len(self.train_x) // self.examples_per_step)

    def train_until(self, soft_stop: float, hard_stop: float, side: int, elapsed: Callable[[], float]) -> int:
        """Train until soft_stop (time.monotonic()), but at least one step if that fits before hard_stop;
        returns the number of steps run. `elapsed` gives the budget time for the log line."""
        self.net.train()
        n = len(self.train_x)
        device = self.train_x.device
        start = time.monotonic()
        running = torch.zeros((), device=device)  # summed on the device: no host sync per step
        steps = 0
        while time.monotonic() + self.seconds_per_step() < (soft_stop if steps else hard_stop):
            step_start = time.monotonic()
            index = torch.randint(n, (self.examples_per_step,), device=device)
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr
            loss = self._loss(index, side)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            running += loss.detach()
            steps += 1
            self.steps += 1
            if device.type == "cuda" and steps % GPU_SYNC_EVERY == 0:
                torch.cuda.synchronize()  # keep the time checks honest: the host may run far ahead of the GPU
            step_time = time.monotonic() - step_start
            self.step_seconds = max(step_time, 0.9 * self.step_seconds) if self.steps > 1 else step_time
        seconds = time.monotonic() - start
        if steps:
            self.log.info("trained %d steps in %.1fs (%.0f images/s, lr %.2g, mean loss %.4f) at %.1fs elapsed",
                          steps, seconds, steps * self.examples_per_step * self.frames / max(seconds, 1e-9), self.lr,
                          float(running) / steps, elapsed())
        return steps

    def _loss(self, index: torch.Tensor, side: int) -> torch.Tensor:
        targets = self.train_y[index]
        with self.runner.autocast():
            images = augment(self.net.images(self.train_x[index], side), self.cfg.augmentation)
            logits = self.net(images, self.frames).float()
        if self.multilabel:
            return F.binary_cross_entropy_with_logits(logits, targets)
        return F.cross_entropy(logits, targets.argmax(dim=1))
