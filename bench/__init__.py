"""Benchmarks on PostgreSQL with large generated data sets (`python -m bench`, see bench/README.md).

Each benchmark is a module with `main(argv)`; `python -m bench` runs them all in order."""

BENCHMARKS = (
    "bench.receivables",
    "bench.orders",
    "bench.production",
    "bench.statements",
    "bench.channel",
    "bench.backorders",
    "bench.overview",
    "bench.mixed",
    "bench.banking",
)
