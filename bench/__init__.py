"""Benchmarks behind ``make bench``: each figure is measured beside its baseline in one run.

Targets are checked here, on figures printed and written to ``build/bench.json``, never by
timed tests (a loaded CI machine would make those flaky).
"""
