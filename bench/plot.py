"""The curve's plot: each figure against the number of clients, ours and the reference."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display here, nor wanted

import matplotlib.pyplot as plt

SERVERS = {"ours": "o-", "reference": "s--"}


def plot_curve(
    points: dict[int, dict[str, dict[str, float | None]]],
    figures: tuple[tuple[str, str, str, bool], ...],
    path: Path,
) -> None:
    """One panel per figure (``(key, title, unit, higher is better)``), clients on a log
    scale; a server with no value at a size (it met no rate) has a gap there."""
    sizes = sorted(points)
    fig, axes = plt.subplots(1, len(figures), figsize=(5 * len(figures), 4), squeeze=False)
    for ax, (key, title, unit, _) in zip(axes[0], figures, strict=True):
        for server, style in SERVERS.items():
            values = [points[n].get(server, {}).get(key) for n in sizes]
            if any(v is not None for v in values):
                ys = [float("nan") if v is None else v for v in values]
                ax.plot(sizes, ys, style, label=server)
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.minorticks_off()
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("clients")
        ax.set_ylabel(unit)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
