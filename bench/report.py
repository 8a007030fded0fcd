"""What a trioxide-bench run found: figures for people (a table), for machines (JSON) and for
reading later (an HTML page with latency histograms and throughput over time as PNGs)."""

from __future__ import annotations

import base64
import html
import io
import json
import sys
from typing import Any

Report = dict[str, Any]  # {scenario, parameters, figures, generator, server, series, warnings}


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank `fraction` percentile of samples already sorted."""
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of `samples`; zeros for none."""
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0, "count": 0}
    ordered = sorted(samples)
    return {
        "p50": round(percentile(ordered, 0.50), 3),
        "p95": round(percentile(ordered, 0.95), 3),
        "p99": round(percentile(ordered, 0.99), 3),
        "max": round(ordered[-1], 3),
        "count": len(ordered),
    }


def per_interval(times: list[float], start: float, interval_s: float = 0.25) -> list[list[float]]:
    """Events per second in each `interval_s` after `start`: [[seconds since start, rate]]."""
    if not times:
        return []
    buckets: dict[int, int] = {}
    for at in times:
        index = int((at - start) / interval_s)
        buckets[index] = buckets.get(index, 0) + 1
    return [[round(i * interval_s, 3), n / interval_s] for i, n in sorted(buckets.items())]


def table(report: Report) -> str:
    """The figures as an aligned two-column table."""
    rows: list[tuple[str, str]] = []

    def add(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                add(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            rows.append((prefix, f"{value:,.3f}" if isinstance(value, float) else str(value)))

    add("", report["figures"])
    add("server", report.get("server", {}))
    add("generator", report.get("generator", {}))
    width = max((len(name) for name, _ in rows), default=0)
    lines = [f"== {report['scenario']} =="]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    lines += [f"  warning: {warning}" for warning in report.get("warnings", [])]
    return "\n".join(lines)


def write_json(reports: list[Report], path: str) -> None:
    with open(path, "w") as file:
        json.dump({"runs": reports}, file, indent=2)
        file.write("\n")


def _png(name: str, samples: list[float] | list[list[float]]) -> str:
    """A histogram of latency samples (`*_ms`), else a rate over time; a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.2), dpi=100)
    label = name.replace("_", " ")
    if name.endswith("_ms"):
        axes.hist(samples, bins=60, color="#4a7ebb")
        axes.set_xlabel(label)
        axes.set_ylabel("count")
        axes.set_yscale("log")
    else:
        axes.plot([s[0] for s in samples], [s[1] for s in samples], color="#bb4a4a")  # type: ignore[index]
        axes.set_xlabel("seconds")
        axes.set_ylabel(label)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def write_html(reports: list[Report], path: str) -> None:
    sections = []
    for report in reports:
        images = [
            (
                name.replace("_", " ") + (" histogram" if name.endswith("_ms") else " over time"),
                _png(name, samples),
            )
            for name, samples in report.get("series", {}).items()
            if samples
        ]
        figures = html.escape(table(report))
        pictures = "".join(
            f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(title)}</figcaption></figure>"
            for title, data in images
        )
        sections.append(
            f"<section><h2>{html.escape(report['scenario'])}</h2>"
            f"<pre>{figures}</pre>{pictures}</section>"
        )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>trioxide-bench</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}"
        "</style></head><body><h1>trioxide-bench</h1>" + "".join(sections) + "</body></html>"
    )
    with open(path, "w") as file:
        file.write(page)


class Progress:
    """One line on stderr, rewritten in place while a phase runs."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._live = sys.stderr.isatty()

    def show(self, done: float, total: float, detail: str = "") -> None:
        if not self._live:
            return
        width = 30
        filled = int(width * min(done / total, 1.0)) if total else width
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r{self._label:<16} [{bar}] {detail:<40}")
        sys.stderr.flush()

    def done(self) -> None:
        if self._live:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()
