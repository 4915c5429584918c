"""The shipped default meta-classifier: loads, checks the fingerprint network, and identifies a known dataset
end to end from real images."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from meta_classifier.classifiers import check_identity, load_classifier
from meta_classifier.errors import FingerprintMismatch
from meta_classifier.fingerprint import FingerprintNet
from meta_classifier.identify import DatasetIdentifier
from meta_classifier.known import load_catalogue

ARTIFACTS = Path(__file__).resolve().parent.parent / "meta_classifier" / "artifacts"


@pytest.fixture(scope="module")
def net():
    torch.set_num_threads(1)
    return FingerprintNet()


def test_shipped_artifacts_match_the_running_fingerprint_network(net):
    for kind in ("precalc", "mlp_vote", "kmeans_vote"):
        classifier = load_classifier(ARTIFACTS, kind, expected_identity=net.identity)
        assert classifier.names == [e["name"] for e in load_catalogue()["datasets"]]


def test_mismatched_network_fails_with_a_clear_message(net, tmp_path):
    other = {**net.identity, "weights_sha256": "0" * 64, "input_size": 128}
    with pytest.raises(FingerprintMismatch, match="weights_sha256.*input_size.*retrain"):
        load_classifier(ARTIFACTS, "precalc", expected_identity=other)
    header = json.loads((ARTIFACTS / "precalc.json").read_text())
    check_identity(header["fingerprint_network"], net.identity, "shipped")  # the real one passes


def test_identifies_known_datasets_from_raw_images(net, autodl_raw_root):
    """64 raw images (the last ones of each file or class-folder listing, one class for hurricane_damage_sat; the
    build sampled 600 at random, so a few may overlap) -> fingerprint -> shipped precalc classifier -> the right
    dataset."""
    from autodl_format.offline.sources import from_shared_raw

    identifier = DatasetIdentifier(net, load_classifier(ARTIFACTS, "precalc", expected_identity=net.identity))
    for name in ("notmnist_test", "extended_yaleb", "hurricane_damage_sat"):
        probs = identifier.identify(from_shared_raw(name, autodl_raw_root).images[-64:])
        assert len(probs) == identifier.classifier.n_datasets and np.isclose(sum(probs.values()), 1.0, atol=1e-5)
        assert next(iter(probs)) == name, probs  # highest first


def test_identifier_loads_with_the_artifacts_input_size():
    identifier = DatasetIdentifier.load(ARTIFACTS)
    assert identifier.net.input_size == identifier.classifier.identity["input_size"]


def test_identifies_the_video_set_from_its_meta_test_clips(autodl_raw_root):
    """The shipped catalogue holds the video set, fingerprinted from 8 frames a clip; its meta-test clips (never
    trained on; data/known/NAME, made again from the shared folder when absent) are identified as that set."""
    from autodl_format.reader import AutoDLDataset, find_data_dir
    from portfolio.offline.tuning_data import known_dataset_dir

    video = "gtsrb_track_clips_video"
    catalogue = load_catalogue()
    entry = {e["name"]: e for e in catalogue["datasets"]}[video]
    assert entry["source"] == f"raw:{video}" and entry["image_shape"]["max"] == [8, 32, 32, 3]
    known_dir = known_dataset_dir(video, catalogue, raw_root=autodl_raw_root)
    clips = [example for example, _ in AutoDLDataset(find_data_dir(known_dir) / "test").iter_numpy()]
    assert len(clips) == entry["samples"]["meta_test"] and clips[0].shape == (30, 32, 32, 3)
    probs = DatasetIdentifier.load(ARTIFACTS).identify(clips)
    assert next(iter(probs)) == video, list(probs.items())[:3]
