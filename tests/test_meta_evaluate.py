"""The evaluation CLI on the shipped artefacts (small batch sizes only, to stay quick), resuming it, and
leave-one-out."""
import json
import time

import matplotlib.image
import torch

from meta_classifier.offline.evaluate import leave_one_out, main
from meta_classifier.known import load_fingerprints


def test_evaluate_cli_writes_table_json_and_plot(tmp_path, capsys):
    code = main(["--no-loo", "--max-batch", "8", "--scale", "0.1", "--json", str(tmp_path / "e.json"),
                 "--plot", str(tmp_path / "e.png")])
    assert code == 0
    results = json.loads((tmp_path / "e.json").read_text())
    for kind in ("precalc", "mlp_vote", "kmeans_vote"):
        assert list(results[kind]) == ["1", "2", "4", "8"]
        assert all(0.0 <= a <= 1.0 for a in results[kind].values())
    assert results["mlp_vote"]["8"] > 0.8  # 26 known datasets: chance is 1/26
    assert matplotlib.image.imread(tmp_path / "e.png").shape[2] in (3, 4)
    assert "kmeans_vote" in capsys.readouterr().out


def test_evaluate_resume_keeps_results_of_the_same_settings_only(tmp_path, capsys):
    path = tmp_path / "e.json"
    quick = ["--no-loo", "--max-batch", "2", "--scale", "0.1", "--json", str(path)]
    assert main(quick) == 0
    marked = json.loads(path.read_text())
    marked["precalc"]["1"] = 0.123  # a value no run computes: kept only if the earlier results are reused
    path.write_text(json.dumps(marked))
    assert main([*quick, "--resume"]) == 0
    assert json.loads(path.read_text())["precalc"]["1"] == 0.123
    assert "kept from" in capsys.readouterr().out
    assert main([*quick, "--resume", "--seed", "7"]) == 0  # other settings: computed again
    assert json.loads(path.read_text())["precalc"]["1"] != 0.123
    assert "other artefacts or settings" in capsys.readouterr().out


NAMES = ["mnist_test", "usps_test", "orl_faces", "yale_faces"]
CONFIG = {"batch_size": 16, "neurons": 32, "lr": 3e-3, "dropout": 0.1, "steps": 60}


def _four_datasets():
    torch.set_num_threads(1)
    return (load_fingerprints(split="train", datasets=NAMES),
            load_fingerprints(split="test", variants=(0,), datasets=NAMES))


def test_leave_one_out_rows_do_not_depend_on_the_others():
    """What makes a resumed table equal an uninterrupted one: a row is the same whichever rows were skipped."""
    train, test = _four_datasets()
    seen = []
    rows = leave_one_out(train, test, CONFIG, batch=16, n_batches=5, steps=None, seed=0,
                         skip=frozenset(NAMES[:2]), on_row=seen.append)
    assert [r["removed"] for r in rows] == NAMES[2:] and seen == rows
    alone = leave_one_out(train, test, CONFIG, batch=16, n_batches=5, steps=None, seed=0,
                          skip=frozenset(NAMES[:3]))
    timeless = [{key: value for key, value in row.items() if key != "seconds"} for row in (rows[1], alone[0])]
    assert timeless[0] == timeless[1]  # yale_faces' row, after three skipped rows or after two and one made
    assert leave_one_out(train, test, CONFIG, batch=16, n_batches=5, steps=None, seed=0,
                         deadline=time.perf_counter()) == []  # past the deadline: no fit starts


def test_leave_one_out_picks_another_known_dataset():
    train, test = _four_datasets()
    rows = leave_one_out(train, test, CONFIG, batch=16, n_batches=5, steps=None, seed=0)
    assert [r["removed"] for r in rows] == NAMES
    for row in rows:
        assert row["chosen"] in NAMES and row["chosen"] != row["removed"]
        assert 0 < row["share"] <= 1 and 0 < row["mean_confidence"] <= 1
    # a digit set stands in for the other digit set, a face set for the other face set
    chosen = {r["removed"]: r["chosen"] for r in rows}
    assert chosen["mnist_test"] == "usps_test" and chosen["orl_faces"] == "yale_faces"
