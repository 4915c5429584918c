"""scripts.benchmark end to end (real ingestion and scoring subprocesses) with the two outside baselines."""
import csv

from scripts.benchmark import CHOICE_LINE, main, train_images_per_second
from tests.learner_datasets import digits_sets, write


def test_throughput_is_read_from_the_learner_log():
    log = ("[learner] trained 10 steps in 2.0s (100 images/s, lr 0.01, mean loss 1.0) at 3.0s elapsed\n"
           "other line\n"
           "[learner] trained 30 steps in 6.0s (300 images/s, lr 0.01, mean loss 0.5) at 9.0s elapsed\n")
    assert train_images_per_second(log) == (2 * 100 + 6 * 300) / 8
    assert train_images_per_second("no training here") is None


def test_the_chosen_config_is_read_from_the_choice_line():
    line = "[model] config choice: rule expected: config yale_faces, expected ALC 0.9779 | nearest known datasets"
    assert CHOICE_LINE.search(line).group(1) == "yale_faces"
    assert CHOICE_LINE.search("config choice: rule nearest: config orl_faces | nearest").group(1) == "orl_faces"


def test_benchmark_writes_tables_and_curves(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench_data")
    dataset = write(digits_sets(300, 100), root, "digitsbench")
    out = tmp_path_factory.mktemp("bench_out")
    assert main(["--datasets", str(dataset), "--variants", "linear_pixels", "--budget", "20", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["dataset"], r["variant"], r["predictions"]) for r in rows] == [("digitsbench", "linear_pixels", "1")]
    assert float(rows[0]["alc"]) > 0.5 and 0 < float(rows[0]["first_prediction_s"]) < 20
    assert "| digitsbench | linear_pixels |" in (out / "results.md").read_text()
    assert (out / "learning_curves.png").stat().st_size > 1000
    log = out / "runs" / "digitsbench" / "linear_pixels" / "ingestion.log"
    before = log.stat().st_mtime_ns
    config = tmp_path_factory.mktemp("configs") / "pixels_only.json"
    config.write_text('{"early_predictions": true}')
    # --resume keeps the finished run, --max-runs 0 starts no new one: the table holds the old row only
    assert main(["--datasets", str(dataset), "--variants", "linear_pixels", str(config), "--budget", "20",
                 "--out", str(out), "--resume", "--max-runs", "0"]) == 0
    assert log.stat().st_mtime_ns == before
    assert [r["variant"] for r in csv.DictReader(open(out / "results.csv"))] == ["linear_pixels"]


def test_frozen_features_baseline_learns_and_predicts_more_than_once(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench_data")
    dataset = write(digits_sets(300, 100), root, "digitsbench")
    out = tmp_path_factory.mktemp("bench_out")
    assert main(["--datasets", str(dataset), "--variants", "frozen_logreg", "--budget", "30", "--out", str(out),
                 "--threads", "1"]) == 0
    row = next(csv.DictReader(open(out / "results.csv")))
    assert row["variant"] == "frozen_logreg" and int(row["predictions"]) >= 2  # 32, then 64 more, ... examples
    assert float(row["last_nauc"]) > 0.8


def test_a_bad_variant_fails_before_any_run(tmp_path, capsys):
    dataset = tmp_path / "somewhere"
    dataset.mkdir()
    code = main(["--datasets", str(dataset), "--variants", "meta:no_such_rule", "--budget", "5",
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "no_such_rule" in capsys.readouterr().err


def test_a_bad_config_variant_fails_before_any_run(tmp_path, capsys):
    dataset = tmp_path / "somewhere"
    dataset.mkdir()
    code = main(["--datasets", str(dataset), "--variants", "linear_pixels", "no_such_config", "--budget", "5",
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "no_such_config" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_seed_for_a_variant_without_one_fails_before_any_run(tmp_path, capsys):
    dataset = tmp_path / "somewhere"
    dataset.mkdir()
    code = main(["--datasets", str(dataset), "--variants", "meta:expected", "generalist", "--seed", "1",
                 "--budget", "5", "--out", str(tmp_path / "out")])
    assert code == 2 and "only for meta:RULE variants" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_seeded_run_has_its_own_label_and_folder(tmp_path):
    from scripts.benchmark import label, run_dir

    assert label("meta:expected") == "meta_expected" and label("meta:expected", 1) == "meta_expected_seed1"
    assert run_dir(tmp_path, tmp_path / "coil20", "meta:expected", 1).name == "meta_expected_seed1"
