"""Benchmarks: ``droplab train`` against each framework's tutorial and expert loops
(:mod:`droplab.bench.loops`), timed as whole processes in alternating rounds
(:mod:`~droplab.bench.suite`, :mod:`~droplab.bench.process`), summarised pair by pair
(:mod:`~droplab.bench.stats`) and written as tables (:mod:`~droplab.bench.report`); the
interleaved-epoch A/B (:mod:`~droplab.bench.ab`), the per-step profile
(:mod:`~droplab.bench.profile`) and the dropout-op micro-benchmark (:mod:`~droplab.bench.micro`)."""
