"""Benchmarks: `python -m bench NAME [options]`, one module per benchmark.

Every benchmark prints progress lines, then its result as one JSON object on the last line
of stdout. Every figure comes with a floor measured in the same run on the same database or
server, so a number means something on whatever machine produced it.
"""
