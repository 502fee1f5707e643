"""`python -m bench [--quick]`: run every benchmark and print its figures.

`--orders-only` runs only the orders benchmark (bench/orders.py: its own `--seconds` and `--workers` options);
`--production-only` runs only the build-line benchmark (bench/production.py);
`--credit-endpoint-only` is the receivables benchmark's and runs nothing else."""

import importlib
import sys

from bench import BENCHMARKS

ORDERS = "bench.orders"
PRODUCTION = "bench.production"


def main(argv: list[str]) -> None:
    from bench import orders

    if "--orders-only" in argv:
        orders.main([a for a in argv if a != "--orders-only"])
        return
    if "--production-only" in argv:
        importlib.import_module(PRODUCTION).main([a for a in argv if a != "--production-only"])
        return
    if "--credit-endpoint-only" in argv:
        names = [n for n in BENCHMARKS if n not in (ORDERS, PRODUCTION)]
    else:
        names = [*BENCHMARKS, *(n for n in (ORDERS, PRODUCTION) if n not in BENCHMARKS)]
    # the orders benchmark's own options go to it only; --quick goes to every benchmark
    known, rest = orders.parser().parse_known_args(argv)
    quick = ["--quick"] if known.quick else []
    orders_argv = [*quick, *(["--seconds", str(known.seconds)] if known.seconds else [])]
    orders_argv += ["--workers", known.workers] if known.workers else []
    for name in names:
        if name == PRODUCTION:
            importlib.import_module(name).main(quick)  # no options of its own but --quick
        else:
            importlib.import_module(name).main(orders_argv if name == ORDERS else [*rest, *quick])


if __name__ == "__main__":
    main(sys.argv[1:])
