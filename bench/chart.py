"""The bench's chart (PNG, matplotlib): throughput and latency against offered load, and
escalation's firing lag against open clocks, from the series in Figures. Drawn again from a
run's JSON: `.venv/bin/python -m bench.chart bench/results/latest.json out.png`."""

from __future__ import annotations

import sys
from pathlib import Path

from matplotlib.figure import Figure  # no pyplot: no backend, no window, nothing global

from bench.report import Figures

SATURATION_LINES = (  # (figure name, label, style)
    ("intake accepted submissions/s", "whole system, saturated", "-"),
    (
        "whole pipeline issues carried to their SMS/s at saturation",
        "carried to their SMS, saturated",
        "-.",
    ),
    ("intake alone submissions/s", "intake alone, saturated", "--"),
    ("durable Flask+marshmallow+PostgreSQL endpoint requests/s", "durable ceiling", ":"),
)


def render(figures: Figures, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(20, 4.6), layout="tight")
    throughput, latency, replicas, lag = fig.subplots(1, 4)
    _throughput(throughput, figures)
    _latency(latency, figures.series.get("offered_load", []))
    _replicas(replicas, figures.series.get("replicas", []))
    _lag(lag, figures.series.get("firing_lag", []))
    fig.suptitle(f"Loudong `make bench`, {figures.started_at}, {figures.cpus} CPUs shared by all")
    fig.savefig(path, dpi=110)


def _throughput(ax, figures: Figures) -> None:
    runs = figures.series.get("offered_load", [])
    offered = [r["offered"] for r in runs]
    ax.plot(offered, offered, ":", color="lightgrey", label="offered")
    ax.plot(offered, [r["accepted_per_s"] for r in runs], "o-", label="accepted")
    ax.plot(offered, [r["delivered_per_s"] for r in runs], "s-", label="carried to their SMS")
    for name, label, style in SATURATION_LINES:
        value = figures.value(name)
        if value:
            ax.axhline(value, linestyle=style, color="grey", linewidth=1)
            ax.annotate(
                f"{label}: {value:.0f}/s",
                (0, value),
                xycoords=("axes fraction", "data"),
                xytext=(4, 2),
                textcoords="offset points",
                fontsize=8,
                color="dimgrey",
            )
    ax.set(
        title="throughput against offered load",
        xlabel="offered issues/s",
        ylabel="issues/s",
        xlim=(0, max(offered, default=200) * 1.1),
        ylim=(0, None),
    )
    ax.legend(loc="upper right", bbox_to_anchor=(1, 0.9), fontsize=8)


def _latency(ax, runs: list[dict]) -> None:
    offered = [r["offered"] for r in runs]
    for key, style in (("p50_ms", "o-"), ("p99_ms", "s-")):
        ax.plot(offered, [r[key] for r in runs], style, label=key.replace("_ms", ""))
    ax.set(
        title="submission → SMS latency against offered load",
        xlabel="offered issues/s",
        ylabel="ms",
        xlim=(0, max(offered, default=200) * 1.1),
        ylim=(0, None),
    )
    ax.legend(fontsize=8)


def _replicas(ax, runs: list[dict]) -> None:
    batched = [r for r in runs if not r["one_by_one"]]
    count = [r["replicas"] for r in batched]
    ax.plot(count, [r["accepted_per_s"] for r in batched], "o-", label="accepted")
    ax.plot(count, [r["carried_per_s"] for r in batched], "s-", label="carried to their SMS")
    for run in runs:
        if run["one_by_one"]:
            ax.plot([run["replicas"]], [run["carried_per_s"]], "x", color="black", markersize=8)
            ax.annotate(
                "carried, events one by one",
                (run["replicas"], run["carried_per_s"]),
                xytext=(6, -4),
                textcoords="offset points",
                fontsize=8,
            )
    ax.set(
        title="saturated, against replicas of every service",
        xlabel="replicas of each service (same 2 CPUs)",
        ylabel="issues/s",
        xticks=count or [1, 2, 3],
        ylim=(0, None),
    )
    ax.legend(fontsize=8)


def _lag(ax, runs: list[dict]) -> None:
    clocks = [r["open_clocks"] for r in runs]
    for key, style in (("p50_ms", "o-"), ("p99_ms", "s-")):
        ax.plot(clocks, [r[key] for r in runs], style, label=key.replace("_ms", ""))
    ax.set_xscale("log")
    ax.set(
        title="escalation firing lag against open clocks",
        xlabel="open clocks",
        ylabel="ms after the deadline",
        ylim=(0, None),
    )
    ax.legend(fontsize=8)


if __name__ == "__main__":
    render(Figures.load(Path(sys.argv[1])), Path(sys.argv[2]))
