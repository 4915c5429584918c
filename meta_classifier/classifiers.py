"""Three meta-classifiers: a batch of fingerprints from one unseen dataset -> probability over K known datasets.

- KMeansVote ("kmeans_vote"): per known dataset, k-means clusters of its single-image fingerprints; each image of a
  batch goes to its nearest cluster centre (Euclidean, on standardised features) and votes for that centre's
  dataset; the vote shares are the probabilities. (The paper's code used one centroid per dataset, i.e.
  nearest-centroid; here each dataset gets `clusters` centres, which is what "k-means" asks for.)
- MLPVote ("mlp_vote"): a two-layer perceptron (Linear, Swish, dropout, Linear) on single-image fingerprints; the
  batch's probability is the mean of its images' softmax outputs ("prob" vote) or their argmax shares ("majority").
- PrecalcMLP ("precalc", the default): the precalculation layer (per-feature statistics across the batch), then
  the same perceptron, trained on samples "(b images of dataset k) -> k".

Common interface: fit(train, budget) / predict_proba(batch (b, f)) -> (K,) / predict_proba_many((n, b, f)) ->
(n, K) / save(dir) / load_classifier(dir, kind, expected_identity).
"""
from __future__ import annotations

import dataclasses
import json
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from autodl_format.errors import first_line
from autodl_format.files import atomic_path, write_atomic
from learner.knobs import from_mapping, knob, validate
from meta_classifier.errors import ArtifactError, FingerprintMismatch
from meta_classifier.known import BatchSampler, FingerprintSet
from meta_classifier.precalc import ALL_MOMENTS, PrecalcConfig, output_dim, precalc

FORMAT_VERSION = 1
DEFAULT_ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # the shipped, trained classifiers
IDENTITY_KEYS = ("backbone", "weights_sha256", "input_size", "feature_dim")
IMAGES_PER_STEP = 8192  # cap on fingerprints per precalc training step (samples x batch size), for CPU time


class TwoLayerPerceptron(nn.Module):
    """Standardise inputs (stored statistics), Linear -> Swish -> Dropout -> Linear."""

    def __init__(self, in_dim: int, neurons: int, n_out: int, dropout: float) -> None:
        super().__init__()
        self.register_buffer("in_mean", torch.zeros(in_dim))
        self.register_buffer("in_std", torch.ones(in_dim))
        self.body = nn.Sequential(nn.Linear(in_dim, neurons), nn.SiLU(), nn.Dropout(dropout),
                                  nn.Linear(neurons, n_out))

    def set_standardisation(self, inputs: torch.Tensor) -> None:
        self.in_mean.copy_(inputs.mean(0))
        std = inputs.std(0, unbiased=False)
        self.in_std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))  # constant inputs pass unscaled

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.body((inputs - self.in_mean) / self.in_std)


# Hyperparameters, declared once each (learner.knobs): validation, loading and the BOHB space come from here.
@dataclass(frozen=True)
class KMeansVoteConfig:
    clusters: int = knob(20, "k-means centres per known dataset", low=1, high=10_000, tune=(5, 40))
    inits: int = knob(10, "k-means restarts", low=1, high=1000, tune=(10, 30))
    iterations: int = knob(300, "k-means iterations at most", low=1, high=100_000, tune=(100, 500))

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class PerceptronConfig:
    batch_size: int = knob(64, "training examples per step (precalc: the largest images-per-batch b)",
                           low=1, high=4096, tune=(1, 1024), log=True)
    neurons: int = knob(256, "hidden units of the two-layer perceptron", low=1, high=16_384, tune=(16, 1024), log=True)
    lr: float = knob(1e-3, "Adam's learning rate", low=1e-7, high=1.0, tune=(1e-5, 1e-2), log=True)
    dropout: float = knob(0.2, "dropout after the hidden layer", low=0.0, high=0.99, tune=(0.0, 0.8))
    steps: int = knob(600, "optimiser steps of a fit without a BOHB budget", low=1, high=10_000_000)

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class MLPVoteConfig(PerceptronConfig):
    vote: str = knob("prob", "prob: mean of the images' softmax; majority: shares of their argmax",
                     choices=("prob", "majority"))


@dataclass(frozen=True)
class PrecalcMLPConfig(PerceptronConfig):
    moments: tuple = knob(ALL_MOMENTS, "statistics of the precalculation layer", choices=ALL_MOMENTS,
                          tune=ALL_MOMENTS)
    p: float = knob(0.1, "quantile level of q_low/q_high, and the fraction trimmed from each end",
                    low=0.0, high=0.5, tune=(0.0, 0.4))
    trim: bool = knob(False, "trim a fraction p of the sorted batch from each end first", tune=(False, True))
    # Beyond the paper: each step draws b as a power of two in [batch_size / batch_spread, batch_size], so one
    # network also answers for smaller test batches.
    batch_spread: int = knob(1, "range of the images-per-batch drawn in training", low=1, high=4096,
                             tune=(1, 64), log=True)


class MetaClassifier:
    """Base: names of the known datasets, the config, and the identity of the fingerprint network."""

    kind = ""
    Config: type = PerceptronConfig

    def __init__(self, config: Any = None, names: list[str] | None = None, identity: dict | None = None) -> None:
        """config: an instance of the class's Config, or a mapping of its fields (missing ones take defaults)."""
        self.config = config if isinstance(config, self.Config) else from_mapping(self.Config, config or {})
        self.names = list(names or [])
        self.identity = dict(identity or {})

    @property
    def n_datasets(self) -> int:
        return len(self.names)

    def fit(self, train: FingerprintSet, budget: float | None = None, seed: int = 0) -> MetaClassifier:
        raise NotImplementedError

    def predict_proba_many(self, batches: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        """One batch (b, f) of fingerprints of one dataset -> (K,) probabilities over the known datasets."""
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim != 2 or batch.shape[0] < 1:
            raise ValueError(f"{self.kind}: expected a batch (b >= 1, f), got shape {batch.shape}")
        return self.predict_proba_many(batch[None])[0]

    def predict(self, batch: np.ndarray) -> str:
        return self.names[int(np.argmax(self.predict_proba(batch)))]

    # --- persistence --------------------------------------------------------------------------------------
    def _header(self) -> dict:
        return {"format_version": FORMAT_VERSION, "kind": self.kind, "config": self.config_dict(), "names": self.names,
                "fingerprint_network": self.identity}

    def config_dict(self) -> dict[str, Any]:
        """The config as plain JSON values."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self.config).items()}

    def _state(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError

    def save(self, directory: str | Path) -> list[Path]:
        """Write `KIND.json` (config, names, fingerprint network) and `KIND.pt` (tensors) into directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        header_path, state_path = directory / f"{self.kind}.json", directory / f"{self.kind}.pt"
        with atomic_path(state_path) as tmp:
            torch.save(self._state(), tmp)
        write_atomic(header_path, json.dumps(self._header(), indent=1) + "\n")
        return [header_path, state_path]


class KMeansVote(MetaClassifier):
    kind = "kmeans_vote"
    Config = KMeansVoteConfig

    def fit(self, train: FingerprintSet, budget: float | None = None, seed: int = 0) -> KMeansVote:
        """budget: at most this many fingerprints per dataset are clustered (None: all)."""
        from sklearn.cluster import KMeans

        self.names, self.identity = list(train.names), dict(train.identity)
        features, labels = train.single_images()
        self.mean = features.mean(0)
        self.std = np.where(features.std(0) > 1e-6, features.std(0), 1.0).astype(np.float32)
        rng = np.random.default_rng(seed)
        centres, centre_labels = [], []
        for k in range(train.n_datasets):
            own = (features[labels == k] - self.mean) / self.std
            if budget is not None and len(own) > budget:
                own = own[rng.choice(len(own), size=int(budget), replace=False)]
            n_clusters = min(self.config.clusters, len(own))
            model = KMeans(n_clusters=n_clusters, n_init=self.config.inits, max_iter=self.config.iterations,
                           random_state=seed).fit(own)
            centres.append(model.cluster_centers_.astype(np.float32))
            centre_labels.append(np.full(n_clusters, k, dtype=np.int64))
        self.centres = np.concatenate(centres)
        self.centre_labels = np.concatenate(centre_labels)
        return self

    def predict_proba_many(self, batches: np.ndarray) -> np.ndarray:
        n, b, f = batches.shape
        points = (batches.reshape(n * b, f) - self.mean) / self.std
        # squared distances without the |x|^2 term, which does not change the argmin
        scores = (self.centres ** 2).sum(1)[None, :] - 2.0 * points @ self.centres.T
        votes = self.centre_labels[scores.argmin(1)].reshape(n, b)
        return np.stack([np.bincount(row, minlength=self.n_datasets) / b for row in votes]).astype(np.float32)

    def _state(self) -> dict[str, torch.Tensor]:
        return {"mean": torch.from_numpy(self.mean), "std": torch.from_numpy(self.std),
                "centres": torch.from_numpy(self.centres), "centre_labels": torch.from_numpy(self.centre_labels)}

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        self.mean, self.std = state["mean"].numpy(), state["std"].numpy()
        self.centres, self.centre_labels = state["centres"].numpy(), state["centre_labels"].numpy()


class _PerceptronClassifier(MetaClassifier):
    """Shared training loop: Adam on cross-entropy; `budget` is the number of optimiser steps."""

    net: TwoLayerPerceptron

    def _in_dim(self, feature_dim: int) -> int:
        raise NotImplementedError

    def _training_batch(self, sampler: BatchSampler) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _build(self, in_dim: int) -> None:
        self.net = TwoLayerPerceptron(in_dim, self.config.neurons, self.n_datasets, self.config.dropout)

    def fit(self, train: FingerprintSet, budget: float | None = None, seed: int = 0) -> _PerceptronClassifier:
        torch.manual_seed(seed)
        self.names, self.identity = list(train.names), dict(train.identity)
        self._build(self._in_dim(train.feature_dim))
        sampler = BatchSampler(train, seed=seed)
        with torch.no_grad():  # input statistics from a few training batches
            inputs = torch.cat([self._training_batch(sampler)[0] for _ in range(8)])
            self.net.set_standardisation(inputs)
        optimiser = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)
        loss_fn = nn.CrossEntropyLoss()
        steps = int(round(budget if budget is not None else self.config.steps))
        self.net.train()
        for _ in range(max(1, steps)):
            inputs, targets = self._training_batch(sampler)
            optimiser.zero_grad(set_to_none=True)
            loss_fn(self.net(inputs), targets).backward()
            optimiser.step()
        self.net.eval()
        return self

    def _state(self) -> dict[str, torch.Tensor]:
        return dict(self.net.state_dict())

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        self._build(int(state["in_mean"].shape[0]))
        self.net.load_state_dict(state)
        self.net.eval()


class MLPVote(_PerceptronClassifier):
    kind = "mlp_vote"
    Config = MLPVoteConfig

    def _in_dim(self, feature_dim: int) -> int:
        return feature_dim

    def _training_batch(self, sampler: BatchSampler) -> tuple[torch.Tensor, torch.Tensor]:
        # batch_size single images, each from a uniformly drawn dataset: b=1 samples of the sampler
        batches, labels = sampler.sample(self.config.batch_size, 1)
        return torch.from_numpy(batches[:, 0]), torch.from_numpy(labels)

    def predict_proba_many(self, batches: np.ndarray) -> np.ndarray:
        n, b, f = batches.shape
        with torch.inference_mode():
            probs = torch.softmax(self.net(torch.from_numpy(np.ascontiguousarray(batches, np.float32))
                                           .reshape(n * b, f)), dim=1).reshape(n, b, -1)
        if self.config.vote == "majority":
            winners = probs.argmax(2).numpy()
            return np.stack([np.bincount(row, minlength=self.n_datasets) / b for row in winners]).astype(np.float32)
        return probs.mean(1).numpy()


class PrecalcMLP(_PerceptronClassifier):
    kind = "precalc"
    Config = PrecalcMLPConfig

    @property
    def precalc_config(self) -> PrecalcConfig:
        return PrecalcConfig(self.config.moments, self.config.p, self.config.trim)

    def _in_dim(self, feature_dim: int) -> int:
        return output_dim(feature_dim, self.precalc_config)

    def _training_batch(self, sampler: BatchSampler) -> tuple[torch.Tensor, torch.Tensor]:
        top = self.config.batch_size
        low_exponent = int(math.log2(max(1, top // self.config.batch_spread)))
        b = 2 ** int(sampler.rng.integers(low_exponent, int(math.log2(top)) + 1)) if top > 1 else 1
        n_samples = int(min(32, max(4, IMAGES_PER_STEP // b)))
        batches, labels = sampler.sample(n_samples, b)
        return precalc(torch.from_numpy(batches), self.precalc_config), torch.from_numpy(labels)

    def predict_proba_many(self, batches: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            stats = precalc(torch.from_numpy(np.ascontiguousarray(batches, np.float32)), self.precalc_config)
            return torch.softmax(self.net(stats), dim=1).numpy()


CLASSIFIERS: dict[str, type[MetaClassifier]] = {c.kind: c for c in (PrecalcMLP, MLPVote, KMeansVote)}


def check_identity(stored: dict, expected: dict, where: str) -> None:
    """FingerprintMismatch when a classifier was trained on fingerprints of another network."""
    differing = [key for key in IDENTITY_KEYS if stored.get(key) != expected.get(key)]
    if differing:
        details = "; ".join(f"{key}: trained with {stored.get(key)!r}, running {expected.get(key)!r}"
                            for key in differing)
        raise FingerprintMismatch(f"{where}: meta-classifier was trained on another fingerprint network ({details})"
                                  f"; rebuild metadata/ and retrain with python -m scripts.train_meta_classifier")


def read_header(directory: str | Path, kind: str = "precalc") -> dict:
    """The JSON half of a saved classifier (config, names, fingerprint network), validated."""
    if kind not in CLASSIFIERS:
        raise ValueError(f"unknown classifier kind {kind!r}; choose from {', '.join(CLASSIFIERS)}")
    header_path = Path(directory) / f"{kind}.json"
    if not header_path.is_file():
        raise ArtifactError(f"{header_path}: missing (train with python -m scripts.train_meta_classifier)")
    try:
        header = json.loads(header_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{header_path}: not valid JSON ({err.msg})") from None
    if header.get("format_version") != FORMAT_VERSION or header.get("kind") != kind:
        raise ArtifactError(f"{header_path}: expected format {FORMAT_VERSION} kind {kind!r}, got "
                            f"{header.get('format_version')!r} {header.get('kind')!r}")
    return header


def load_classifier(directory: str | Path, kind: str = "precalc",
                    expected_identity: dict | None = None) -> MetaClassifier:
    """Load `KIND.json` + `KIND.pt` from directory; with expected_identity, check the fingerprint network."""
    header = read_header(directory, kind)
    state_path = Path(directory) / f"{kind}.pt"
    if not state_path.is_file():
        raise ArtifactError(f"{state_path}: missing (train with python -m scripts.train_meta_classifier)")
    if expected_identity is not None:
        check_identity(header["fingerprint_network"], expected_identity, str(Path(directory) / f"{kind}.json"))
    classifier = CLASSIFIERS[kind](header["config"], header["names"], header["fingerprint_network"])
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        classifier._set_state(state)
    except (RuntimeError, KeyError, OSError, EOFError, ValueError, pickle.UnpicklingError) as err:
        raise ArtifactError(f"{state_path}: cannot load ({type(err).__name__}: {first_line(err)})") from None
    return classifier


def mean_nll(classifier: MetaClassifier, data: FingerprintSet, batch_sizes: tuple[int, ...], n_per_dataset: int,
             seed: int = 0) -> tuple[float, float]:
    """(mean negative log-likelihood of the true dataset, accuracy) over batches of the given sizes drawn per
    dataset from `data`; the BOHB objective and a quick check."""
    sampler = BatchSampler(data, seed=seed)
    nll, correct, total = 0.0, 0, 0
    for b in batch_sizes:
        for k in range(data.n_datasets):
            probs = classifier.predict_proba_many(sampler.sample_dataset(k, n_per_dataset, b))
            nll -= float(np.log(np.clip(probs[:, k], 1e-6, 1.0)).sum())
            correct += int((probs.argmax(1) == k).sum())
            total += len(probs)
    return nll / total, correct / total


__all__ = ["CLASSIFIERS", "KMeansVote", "MLPVote", "PrecalcMLP", "MetaClassifier", "load_classifier",
           "check_identity", "mean_nll", "read_header"]
