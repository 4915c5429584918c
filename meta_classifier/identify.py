"""What the rest of the system calls: images of an unseen dataset -> probability over the known datasets.

    identifier = DatasetIdentifier.load()          # fingerprint network + shipped precalc classifier, checked
    probs = identifier.identify(images)            # {known dataset name: probability}, highest first
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from meta_classifier.classifiers import DEFAULT_ARTIFACTS, MetaClassifier, load_classifier, read_header
from meta_classifier.fingerprint import DEFAULT_BACKBONES, FingerprintNet



class DatasetIdentifier:
    def __init__(self, net: FingerprintNet, classifier: MetaClassifier) -> None:
        self.net = net
        self.classifier = classifier

    @classmethod
    def load(cls, artifacts: str | Path = DEFAULT_ARTIFACTS, kind: str = "precalc",
             backbones: Sequence[str] | None = None) -> DatasetIdentifier:
        """Build the fingerprint network the artefacts were trained with (backbone and input size read from the
        artefact, unless `backbones` overrides) and load the classifier. WeightsUnavailable when that backbone's
        weights are not on this machine; FingerprintMismatch when its weights file differs from the training one."""
        trained_with = read_header(artifacts, kind)["fingerprint_network"]
        names = list(backbones) if backbones else [trained_with.get("backbone", DEFAULT_BACKBONES[-1])]
        net = FingerprintNet(names, input_size=int(trained_with.get("input_size", 96)))
        return cls(net, load_classifier(artifacts, kind, expected_identity=net.identity))

    def identify(self, images: Sequence[np.ndarray]) -> dict[str, float]:
        """Images (H,W,C) or videos (T,H,W,C), uint8 or float in [0, 1], all from one dataset -> probabilities."""
        if len(images) == 0:
            raise ValueError("identify needs at least one image")
        probs = self.classifier.predict_proba(self.net(images))
        order = np.argsort(-probs)
        return {self.classifier.names[i]: float(probs[i]) for i in order}
