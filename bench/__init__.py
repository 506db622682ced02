"""`make bench`: throughput and latency figures for Loudong; see bench/run.py."""
