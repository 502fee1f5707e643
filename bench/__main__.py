"""`python -m bench [--quick]`: run every benchmark and print its figures."""

import importlib
import sys

from bench import BENCHMARKS


def main(argv: list[str]) -> None:
    for name in BENCHMARKS:
        importlib.import_module(name).main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
