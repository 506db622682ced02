"""The fuzz suite's figures, printed after the run: requests per service, how many failed a
check, and the answers by status code."""

from tests.fuzz.fuzzing import EXAMPLES, FIGURES, STATUSES


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    write = terminalreporter.write_line
    write(f"fuzz figures ({EXAMPLES} examples per operation):")
    for name, figures in sorted(FIGURES.items()):
        answers = ", ".join(f"{s}: {n}" for s, n in sorted(STATUSES.get(name, {}).items()))
        write(f"  {name}: {figures['cases']} cases, {figures['failures']} failing; {answers}")
