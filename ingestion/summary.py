"""What one ingestion run did, as returned by run_ingestion and printed as the last line of the CLI."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class IngestionSummary:
    task_name: str
    output_dir: str
    time_budget: float
    success: bool = False
    stop_reason: str = ""             # why the loop ended, e.g. "done_training", "time budget exhausted"
    error: str | None = None          # the one-line error when success is False
    prediction_times: list[float] = field(default_factory=list)  # seconds after start, one per prediction
    train_durations: list[float] = field(default_factory=list)   # seconds per train call
    test_durations: list[float] = field(default_factory=list)    # seconds per test call
    init_duration: float = 0.0        # import + Model(...) (not charged to T)
    duration: float = 0.0             # end - start, as in end.txt

    @property
    def n_predictions(self) -> int:
        return len(self.prediction_times)

    @property
    def first_prediction_time(self) -> float | None:
        return self.prediction_times[0] if self.prediction_times else None

    def line(self) -> str:
        first = "none" if self.first_prediction_time is None else f"{self.first_prediction_time:.2f} s"
        return (f"summary: {self.n_predictions} prediction(s), first at {first}, duration {self.duration:.2f} s "
                f"(budget {self.time_budget:g} s, init {self.init_duration:.2f} s not charged), "
                f"success {int(self.success)}, stopped: {self.stop_reason}")
