"""The classifier that is fine-tuned: a pretrained backbone, dropout, one linear layer.

Input: uint8 batches (B, F, R, R, C) as stored by learner.data; `images` turns them into normalised float images
on the device (grey -> 3 channels, the backbone's own normalisation), and `forward` runs every frame. Videos
(F > 1) are combined by the temporal model: "mean" averages the per-frame logits; "conv" adds a residual
temporal 1-D convolution block over the per-frame features before their mean, initialised to zero so that it
starts as the mean (which the ridge-initialised head expects) and learns what the order of frames adds.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from learner.backbones import Backbone

TEMPORAL_MODELS = ("mean", "conv")
TEMPORAL_HIDDEN = 128  # channels inside the temporal block: small next to the backbone's 1280 features
TEMPORAL_KERNEL = 3    # frames each temporal convolution sees


class TemporalConv(nn.Module):
    """Per-frame features (B, F, D) -> (B, F, D): x + pointwise(relu(conv_t(x))), conv_t over time, the last layer
    zero-initialised (an identity at first)."""

    def __init__(self, dim: int, hidden: int = TEMPORAL_HIDDEN, kernel: int = TEMPORAL_KERNEL) -> None:
        super().__init__()
        self.mix = nn.Conv1d(dim, hidden, kernel, padding=kernel // 2)
        self.out = nn.Conv1d(hidden, dim, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.transpose(1, 2)  # (B, D, F): Conv1d runs along the last axis
        return x + self.out(F.relu(self.mix(t))).transpose(1, 2)


class Classifier(nn.Module):
    def __init__(self, backbone: Backbone, num_classes: int, dropout: float, freeze_fraction: float,
                 adapt_batchnorm: bool = False, temporal_model: str = "mean") -> None:
        super().__init__()
        if temporal_model not in TEMPORAL_MODELS:
            raise ValueError(f"temporal_model must be one of {', '.join(TEMPORAL_MODELS)}, not {temporal_model!r}")
        self.backbone_name = backbone.name
        self.temporal = TemporalConv(backbone.feature_dim) if temporal_model == "conv" else None
        self.features = backbone.features
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.feature_dim, num_classes)
        self.normalize = backbone.normalize
        self.frozen_modules = _freeze_leading(self.features, freeze_fraction)
        if not adapt_batchnorm:
            # Keep every BatchNorm on its pretrained statistics: the features seen in training then equal those
            # of evaluation, so the ridge-initialised head stays valid and small batches cannot derail them.
            self.frozen_modules = [m for m in self.features.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def train(self, mode: bool = True) -> "Classifier":
        super().train(mode)
        for module in self.frozen_modules:  # these BatchNorm layers keep their pretrained statistics
            module.eval()
        return self

    def images(self, batch: torch.Tensor, side: int | None = None) -> torch.Tensor:
        """uint8 (B, F, R, R, C) -> float (B*F, 3, S, S) normalised, channels_last; S = side (downscaled on the
        device with antialiasing: progressive resizing keeps one stored copy at the top side), else R."""
        b, f, r, c = batch.shape[0], batch.shape[1], batch.shape[2], batch.shape[-1]
        x = batch.reshape(b * f, r, batch.shape[3], c).permute(0, 3, 1, 2).float().div_(255.0)
        if side is not None and side != r:
            x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=side < r, align_corners=False)
        if c == 1:
            x = x.expand(-1, 3, -1, -1)
        elif c == 2:
            x = torch.cat([x, x.mean(dim=1, keepdim=True)], dim=1)
        elif c > 3:
            x = x[:, :3]
        return self.normalize(x).contiguous(memory_format=torch.channels_last)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features of normalised images (B, 3, R, R)."""
        return self.features(images)

    def forward(self, images: torch.Tensor, frames: int = 1) -> torch.Tensor:
        """Logits (B, K) of normalised images (B*frames, 3, R, R), combined over frames by the temporal model."""
        features = self.embed(images)
        if frames > 1 and self.temporal is not None:
            per_frame = features.view(-1, frames, features.shape[-1])
            return self.head(self.dropout(self.temporal(per_frame).mean(dim=1)))
        logits = self.head(self.dropout(features))
        if frames > 1:
            logits = logits.view(-1, frames, logits.shape[-1]).mean(dim=1)
        return logits


def _freeze_leading(features: nn.Module, fraction: float) -> list[nn.Module]:
    """Freeze the first `fraction` of the parameter tensors (input side first); return modules fully frozen."""
    params = list(features.parameters())
    frozen = set(id(p) for p in params[: int(round(fraction * len(params)))])
    for p in params:
        p.requires_grad_(id(p) not in frozen)
    fully_frozen = []
    for module in features.modules():
        own = list(module.parameters(recurse=False))
        if own and all(id(p) in frozen for p in own) and isinstance(module, nn.modules.batchnorm._BatchNorm):
            fully_frozen.append(module)
    return fully_frozen


def augment(images: torch.Tensor, level: int) -> torch.Tensor:
    """Batch augmentation on the device. 1: random horizontal flips and shifts up to 1/8 of the side;
    2: also random zoom-in crops (scale 0.6-1) and brightness/contrast jitter. Images are already normalised."""
    if level <= 0:
        return images
    n, _, h, w = images.shape
    flip = torch.rand(n, device=images.device) < 0.5
    images = torch.where(flip.view(n, 1, 1, 1), images.flip(3), images)
    # One affine grid for shift (and zoom): cheap, and keeps the output size.
    scale = torch.ones(n, device=images.device)
    if level >= 2:
        scale = torch.empty(n, device=images.device).uniform_(0.6, 1.0)
    shift = (torch.rand(n, 2, device=images.device) * 2 - 1) * 0.25
    theta = torch.zeros(n, 2, 3, device=images.device)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = torch.nn.functional.affine_grid(theta, (n, 3, h, w), align_corners=False)
    images = torch.nn.functional.grid_sample(images.float(), grid.to(images.dtype).float(), padding_mode="reflection",
                                             align_corners=False).to(images.dtype)
    if level >= 2:
        contrast = torch.empty(n, 1, 1, 1, device=images.device).uniform_(0.7, 1.3)
        brightness = torch.empty(n, 1, 1, 1, device=images.device).uniform_(-0.2, 0.2)
        images = images * contrast + brightness
    return images.contiguous(memory_format=torch.channels_last)
