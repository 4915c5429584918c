"""The evaluation CLI on the shipped artefacts (small batch sizes only, to stay quick) and leave-one-out."""
import json

import matplotlib.image
import torch

from meta_classifier.evaluate import leave_one_out, main
from meta_classifier.known import load_fingerprints


def test_evaluate_cli_writes_table_json_and_plot(tmp_path, capsys):
    code = main(["--no-loo", "--max-batch", "8", "--scale", "0.1", "--json", str(tmp_path / "e.json"),
                 "--plot", str(tmp_path / "e.png")])
    assert code == 0
    results = json.loads((tmp_path / "e.json").read_text())
    for kind in ("precalc", "mlp_vote", "kmeans_vote"):
        assert list(results[kind]) == ["1", "2", "4", "8"]
        assert all(0.0 <= a <= 1.0 for a in results[kind].values())
    assert results["mlp_vote"]["8"] > 0.8  # 16 known datasets: chance is 1/16
    assert matplotlib.image.imread(tmp_path / "e.png").shape[2] in (3, 4)
    assert "kmeans_vote" in capsys.readouterr().out


def test_leave_one_out_picks_another_known_dataset():
    torch.set_num_threads(1)
    names = ["mnist_test", "usps_test", "orl_faces", "yale_faces"]
    train, test = load_fingerprints(split="train", datasets=names), load_fingerprints(
        split="test", variants=(0,), datasets=names)
    config = {"batch_size": 16, "neurons": 32, "lr": 3e-3, "dropout": 0.1, "steps": 60}
    rows = leave_one_out(train, test, config, batch=16, n_batches=5, steps=None, seed=0)
    assert [r["removed"] for r in rows] == names
    for row in rows:
        assert row["chosen"] in names and row["chosen"] != row["removed"]
        assert 0 < row["share"] <= 1 and 0 < row["mean_confidence"] <= 1
    # a digit set stands in for the other digit set, a face set for the other face set
    chosen = {r["removed"]: r["chosen"] for r in rows}
    assert chosen["mnist_test"] == "usps_test" and chosen["orl_faces"] == "yale_faces"
