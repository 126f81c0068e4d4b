"""Benchmarks run by `make bench`: throughput, delivery latency, resume and menu latency."""
