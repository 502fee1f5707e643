"""`python -m bench [--quick]`: run every benchmark and print its figures.

`--orders-only` runs only the orders benchmark (bench/orders.py: its own `--seconds` and `--workers` options);
`--production-only` runs only the build-line benchmark (bench/production.py);
`--statements-only` runs only the monthly statement run benchmark (bench/statements.py);
`--channel-only` runs only the channel flow benchmark (bench/channel.py);
`--backorders-only` runs only the backorders benchmark (bench/backorders.py: a receipt for 1,000 waiting lines);
`--overview-only` runs only the dealer overview benchmark (bench/overview.py: the busiest dealer at 1M invoices);
`--mixed-only` runs only the mixed-load benchmark (bench/mixed.py: its own `--minutes`, `--users` and
`--hq-users` options; a full run ends with it: 10 minutes of load, 1.5 with `--quick`);
`--targets-only` runs only the achievement benchmark (bench/targets.py: §15 on the channel benchmark's data);
`--banking-only` runs only the bank statement import benchmark (bench/banking.py: 10,000 lines at 10k and 1M invoices);
`--receivables-only` runs only the receivables benchmark (bench/receivables.py: ageing, scoped ageing, the credit
figures, payment posting at 10k and 1M invoices; with `--quick` 10k and 100k);
`--credit-endpoint-only` is the receivables benchmark's and runs nothing else;
`--requests-only` measures what one request of each of the mixed run's routes costs (bench/per_request.py: CPU,
statements and Python calls in process; `--against REV` measures another commit alternately)."""

import importlib
import sys

from bench import BENCHMARKS

ORDERS = "bench.orders"
PRODUCTION = "bench.production"
STATEMENTS = "bench.statements"
CHANNEL = "bench.channel"
MIXED = "bench.mixed"
RECEIVABLES = "bench.receivables"
# no options of their own but --quick
ONLY = {"--production-only": PRODUCTION, "--statements-only": STATEMENTS, "--channel-only": CHANNEL,
        "--backorders-only": "bench.backorders",
        "--overview-only": "bench.overview",  # the dealer overview (一户一档), also --runs N
        "--targets-only": "bench.targets",  # achievement by dealer on the channel data (reused), also --rounds N
        "--banking-only": "bench.banking",  # a bank statement of 10,000 lines, also --no-build, --lines N
        "--requests-only": "bench.per_request"}  # per route: CPU, statements, calls; --against REV  # fmt: skip


def main(argv: list[str]) -> None:
    from bench import orders

    if "--orders-only" in argv:
        orders.main([a for a in argv if a != "--orders-only"])
        return
    if "--mixed-only" in argv:
        importlib.import_module("bench.mixed").main([a for a in argv if a != "--mixed-only"])
        return
    if "--receivables-only" in argv or "--credit-endpoint-only" in argv:  # its own --quick, --credit-endpoint-only
        importlib.import_module(RECEIVABLES).main([a for a in argv if a != "--receivables-only"])
        return
    for switch, name in ONLY.items():
        if switch in argv:
            importlib.import_module(name).main([a for a in argv if a != switch])
            return
    names = list(BENCHMARKS)
    # the orders benchmark's own options go to it only; --quick goes to every benchmark
    known, rest = orders.parser().parse_known_args(argv)
    quick = ["--quick"] if known.quick else []
    orders_argv = [*quick, *(["--seconds", str(known.seconds)] if known.seconds else [])]
    orders_argv += ["--workers", known.workers] if known.workers else []
    for name in names:
        if name in (*ONLY.values(), MIXED):
            importlib.import_module(name).main(quick)
        else:
            importlib.import_module(name).main(orders_argv if name == ORDERS else [*rest, *quick])


if __name__ == "__main__":
    main(sys.argv[1:])
