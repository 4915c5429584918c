"""The on-disk record of a BOHB search: what makes it resumable.

A search writes into one folder. Each start of the master adds a part, `part_NNN/`, where hpbandster's
`json_result_logger` appends every evaluation the moment it finishes (configs.json, results.json: one JSON object
per line), beside `part.json` (the search settings and the global index of the part's first iteration). Killing
the master or a worker therefore loses only the evaluations in flight. A re-run reads every part back, warm-starts
BOHB's model from all finished evaluations and runs only the iterations not yet complete (an iteration cut short
is run again as a whole, with new configurations; its finished evaluations still count).
"""
from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autodl_format.errors import BadInput
from hpo.transport import to_plain

PART_FILE = "part.json"


class SearchLogError(BadInput, ValueError):
    """A search folder cannot be resumed as asked (other settings, unreadable logs); one line naming the file."""


@dataclass(frozen=True)
class Settings:
    """What must stay the same across the parts of one search."""

    min_budget: float
    max_budget: float
    eta: int

    @property
    def rungs(self) -> int:
        """Successive-halving rungs of the largest bracket: budgets max, max/eta, ... down to about min."""
        return -int(math.log(self.min_budget / self.max_budget) / math.log(self.eta)) + 1  # hpbandster's rounding

    def bracket_runs(self, iteration: int) -> int:
        """Evaluations in global iteration `iteration` (Hyperband's schedule, as hpbandster's BOHB runs it)."""
        s = self.rungs - 1 - iteration % self.rungs
        first = (self.rungs // (s + 1)) * self.eta ** s
        return sum(max(int(first * self.eta ** -i), 1) for i in range(s + 1))


@dataclass
class Evaluation:
    """One finished evaluation: loss is inf when it crashed (then `error` says why)."""

    config: dict[str, Any]
    budget: float
    loss: float
    info: dict[str, Any] = field(default_factory=dict)
    part: int = 0
    iteration: int = 0       # global iteration index
    finished: float = 0.0    # seconds since the part's master started
    error: str = ""


def part_dirs(log_dir: Path) -> list[Path]:
    return sorted(path for path in Path(log_dir).glob("part_*") if (path / PART_FILE).is_file())


def _read_lines(path: Path) -> list[Any]:
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):  # the last line of a writer killed mid-write: that evaluation was in flight
                continue
            raise SearchLogError(f"{path}: line {number} is not JSON") from None
    return rows


def _part_info(part: Path) -> dict[str, Any]:
    return json.loads((part / PART_FILE).read_text())


def load_evaluations(log_dir: Path) -> list[Evaluation]:
    """Every finished evaluation of every part, in the order they finished."""
    evaluations = []
    for index, part in enumerate(part_dirs(log_dir)):
        first = _part_info(part)["first_iteration"]
        configs = {tuple(row[0]): row[1] for row in _read_lines(part / "configs.json")}
        for config_id, budget, stamps, result, exception in _read_lines(part / "results.json"):
            config_id = tuple(config_id)
            crashed = result is None or result.get("loss") is None
            evaluations.append(Evaluation(
                config=configs.get(config_id, {}), budget=float(budget),
                loss=math.inf if crashed else float(result["loss"]),
                info={} if crashed else dict(result.get("info") or {}), part=index,
                iteration=first + config_id[0], finished=float(stamps.get("finished", 0.0)),
                error=(exception or "").strip().splitlines()[-1] if crashed and exception else ""))
    return evaluations


def settings_of(log_dir: Path) -> Settings | None:
    parts = part_dirs(log_dir)
    if not parts:
        return None
    info = _part_info(parts[-1])
    return Settings(info["min_budget"], info["max_budget"], info["eta"])


def completed_iterations(log_dir: Path) -> int:
    """Global iterations finished: those before the last part, plus the last part's leading complete ones."""
    parts = part_dirs(log_dir)
    if not parts:
        return 0
    settings = settings_of(log_dir)
    last = len(parts) - 1
    first = _part_info(parts[last])["first_iteration"]
    counts: dict[int, int] = {}
    for evaluation in load_evaluations(log_dir):
        if evaluation.part == last:
            counts[evaluation.iteration] = counts.get(evaluation.iteration, 0) + 1
    done = first
    while counts.get(done, 0) >= settings.bracket_runs(done):
        done += 1
    return done


def planned_iterations(log_dir: Path) -> int:
    """The iteration count the latest start of the master was asked to reach (0 before any)."""
    parts = part_dirs(log_dir)
    return _part_info(parts[-1]).get("n_iterations", 0) if parts else 0


def new_part(log_dir: Path, settings: Settings, first_iteration: int, n_iterations: int) -> Path:
    """The folder of the next start of the master; refuses settings other than the earlier parts'."""
    earlier = settings_of(log_dir)
    if earlier is not None and earlier != settings:
        raise SearchLogError(f"{log_dir}: logged with budgets {earlier.min_budget:g}-{earlier.max_budget:g} and "
                             f"eta {earlier.eta}; resume with those or use another folder")
    part = Path(log_dir) / f"part_{len(part_dirs(log_dir)):03d}"
    part.mkdir(parents=True)
    (part / PART_FILE).write_text(json.dumps({"min_budget": settings.min_budget, "max_budget": settings.max_budget,
                                              "eta": settings.eta, "first_iteration": first_iteration,
                                              "n_iterations": n_iterations}) + "\n")
    return part


def result_logger(part: Path):
    """hpbandster's json result logger for one part, writing configs as plain Python (ConfigSpace gives numpy)."""
    import hpbandster.core.result as hpres

    class PlainJsonLogger(hpres.json_result_logger):
        def new_config(self, config_id, config, config_info) -> None:
            super().new_config(config_id, to_plain(config), to_plain(config_info))

    return PlainJsonLogger(str(part), overwrite=False)


def warm_start_result(log_dir: Path, space=None):
    """All finished evaluations with a loss, as one hpbandster Result for BOHB's `previous_result`; None if none.

    Config ids are made unique across parts (each part's master counts its iterations from 0). With `space`, a
    logged config that lacks an unconditional hyperparameter of it (a knob that joined the space after the config
    ran, at its default then) gets that default: BOHB refuses configs with an active hyperparameter unset."""
    import hpbandster.core.result as hpres

    good = [e for e in load_evaluations(log_dir) if math.isfinite(e.loss)]
    if space is not None:
        defaults = to_plain({name: space[name].default_value for name in space.unconditional_hyperparameters})
        for evaluation in good:  # loaded here, changed only here
            evaluation.config = {**defaults, **evaluation.config}
    if not good:
        return None
    ids: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as merged:
        with open(Path(merged) / "configs.json", "w") as configs, open(Path(merged) / "results.json", "w") as results:
            for evaluation in good:
                key = json.dumps(evaluation.config, sort_keys=True)
                if key not in ids:
                    ids[key] = [evaluation.iteration, 0, len(ids)]
                    configs.write(json.dumps([ids[key], evaluation.config, {}]) + "\n")
                stamps = {"submitted": evaluation.finished, "started": evaluation.finished,
                          "finished": evaluation.finished}
                results.write(json.dumps([ids[key], evaluation.budget, stamps,
                                          {"loss": evaluation.loss, "info": evaluation.info}, None]) + "\n")
        return hpres.logged_results_to_HBS_result(merged)
