"""Each meta-classifier fits on real cached fingerprints of a few known datasets and beats chance on meta-test
images it never saw; save/load round trips; the BOHB search runs for real on a tiny budget."""
import numpy as np
import pytest
import torch

from meta_classifier.classifiers import CLASSIFIERS, KMeansVote, MLPVote, PrecalcMLP, load_classifier, mean_nll
from meta_classifier.errors import ArtifactError
from meta_classifier.known import BatchSampler, load_fingerprints
from meta_classifier.precalc import ALL_MOMENTS
from meta_classifier.offline.tuning import config_space, to_classifier_config, tune

# Different looks but all grey and small: a fair, not trivial, 4-way problem.
DATASETS = ["mnist_test", "usps_test", "orl_faces", "coil20"]
SMALL = {
    "precalc": {"batch_size": 16, "neurons": 64, "lr": 3e-3, "dropout": 0.1, "steps": 80},
    "mlp_vote": {"batch_size": 32, "neurons": 64, "lr": 3e-3, "dropout": 0.1, "steps": 80},
    "kmeans_vote": {"clusters": 5, "inits": 2, "iterations": 50},
}


@pytest.fixture(scope="module")
def meta():
    torch.set_num_threads(1)
    train = load_fingerprints(split="train", datasets=DATASETS)
    test = load_fingerprints(split="test", variants=(0,), datasets=DATASETS)
    return train, test


@pytest.fixture(scope="module")
def fitted(meta):
    train, _ = meta
    return {kind: CLASSIFIERS[kind](SMALL[kind]).fit(train, seed=0) for kind in SMALL}


def test_cached_fingerprints_are_split_and_grouped(meta):
    train, test = meta
    assert train.names == DATASETS and train.feature_dim == test.feature_dim
    assert {g.variant for g in train.groups} == {0, 1, 2, 3}  # originals + three variants
    assert {g.variant for g in test.groups} == {0}
    for k in range(len(DATASETS)):  # no meta-test fingerprint appears in meta-train
        seen = {row.tobytes() for g in train.groups_of(k) if g.variant == 0 for row in g.features}
        assert not any(row.tobytes() in seen for g in test.groups_of(k) for row in g.features)


@pytest.mark.parametrize("kind", list(SMALL))
def test_classifier_beats_chance_on_unseen_images(kind, meta, fitted):
    _, test = meta
    _, accuracy = mean_nll(fitted[kind], test, (16,), n_per_dataset=15, seed=3)
    assert accuracy > 0.75, f"{kind}: accuracy {accuracy:.3f} at b=16 (chance 0.25)"
    probs = fitted[kind].predict_proba(test.groups[0].features[:16])
    assert probs.shape == (4,) and np.isclose(probs.sum(), 1.0, atol=1e-5) and (probs >= 0).all()


@pytest.mark.parametrize("kind", list(SMALL))
def test_save_load_round_trip(kind, meta, fitted, tmp_path):
    _, test = meta
    fitted[kind].save(tmp_path)
    loaded = load_classifier(tmp_path, kind, expected_identity=test.identity)
    batches = BatchSampler(test, seed=5).sample(6, 8)[0]
    assert np.allclose(loaded.predict_proba_many(batches), fitted[kind].predict_proba_many(batches), atol=1e-6)
    assert loaded.names == DATASETS


def test_precalc_handles_any_test_batch_size(fitted, meta):
    _, test = meta
    features = test.groups[0].features
    for b in (1, 2, 5, 200):
        rows = features[np.arange(b) % len(features)]
        probs = fitted["precalc"].predict_proba(rows)
        assert np.isfinite(probs).all() and np.isclose(probs.sum(), 1.0, atol=1e-5)


def test_precalc_batch_spread_trains(meta):
    train, test = meta
    clf = PrecalcMLP({**SMALL["precalc"], "batch_spread": 16, "moments": ["mean", "std", "kurt"]}).fit(train)
    assert clf.net.body[0].in_features == 3 * train.feature_dim
    _, accuracy = mean_nll(clf, test, (4, 16), n_per_dataset=10, seed=4)
    assert accuracy > 0.5


def test_load_reports_missing_and_damaged_files(tmp_path, fitted):
    with pytest.raises(ArtifactError, match="missing"):
        load_classifier(tmp_path, "precalc")
    fitted["mlp_vote"].save(tmp_path)
    (tmp_path / "mlp_vote.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ArtifactError, match="cannot load"):
        load_classifier(tmp_path, "mlp_vote")


def test_config_space_maps_to_classifier_configs():
    sampled = dict(config_space("precalc", seed=1).sample_configuration())
    config = to_classifier_config("precalc", sampled)
    assert config.moments and set(config.moments) <= set(ALL_MOMENTS)
    assert config.moments == tuple(m for m in ALL_MOMENTS if sampled[f"moments:{m}"]) or config.moments == ("mean",)
    PrecalcMLP(config)
    MLPVote(to_classifier_config("mlp_vote", dict(config_space("mlp_vote").sample_configuration())))
    KMeansVote(to_classifier_config("kmeans_vote", dict(config_space("kmeans_vote").sample_configuration())))


@pytest.mark.parametrize("kind, budgets", [("kmeans_vote", (10, 30)), ("precalc", (5, 15))])
def test_tiny_real_bohb_run(kind, budgets, meta):
    train, _ = meta
    fit_set, val_set = train.split_images(0.2, seed=0)
    result = tune(kind, fit_set, val_set, min_budget=budgets[0], max_budget=budgets[1], n_iterations=1,
                  eval_batch_sizes=(8,), val_batches_per_dataset=3)
    assert len(result.runs) >= 3 and all(np.isfinite(r.loss) for r in result.runs)
    assert {r.budget for r in result.runs} == set(map(float, budgets))
    classifier = CLASSIFIERS[kind](result.best_config)  # a valid config of plain Python values
    assert all(type(v) in (int, float, bool, str, list) for v in classifier.config_dict().values())
    if kind == "kmeans_vote":
        best_loss = min(r.loss for r in result.runs if r.budget == budgets[1])
        assert best_loss < np.log(4)  # better than a uniform guess over the 4 datasets
