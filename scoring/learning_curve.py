"""Draw the AutoDL learning-curve figure (``learning-curve-NAME.png``) with matplotlib's Agg backend, where
matplotlib is installed (a GPU box with only the run-time packages has none: scores.txt still holds the curve).

Layout as the official scorer's figure (protocol 4.5): 7 x 7.07 in, x = transformed time in [0, 1] with a top axis
in seconds, y = "score (2 * AUC - 1)" from -0.01 to 1, post-step curve over a cyan area, dashed hold from the last
prediction to t~ = 1, legend "ALC=...". Late predictions are drawn at t = T, matching the clipped ALC.
"""

import os
from collections.abc import Sequence

import numpy as np

from autodl_format.files import atomic_path
from autodl_format.metrics import transform_time


def seconds_ticks(time_budget: float) -> list[int]:
    """Top-axis ticks: 10, 60, 300, 600, 1200 s, then every 1800 s, all within [0, T]."""
    ticks = [10, 60, 300, 600, 1200] + list(range(1800, int(time_budget) + 1, 1800))
    return [t for t in ticks if t <= time_budget]


def plot_learning_curve(
    timestamps: Sequence[float],
    scores: Sequence[float],
    time_budget: float,
    alc: float,
    path: str | os.PathLike,
    task_name: str,
    t0: float = 60.0,
) -> bool:
    """Save the learning curve of one task as a PNG at ``path`` (written to a temporary name, then renamed).
    Returns False, drawing nothing, when matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    # A bare Figure (no pyplot) keeps no global state between the redraws of a long scoring run.
    figure = Figure(figsize=(7, 7.07))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(111)

    times = np.clip(np.asarray(timestamps, dtype=np.float64), 0.0, time_budget)
    x = np.concatenate(([0.0], transform_time(times, time_budget, t0)))
    y = np.concatenate(([0.0], np.asarray(scores, dtype=np.float64)))
    # Area: the step curve held at its last value up to t~ = 1, exactly the area the ALC measures.
    axes.fill_between(np.append(x, 1.0), np.append(y, y[-1]), step="post", color="cyan")
    axes.plot(x, y, drawstyle="steps-post", marker="o", markersize=3, color="tab:blue", label=f"ALC={alc:.4f}")
    axes.plot([x[-1], 1.0], [y[-1], y[-1]], linestyle="--", linewidth=1, color="tab:blue")
    if len(scores):
        axes.text(0.99, min(y[-1], 0.95) + 0.01, f"{y[-1]:.4f}", ha="right")  # kept inside the axes

    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(-0.01, 1.0)
    axes.set_xlabel(
        r"transformed time $\tilde{t} = \log(1 + t/t_0) / \log(1 + T/t_0)$"
        f"  ($T$ = {time_budget:g} s, $t_0$ = {t0:g} s)"
    )
    axes.set_ylabel("score (2 * AUC - 1)")
    axes.grid(True, zorder=5)
    axes.legend(loc="upper left")

    seconds_axis = axes.twiny()
    seconds_axis.set_xlim(0.0, 1.0)
    ticks = seconds_ticks(time_budget)
    seconds_axis.set_xticks([float(transform_time(t, time_budget, t0)) for t in ticks])
    seconds_axis.set_xticklabels([str(t) for t in ticks])
    seconds_axis.set_xlabel("time (s)")
    axes.set_title(f"Learning curve for task: {task_name}", y=1.1)
    figure.tight_layout()

    with atomic_path(path) as temporary:  # a hidden name, so the HTML page never embeds half a file
        figure.savefig(temporary, format="png")
    return True
