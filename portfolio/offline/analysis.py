"""What the performance matrix says: headline numbers, greedy portfolio reduction, and a heat map with the
datasets ordered by fingerprint similarity.

    python -m portfolio.offline.analysis                      # prints the tables, writes docs/portfolio/ (md + png)

Headlines, over the datasets of the matrix: the single best config's mean ALC, the average member's mean (the mean
over tuned configs of their mean), and the best member in hindsight's mean (per dataset the best tuned config).
Reduction: the best subset of m configs for m = 1..N, grown greedily by the mean over datasets of the best
member's ALC (the oracle choice within the subset). Cells are means over the seeds run (portfolio.offline.matrix --seed);
where a second seed was run, "seed to seed" says how far one run's ALC moves and how much the best member in
hindsight of one seed loses on the other (the share of the gap to it that is luck, not a better config).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from autodl_format.cli import command, print_error
from learner.config import DEFAULT_CONFIG
from portfolio.entries import MATRIX_FILE, Matrix, read_cells, read_matrix, seed_files
from autodl_format.offline.paths import REPO_ROOT

DOCS_DIR = REPO_ROOT / "docs" / "portfolio"


def as_array(matrix: Matrix) -> tuple[list[str], list[str], np.ndarray]:
    """(configs, datasets, ALC array) over the datasets every config has a cell for (complete columns only)."""
    configs = sorted(matrix)
    datasets = sorted(set.intersection(*(set(row) for row in matrix.values()))) if matrix else []
    return configs, datasets, np.array([[matrix[c][d] for d in datasets] for c in configs])


def headlines(configs: list[str], alc: np.ndarray) -> dict[str, float]:
    members = np.array([c != DEFAULT_CONFIG for c in configs])
    tuned = alc[members]
    return {"single best config (mean)": float(alc.mean(axis=1).max()),
            "single best config": configs[int(alc.mean(axis=1).argmax())],
            "average member (mean)": float(tuned.mean()) if len(tuned) else float("nan"),
            "best member in hindsight (mean)": float(tuned.max(axis=0).mean()) if len(tuned) else float("nan"),
            "generalist (mean)": float(alc[configs.index(DEFAULT_CONFIG)].mean())
            if DEFAULT_CONFIG in configs else float("nan")}


def greedy_reduction(configs: list[str], alc: np.ndarray) -> list[tuple[str, float]]:
    """[(config added, mean over datasets of the best chosen config's ALC)] for m = 1..N."""
    chosen: list[int] = []
    steps = []
    for _ in range(len(configs)):
        candidates = [i for i in range(len(configs)) if i not in chosen]
        scores = [alc[chosen + [i]].max(axis=0).mean() for i in candidates]
        best = candidates[int(np.argmax(scores))]
        chosen.append(best)
        steps.append((configs[best], float(max(scores))))
    return steps


def similarity_order(datasets: list[str]) -> list[str]:
    """Datasets ordered so that similar ones sit together: optimal leaf order of an average-linkage clustering of
    their mean meta-train fingerprints (cosine distance). Datasets without fingerprints go last."""
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import pdist

    from meta_classifier.known import DEFAULT_METADATA_DIR

    means, named = [], []
    for name in datasets:
        path = Path(DEFAULT_METADATA_DIR) / "fingerprints" / f"{name}.npz"
        if path.is_file():
            data = np.load(path)
            keep = (data["split"] == 0) & (data["variant"] == 0)
            means.append(data["features"][keep].astype(np.float32).mean(axis=0))
            named.append(name)
    if len(named) < 3:
        return named + [d for d in datasets if d not in named]
    distances = pdist(np.array(means), metric="cosine")
    order = leaves_list(optimal_leaf_ordering(linkage(distances, "average"), distances))
    return [named[i] for i in order] + [d for d in datasets if d not in named]


def heat_map(matrix: Matrix, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs, datasets, _ = as_array(matrix)
    columns = similarity_order(datasets)
    rows = [c for c in columns if c in configs] + [c for c in configs if c not in columns]
    values = np.array([[matrix[c][d] for d in columns] for c in rows])
    figure, axes = plt.subplots(figsize=(1 + 0.45 * len(columns), 1 + 0.4 * len(rows)))
    image = axes.imshow(values, cmap="viridis", aspect="auto")
    axes.set_xticks(range(len(columns)), columns, rotation=70, ha="right", fontsize=8)
    axes.set_yticks(range(len(rows)), [f"config of {r}" if r != DEFAULT_CONFIG else r for r in rows], fontsize=8)
    for i, j in np.ndindex(values.shape):
        axes.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=6,
                  color="white" if values[i, j] < values.mean() else "black")
    axes.set_xlabel("dataset (ordered by fingerprint similarity)")
    figure.colorbar(image, ax=axes, label="ALC")
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)


def reduction_plot(steps: list[tuple[str, float]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot(range(1, len(steps) + 1), [score for _, score in steps], marker="o")
    axes.set_xlabel("portfolio size m (greedy)")
    axes.set_ylabel("mean ALC of the best member")
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)


def seed_to_seed(path: Path) -> str:
    """Seed 0 against seed 1 on the datasets whose column both seeds have in full: the run-to-run spread of one
    cell, how well the two rank the configs, and what seed 0's best member in hindsight scores on seed 1."""
    from scipy.stats import spearmanr

    files = seed_files(path)
    if len(files) < 2:
        return ""
    first, second = read_cells(files[0]), read_cells(files[1])
    configs = sorted(first)
    datasets = [d for d in as_array(first)[1] if all(d in second.get(c, {}) for c in configs)]
    if not datasets:
        return ""
    a = np.array([[first[c][d] for d in datasets] for c in configs])
    b = np.array([[second[c][d] for d in datasets] for c in configs])
    members = np.array([c != DEFAULT_CONFIG for c in configs])
    best_first = a[members].argmax(axis=0)
    on_second = b[members][best_first, np.arange(len(datasets))]
    lines = ["", f"Seed to seed ({files[0].name} against {files[1].name}, the {len(datasets)} datasets both have in "
             "full):", "", "| dataset | spread of one run (sd) | rank agreement of the configs (Spearman) | best "
             "member of seed 0 | its ALC on seed 0 | on seed 1 | best member on seed 1 |",
             "|---|---|---|---|---|---|---|"]
    for j, d in enumerate(datasets):
        lines.append(f"| {d} | {np.std(a[:, j] - b[:, j]) / np.sqrt(2):.4f} | {spearmanr(a[:, j], b[:, j])[0]:+.2f} "
                     f"| {np.array(configs)[members][best_first[j]]} | {a[members][best_first[j], j]:.4f} | "
                     f"{on_second[j]:.4f} | {b[members][:, j].max():.4f} |")
    gap_first = a[members].max(axis=0).mean() - a[members].mean()
    lines += ["", f"- one run's ALC moves by {np.sqrt(np.mean((a - b) ** 2) / 2):.4f} (root mean square over "
              f"{a.size} cells, per seed)",
              f"- seed 0's best member in hindsight: mean {a[members].max(axis=0).mean():.4f} on seed 0, "
              f"{on_second.mean():.4f} on seed 1; {(a[members].max(axis=0).mean() - on_second.mean()) / gap_first:.0%} "
              "of seed 0's gap between the average member and the best member in hindsight is luck of the seed"]
    return "\n".join(lines)


def report(matrix: Matrix) -> str:
    configs, datasets, alc = as_array(matrix)
    lines = [f"{len(configs)} configs x {len(datasets)} datasets with every cell run", "",
             "| headline | value |", "|---|---|"]
    lines += [f"| {key} | {value if isinstance(value, str) else f'{value:.4f}'} |"
              for key, value in headlines(configs, alc).items()]
    lines += ["", "| m | config added | mean ALC of the best member |", "|---|---|---|"]
    lines += [f"| {m} | {config} | {score:.4f} |" for m, (config, score) in enumerate(greedy_reduction(configs, alc),
                                                                                     1)]
    return "\n".join(lines)


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=MATRIX_FILE)
    parser.add_argument("--out", type=Path, default=DOCS_DIR)
    args = parser.parse_args(argv)
    matrix = read_matrix(args.matrix)
    configs, datasets, alc = as_array(matrix)
    if len(configs) < 1 or len(datasets) < 1:
        print_error(f"{args.matrix}: no complete column yet (python -m portfolio.offline.matrix status)")
        return 1
    text = report(matrix) + seed_to_seed(args.matrix)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "matrix_report.md").write_text(text + "\n")
    heat_map({c: {d: matrix[c][d] for d in datasets} for c in configs}, args.out / "performance_matrix.png")
    reduction_plot(greedy_reduction(configs, alc), args.out / "greedy_reduction.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
