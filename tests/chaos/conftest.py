"""The reliability suite's figures: each test records what it measured with `figures`
(a line per figure, in the order recorded) and the session prints them at the end, so that
`make test` (small sizes) and `make chaos` (full sizes) both show what was counted."""

from __future__ import annotations

import os

import pytest

FIGURES: list[str] = []


def size(name: str, small: int) -> int:
    """How many of something a chaos test uses: `small` under `make test`, the environment's
    LOUDONG_CHAOS_<NAME> under `make chaos`."""
    return int(os.environ.get(f"LOUDONG_CHAOS_{name.upper()}", small))


@pytest.fixture
def figures(request):
    """record(name, value): one printed line `chaos: <test id>: <name>: <value>`."""

    def record(name: str, value) -> None:
        FIGURES.append(f"{request.node.name}: {name}: {value}")

    return record


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.write_line("chaos figures:")
        for line in FIGURES:
            terminalreporter.write_line(f"  {line}")
