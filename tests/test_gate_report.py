"""scripts.gate_report on a committed real run, and on the gate's own log format."""
import pytest

from autodl_format.offline.paths import REPO_ROOT
from learner.best import Verdict
from scripts.gate_report import GATE_NUMBERS, GateReportError, collect, main, replacements

RUN = REPO_ROOT / "docs" / "benchmark_recipe_T120" / "shared_recipe" / "runs" / "cifar10_jpg_2k"


def test_a_real_runs_replacements_are_scored_against_the_standing_prediction():
    found = collect([RUN])
    # scores.txt: pixels 0.4038, features 0.7802, then network 0.8460, 0.8627, 0.8686 (its last repeated).
    # It switched configs after its second prediction; the chosen config's heads did not beat the standing one.
    assert [r.kind for r in found] == ["pixels -> features", "after switch: features -> network",
                                       "after switch: network -> network", "after switch: network -> network"]
    assert found[0].test_gain == pytest.approx(0.7802103879 - 0.4038132807)
    assert found[1].test_gain == pytest.approx(0.8460223537 - 0.7802103879)
    assert all(r.se_ratio is None for r in found)  # logged before the gate had a margin


def test_the_gate_numbers_the_learner_logs_are_read_back(capsys):
    note = Verdict(True, gain=0.03, se=0.012, margin=0.012).note()
    assert GATE_NUMBERS.search(note)
    lines = ["[learner] features head: ridge on 90 examples at 1.0s elapsed | validation NAUC 0.8000",
             "[learner] prediction 1 (features) at 1.2s elapsed (test pass 0.1s)",
             "ingestion: prediction 0: t=1.20 s",
             f"[learner] validation NAUC 0.8300 loss 0.5 at 5.0s elapsed: improved ({note}; flip-averaging helps)",
             "[learner] prediction 2 (network) at 5.5s elapsed (test pass 0.4s)",
             "ingestion: prediction 1: t=5.50 s",
             "ingestion: prediction 2: t=9.00 s"]  # a repeat: no replacement
    (found,) = replacements(lines, [0.7, 0.68, 0.68])
    assert found.kind == "features -> network" and found.test_gain == pytest.approx(-0.02)
    assert found.se_ratio == pytest.approx(2.5)


def test_a_folder_without_runs_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "no replacement in any run" in capsys.readouterr().err
    with pytest.raises(GateReportError, match="no such file"):
        collect([tmp_path / "missing"])
