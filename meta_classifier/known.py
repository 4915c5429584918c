"""Known datasets' cached fingerprints (metadata/): load them, split them, and draw same-dataset batches.

On disk (written by scripts.build_meta_dataset): `catalogue.json` plus one `fingerprints/NAME.npz` per dataset
with `features` (n, f) float16, `split` (n,) 0 = meta-train / 1 = meta-test, and `variant` (n,) the index into
the catalogue's `variants` (0 = the images as the AutoDL reader gives them, others = whole-dataset
augmentations such as a lower resolution or grey->colour). A batch is always drawn from ONE (dataset, variant)
group, because a real dataset is homogeneous: mixing variants inside a batch would teach batch statistics that
never occur.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from meta_classifier.errors import MetaDataError

CATALOGUE_FILE = "catalogue.json"
DEFAULT_METADATA_DIR = Path(__file__).resolve().parent.parent / "metadata"


@dataclass
class Group:
    """The fingerprints of one variant of one dataset."""

    dataset: int
    variant: int
    features: np.ndarray  # (n, f) float32


@dataclass
class FingerprintSet:
    """Fingerprints of K known datasets, as groups; labels are dataset indices into `names`."""

    names: list[str]
    groups: list[Group]
    feature_dim: int
    identity: dict = field(default_factory=dict)

    @property
    def n_datasets(self) -> int:
        return len(self.names)

    def groups_of(self, dataset: int) -> list[Group]:
        return [g for g in self.groups if g.dataset == dataset]

    def single_images(self) -> tuple[np.ndarray, np.ndarray]:
        """All fingerprints stacked, with their dataset labels."""
        features = np.concatenate([g.features for g in self.groups])
        labels = np.concatenate([np.full(len(g.features), g.dataset, dtype=np.int64) for g in self.groups])
        return features, labels

    def without(self, dataset: int) -> FingerprintSet:
        """The same set with one dataset removed (indices above it shift down by one)."""
        keep = [i for i in range(self.n_datasets) if i != dataset]
        remap = {old: new for new, old in enumerate(keep)}
        groups = [Group(remap[g.dataset], g.variant, g.features) for g in self.groups if g.dataset != dataset]
        return FingerprintSet([self.names[i] for i in keep], groups, self.feature_dim, self.identity)

    def alone(self, dataset: int) -> FingerprintSet:
        """The one dataset as a set of its own (label 0): to draw batches of a dataset a classifier never saw."""
        groups = [Group(0, g.variant, g.features) for g in self.groups_of(dataset)]
        return FingerprintSet([self.names[dataset]], groups, self.feature_dim, self.identity)

    def split_images(self, fraction: float, seed: int = 0) -> tuple[FingerprintSet, FingerprintSet]:
        """Per group, a random `fraction` of its images goes to the second set (at least one stays in each when
        the group has two or more). Used to carve a BOHB validation set out of meta-train."""
        rng = np.random.default_rng(seed)
        first, second = [], []
        for group in self.groups:
            order = rng.permutation(len(group.features))
            n_second = min(max(1, int(round(fraction * len(order)))), len(order) - 1) if len(order) > 1 else 0
            second_idx, first_idx = order[:n_second], order[n_second:]
            first.append(Group(group.dataset, group.variant, group.features[first_idx]))
            if n_second:
                second.append(Group(group.dataset, group.variant, group.features[second_idx]))
        return (FingerprintSet(self.names, first, self.feature_dim, self.identity),
                FingerprintSet(self.names, second, self.feature_dim, self.identity))


class BatchSampler:
    """Draws (batch of b fingerprints from one dataset, dataset index) samples: dataset uniformly (so large
    datasets do not dominate), then one of its variant groups uniformly, then b images without replacement,
    or with replacement when the group holds fewer than b."""

    def __init__(self, data: FingerprintSet, seed: int = 0, variants: tuple[int, ...] | None = None) -> None:
        self.data = data
        self.rng = np.random.default_rng(seed)
        self.by_dataset = [[g for g in data.groups_of(k) if variants is None or g.variant in variants]
                           for k in range(data.n_datasets)]
        empty = [data.names[k] for k, groups in enumerate(self.by_dataset) if not groups]
        if empty:
            raise MetaDataError(f"no fingerprints to sample for: {', '.join(empty)}")

    def draw_indices(self, group: Group, b: int) -> np.ndarray:
        n = len(group.features)
        return self.rng.choice(n, size=b, replace=n < b)

    def sample(self, n_samples: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(n_samples, b, f) float32 batches and (n_samples,) dataset labels."""
        labels = self.rng.integers(0, self.data.n_datasets, size=n_samples)
        batches = np.empty((n_samples, b, self.data.feature_dim), dtype=np.float32)
        for i, k in enumerate(labels):
            groups = self.by_dataset[k]
            group = groups[self.rng.integers(len(groups))]
            batches[i] = group.features[self.draw_indices(group, b)]
        return batches, labels

    def sample_dataset(self, dataset: int, n_samples: int, b: int) -> np.ndarray:
        """(n_samples, b, f) batches of one given dataset."""
        groups = self.by_dataset[dataset]
        out = np.empty((n_samples, b, self.data.feature_dim), dtype=np.float32)
        for i in range(n_samples):
            group = groups[self.rng.integers(len(groups))]
            out[i] = group.features[self.draw_indices(group, b)]
        return out


def load_catalogue(metadata_dir: str | Path = DEFAULT_METADATA_DIR) -> dict:
    path = Path(metadata_dir) / CATALOGUE_FILE
    if not path.is_file():
        raise MetaDataError(f"{path}: catalogue missing (build it with python -m scripts.build_meta_dataset)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise MetaDataError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None


def load_fingerprints(metadata_dir: str | Path = DEFAULT_METADATA_DIR, split: str = "train",
                      variants: tuple[int, ...] | None = None,
                      datasets: list[str] | None = None) -> FingerprintSet:
    """Meta-train ("train") or meta-test ("test") fingerprints of the catalogued datasets (or of `datasets`, in
    that order: label k is datasets[k]), as float32 groups."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    catalogue = load_catalogue(metadata_dir)
    by_name = {e["name"]: e for e in catalogue["datasets"]}
    if datasets is not None and set(datasets) - set(by_name):
        missing = sorted(set(datasets) - set(by_name))
        raise MetaDataError(f"{metadata_dir}: not in the catalogue: {', '.join(missing)}")
    entries = [by_name[name] for name in (datasets if datasets is not None else list(by_name))]
    wanted_split = 0 if split == "train" else 1
    groups: list[Group] = []
    feature_dim = int(catalogue["fingerprint_network"]["feature_dim"])
    for k, entry in enumerate(entries):
        path = Path(metadata_dir) / entry["file"]
        try:
            with np.load(path) as npz:
                features, split_of, variant_of = npz["features"], npz["split"], npz["variant"]
        except (OSError, KeyError, ValueError) as err:
            raise MetaDataError(f"{path}: cannot read fingerprints ({err})") from None
        if features.ndim != 2 or features.shape[1] != feature_dim:
            raise MetaDataError(f"{path}: features have shape {features.shape}, expected (n, {feature_dim})")
        for variant in np.unique(variant_of):
            if variants is not None and int(variant) not in variants:
                continue
            mask = (split_of == wanted_split) & (variant_of == variant)
            if mask.any():
                groups.append(Group(k, int(variant), features[mask].astype(np.float32)))
    return FingerprintSet([e["name"] for e in entries], groups, feature_dim, catalogue["fingerprint_network"])
