"""What `make bench` says: one stdout line per figure as it is measured, a progress line on
stderr while each stage runs, the table at the end, and the figures as JSON for the chart."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    name: str
    value: float | None  # None: not measured (n/a)
    unit: str = ""
    ratio: str | None = None  # e.g. "81% of the durable ceiling"


@dataclass
class Figures:
    """Every figure of one run, and the series the chart draws."""

    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    cpus: int | None = None
    figures: list[Figure] = field(default_factory=list)
    series: dict[str, list] = field(default_factory=dict)  # chart data, see bench/chart.py
    embedded: list[tuple[str, str, str | None]] = field(default_factory=list)  # bench/embedded
    stages: dict[str, float] = field(default_factory=dict)  # seconds each stage took

    def add(self, name: str, value: float | None, unit: str = "", ratio: str | None = None):
        self.figures.append(Figure(name, value, unit, ratio))
        shown = "n/a" if value is None else number(value) + (f" {unit}" if unit else "")
        after = f" ({ratio})" if ratio else ""
        print(f"{_fresh_line(sys.stdout)}bench: {name}: {shown}{after}", flush=True)

    def value(self, name: str) -> float | None:
        return next((f.value for f in self.figures if f.name == name), None)

    @classmethod
    def load(cls, path: Path) -> Figures:
        data = json.loads(path.read_text())
        data["figures"] = [Figure(**f) for f in data["figures"]]
        data["embedded"] = [tuple(row) for row in data.get("embedded", [])]
        return cls(**data)

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")


def note(text: str) -> None:
    print(f"{_fresh_line(sys.stderr)}bench: {text}", file=sys.stderr, flush=True)


def warn(text: str) -> None:
    print(f"{_fresh_line(sys.stdout)}bench: warning: {text}", flush=True)


def _fresh_line(stream) -> str:
    """Wipes the progress line first where both share a terminal (it is redrawn each second)."""
    return "\r\033[K" if stream.isatty() and sys.stderr.isatty() else ""


def number(value: float) -> str:
    """Whole numbers, but a tenth below 10: a lag of 0.4 ms is not 0, and a ratio of two
    small figures needs their tenths."""
    return f"{value:.1f}" if abs(value) < 10 else f"{value:.0f}"


def percent(part: float | None, whole: float | None) -> str:
    if not part or not whole:
        return "n/a"
    share = 100 * part / whole
    return f"{share:.1f}%" if share < 10 else f"{share:.0f}%"


class Progress:
    """`bench: [3/9] intake alone… 12 s` on stderr while a stage runs: rewritten in place
    each second on a terminal, one line at the start and one at the end elsewhere."""

    def __init__(self, total: int, figures: Figures):
        self.total, self.figures, self.done = total, figures, 0
        self._live = sys.stderr.isatty()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.done += 1
        label = f"bench: [{self.done}/{self.total}] {name}"
        started, stop = time.monotonic(), threading.Event()
        ticker = threading.Thread(target=self._tick, args=(label, started, stop), daemon=True)
        if self._live:
            ticker.start()
        else:
            print(f"{label}…", file=sys.stderr, flush=True)
        try:
            yield
        finally:
            stop.set()
            if self._live:
                ticker.join()
            took = time.monotonic() - started
            self.figures.stages[name] = round(took, 1)
            end = "\r\033[K" if self._live else ""
            print(f"{end}{label}: {took:.0f} s", file=sys.stderr, flush=True)

    @staticmethod
    def _tick(label: str, started: float, stop: threading.Event) -> None:
        while not stop.wait(1 if time.monotonic() - started > 0.5 else 0.5):
            elapsed = time.monotonic() - started
            print(f"\r\033[K{label}… {elapsed:.0f} s", end="", file=sys.stderr, flush=True)


def table(rows: list[tuple[str, str, str]]) -> str:
    """A Markdown table: figure, measured, the ceiling in the same run."""
    header = ("figure", "measured", "ceiling in the same run")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = [header, tuple("-" * w for w in widths), *rows]
    return "\n".join(
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    )
