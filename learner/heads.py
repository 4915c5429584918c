"""The two closed-form heads behind the first predictions: a ridge on raw pixels (sub-second), then a ridge on
frozen pooled backbone features. Each is validated and queued for prediction when it beats everything so far;
the features head also becomes the fine-tuned network's starting linear head.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from learner.best import Result, Source
from learner.ridge import RidgeHead, fit_ridge, pixel_features
from learner.run import Run
from learner.validation import nauc


class RidgeHeads:
    def __init__(self, run: Run) -> None:
        self.run = run
        self.pixels_: RidgeHead | None = None
        self.features_: RidgeHead | None = None

    def logits(self, source: Source, examples: np.ndarray) -> torch.Tensor:
        """Logits of a head on uint8 examples (N, F, S, S, C)."""
        if source is Source.PIXELS:
            return self._logits(self.pixels_, pixel_features(examples, self.run.cfg.pixel_side))
        return self._logits(self.features_, self.run.runner.features(examples, self.run.side))

    def _logits(self, head: RidgeHead, inputs: torch.Tensor) -> torch.Tensor:
        """Ridge scores as logits: the same scale the network's head starts from (see init_network_head)."""
        temperature = self.run.cfg.ridge_temperature
        logits = head.scores(inputs) * temperature
        return logits - temperature / 2 if self.run.multilabel else logits

    def fit_pixels(self) -> None:
        run = self.run
        if run.clock.left() < run.clock.safety_margin():
            run.log.info("no time for the pixel head (%.2fs left)", run.clock.left())
            return
        examples = run.feed.train_early.store.arrays()[0]
        start = time.monotonic()
        pixels = pixel_features(examples, run.cfg.pixel_side)
        run.pixel_seconds = (time.monotonic() - start) / len(examples)
        self.pixels_ = self._fit(pixels, np.arange(len(examples)), Source.PIXELS)

    def fit_features(self, rows: np.ndarray) -> None:
        """A ridge on frozen features of the stored early examples `rows` (validation rows included)."""
        run = self.run
        examples = run.feed.train_early.store.arrays()[0]
        self.features_ = self._fit(run.runner.features(examples[rows], run.side), rows, Source.FEATURES)

    def _fit(self, features: torch.Tensor, rows: np.ndarray, source: Source) -> RidgeHead:
        """Ridge on `features` of the stored examples `rows` (which include all validation rows), offered as the
        next prediction (taken when validation says it is better than the best so far, always without it)."""
        run = self.run
        labels = run.feed.train_early.store.arrays()[1]
        held_out = np.isin(rows, run.val_index)
        fit_rows = rows[~held_out]
        head = fit_ridge(features[~held_out], torch.from_numpy(labels[fit_rows]), run.cfg.ridge_l2)
        result = None
        if len(run.val_index):
            logits = self._logits(head, features[held_out])
            val_labels = labels[rows[held_out]]
            scores = logits.numpy()
            result = Result(nauc(val_labels, scores), run.loss(logits, val_labels), labels=val_labels, scores=scores)
            run.best.heads[source] = result
        # Also without early predictions the validation result counts: the fine-tuned net must beat it.
        verdict = run.best.offer(source, result, predict=run.cfg.early_predictions)
        note = verdict.note()
        run.log.info("%s head: ridge on %d examples at %.1fs elapsed | validation NAUC %s%s", source.value,
                     len(fit_rows), run.clock.elapsed(), "-" if result is None else f"{result.score:.4f}",
                     f" ({note})" if verdict.better and note
                     else "" if verdict.better else f" (not better: no prediction{'; ' + note if note else ''})")
        return head

    @torch.no_grad()
    def init_network_head(self) -> None:
        """Start fine-tuning from the features head's solution (as logits), not from a random head: the first
        fine-tuned weights are then about as good as the first prediction instead of far worse."""
        ridge, net, temperature = self.features_, self.run.net, self.run.cfg.ridge_temperature
        weight = (ridge.weight / ridge.scale[:, None]) * temperature
        bias = (ridge.bias - (ridge.mean / ridge.scale) @ ridge.weight) * temperature
        if self.run.multilabel:
            bias = bias - temperature / 2
        net.head.weight.copy_(weight.T.float())
        net.head.bias.copy_(bias.float())
