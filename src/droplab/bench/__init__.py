"""Benchmarks: each framework's idiomatic training loop (``idiomatic_<framework>.run``), the baseline
that droplab's learners are compared with."""
