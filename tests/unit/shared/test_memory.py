"""The trimmer gives a burst's freed heap back to the system (Linux with glibc)."""

import subprocess
import sys
import textwrap

import pytest

from shared.memory import _malloc_trim

CHILD = textwrap.dedent(
    """
    import threading, time
    from shared.memory import run_trimmer

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    burst = [bytes(4000) for _ in range(50_000)]  # ~200 MB in malloc's heap, not pymalloc's
    keep = bytes(4000)  # allocated last: the freed pages are not all at the heap's top
    del burst
    freed = rss_mb()
    stop = threading.Event()
    threading.Thread(target=run_trimmer, args=(stop, 0.05), daemon=True).start()
    time.sleep(0.5)
    stop.set()
    print(round(freed), round(rss_mb()))
    """
)


@pytest.mark.skipif(_malloc_trim() is None, reason="no glibc malloc_trim on this system")
def test_the_heap_a_burst_freed_is_returned_to_the_system():
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True
    ).stdout
    before, after = map(int, out.split())
    assert before > 150  # the burst's pages stayed resident after it was freed
    assert after < before - 100
