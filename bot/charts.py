"""Chart images for reports (matplotlib, Agg backend): bars, lines over time, a funnel."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter


def _compact(value: float, _pos: object = None) -> str:
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


def render_chart(
    *,
    kind: str,
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    x_label: str,
    y_label: str,
) -> bytes:
    """Return a PNG: `kind` is "bar", "line" or "funnel"; one bar/line per series."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        if kind == "funnel":
            values = next(iter(series.values()), [])
            positions = list(range(len(labels)))[::-1]
            ax.barh(positions, values, color="#2a7ab9")
            ax.set_yticks(positions, labels)
            for pos, value in zip(positions, values, strict=False):
                ax.text(value, pos, f" {_compact(value)}", va="center")
            ax.xaxis.set_major_formatter(FuncFormatter(_compact))
        elif kind == "line":
            for name, values in series.items():
                ax.plot(list(labels), list(values), marker="o", label=name)
            ax.yaxis.set_major_formatter(FuncFormatter(_compact))
            plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
        else:
            width = 0.8 / max(1, len(series))
            for i, (name, values) in enumerate(series.items()):
                xs = [x + i * width for x in range(len(labels))]
                ax.bar(xs, list(values), width=width, label=name)
            ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))],
                          [label[:18] for label in labels])
            ax.yaxis.set_major_formatter(FuncFormatter(_compact))
            plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
        ax.set_title(title)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        if len(series) > 1:
            ax.legend()
        ax.grid(axis="y" if kind != "funnel" else "x", alpha=0.3)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)
