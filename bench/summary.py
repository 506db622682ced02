"""The figures' names, and the table `make bench` ends with: each figure beside the ceiling
it is measured against in the same run (issue 15's table, with its rows)."""

from __future__ import annotations

from bench.report import Figures, number, percent, table

BARE = "bare Flask+marshmallow endpoint requests/s"
DURABLE = "durable Flask+marshmallow+PostgreSQL endpoint requests/s"
INTAKE_ALONE = "intake alone submissions/s"
INTAKE_WHOLE = "intake accepted submissions/s"
PIPELINE = "whole pipeline issues carried to their SMS/s at saturation"
RAW = "raw pika async-confirm publish msgs/s"
RELAY = "outbox relay msgs/s"
REPLICAS = (1, 2, 3)  # replicas of every service in the scaling runs
LATENCY_RATES = (20, 100, 200)  # issues offered per second
LAG_CLOCKS = (10_000, 100_000, 1_000_000)  # open clocks among which 300 fall due
CEILINGS = {BARE: "bare Flask+marshmallow", DURABLE: "durable endpoint", RAW: "raw pika"}


def table_rows(figures: Figures) -> list[tuple[str, str, str]]:
    rows = [
        _against(figures, INTAKE_WHOLE, "intake accepted submissions/s, whole system", BARE),
        _plain(figures, PIPELINE, "whole pipeline: issues carried to their SMS/s, saturated"),
        _against(figures, INTAKE_ALONE, "intake alone on PostgreSQL+RabbitMQ", DURABLE),
        _against(figures, DURABLE, "durable ceiling (issue + outbox row, one commit)", BARE),
        _against(figures, RELAY, "outbox relay msgs/s", RAW),
    ]
    for run in figures.series.get("offered_load", []):
        rows.append(
            (
                f"submission → SMS at {run['offered']}/s: p50 / p99; accepted, carried /s",
                f"{_ms(run['p50_ms'])} / {_ms(run['p99_ms'])}; "
                f"{run['accepted_per_s']:.0f}, {run['delivered_per_s']:.0f}",
                "—",
            )
        )
    for figure in figures.figures:  # the replica runs
        if figure.name.startswith(f"{PIPELINE}, "):
            rows.append(_plain(figures, figure.name, "  " + figure.name[len(PIPELINE) + 2 :]))
    for run in figures.series.get("firing_lag", []):
        rows.append(
            (
                f"escalation firing lag with {run['open_clocks']:,} open clocks, p50 / p99",
                f"{_ms(run['p50_ms'])} / {_ms(run['p99_ms'])}",
                "—",
            )
        )
    for figure in figures.figures:  # escalation's burst and restart, as measured
        if figure.name.startswith(("escalation burst", "escalation lag after")):
            shown = "n/a" if figure.value is None else f"{figure.value:,.0f} {figure.unit}"
            rows.append((figure.name, f"{shown} ({figure.ratio})" if figure.ratio else shown, "—"))
    for name, shown, ratio in figures.embedded:
        rows.append((name, f"{shown} ({ratio})" if ratio else shown, "—"))
    return rows


def _against(figures: Figures, name: str, label: str, ceiling: str) -> tuple[str, str, str]:
    measured, whole = figures.value(name), figures.value(ceiling)
    shown = "n/a" if measured is None else f"{measured:,.0f} ({percent(measured, whole)})"
    return label, shown, "n/a" if whole is None else f"{CEILINGS[ceiling]} {whole:,.0f}"


def _plain(figures: Figures, name: str, label: str) -> tuple[str, str, str]:
    """A figure with no ceiling beside it: its value and what it was measured on."""
    figure = next((f for f in figures.figures if f.name == name), None)
    if figure is None or figure.value is None:
        return label, "n/a", "—"
    return label, f"{figure.value:,.0f}", figure.ratio or "—"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{number(value)} ms"


def render(figures: Figures) -> str:
    return table(table_rows(figures))
