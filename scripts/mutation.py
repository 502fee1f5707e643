"""Mutation testing of the money and tenancy modules with mutmut (`make mutation`).

For each module, the tests that cover it run against every mutant mutmut makes of it (an operator flipped, a
constant changed, a call's argument dropped, ...); a mutant that no test fails "survived" — a plausible bug the
suite would let through. Each module runs in a scratch copy of the tracked files under `.mutation/<name>/`, with
its own `[tool.mutmut]` settings, so the work tree is never touched and the runs can be repeated one by one:

    python scripts/mutation.py                        # every module
    python scripts/mutation.py credit_reports pricing # some of them
    python scripts/mutation.py --list                 # the modules and their tests

It prints killed / survived / no tests / timeout per module and the kill rate, writes them to
`.mutation/report.json`, and lists the survivors of each module in `.mutation/<name>/survivors.txt` (read one with
`cd .mutation/<name> && mutmut show <mutant>`). Why mutmut: it is maintained, mutates at the AST level, runs only
the tests that reach the mutated function (it records which tests call what), and forks per mutant, so a mutant
costs a fraction of a second of the covering tests instead of a new interpreter and a new app.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
MUTMUT = str(Path(sys.executable).with_name("mutmut"))
GIT = shutil.which("git") or "git"

# module -> the test modules that exercise its rules (the fast ones; concurrency and e2e suites are not run here)
MODULES: dict[str, tuple[str, list[str]]] = {
    "credit_services": (
        "portal/credit/services.py",
        ["tests/test_money_rules.py", "tests/test_credit_control.py", "tests/test_credit_postings.py",
         "tests/test_overdue_scan.py", "tests/test_ageing_properties.py", "tests/test_bank_import.py",
         "tests/test_wiring.py"],
    ),
    "credit_reports": (
        "portal/credit/reports.py",
        ["tests/test_money_rules.py", "tests/test_ageing_properties.py", "tests/test_receivables_single_pass.py",
         "tests/test_receivables_pages.py", "tests/test_unapplied_sign.py"],
    ),
    "pricing": (
        "portal/catalog/pricing.py",
        ["tests/test_pricing_resolution.py", "tests/test_pricing_edges.py", "tests/test_money_rules.py",
         "tests/test_orders_api.py"],
    ),
    "orders_services": (
        "portal/orders/services.py",
        ["tests/test_money_rules.py", "tests/test_orders_api.py", "tests/test_orders_pages.py",
         "tests/test_unit_of_work.py"],
    ),
    "statements_services": (
        "portal/statements/services.py",
        ["tests/test_statement_invariants.py", "tests/test_statement_reconciliation.py",
         "tests/test_statement_runs.py", "tests/test_unapplied_sign.py", "tests/test_dispute_chain.py"],
    ),
    "rebates_services": (
        "portal/rebates/services.py",
        ["tests/test_rebate_tiers.py", "tests/test_rebate_settlement.py", "tests/test_rebate_programmes.py"],
    ),
    "tenancy": (
        "portal/platform/tenancy.py",
        ["tests/test_tenancy_scope.py", "tests/test_tenancy_routes.py"],
    ),
    "money": (
        "portal/platform/money.py",
        ["tests/test_money_parsing.py", "tests/test_money_helpers.py", "tests/test_money_rules.py"],
    ),
}  # fmt: skip


def _scratch(name: str, module: str, tests: list[str], from_head: bool = False) -> Path:
    """A copy of the tracked files with this module's mutmut settings; mutmut writes its mutants/ inside it."""
    where = WORK / name
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    if from_head:  # the last commit, whatever the work tree holds
        archive = subprocess.run([GIT, "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True).stdout  # noqa: S603
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(where, filter="data")
        return _settings(where, module, tests)
    files = subprocess.run([GIT, "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout  # noqa: S603
    for rel in files.decode().split("\0"):
        if rel and (ROOT / rel).is_file():
            (where / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, where / rel)
    return _settings(where, module, tests)


def _settings(where: Path, module: str, tests: list[str]) -> Path:
    settings = {
        "source_paths": ["portal/"],
        "only_mutate": [module],
        "also_copy": ["templates/", "migrations/", "babel.cfg"],
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q", "-x"],
    }
    lines = ["", "[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    with open(where / "pyproject.toml", "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return where


def run(name: str, children: int, from_head: bool = False) -> dict:
    module, tests = MODULES[name]
    where = _scratch(name, module, tests, from_head)
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "TEST_REDIS_URL")}  # SQLite
    started = time.monotonic()
    # our own fixed argument lists, no shell (S603)
    subprocess.run([MUTMUT, "run", "--max-children", str(children)], cwd=where, env=env,  # noqa: S603
                   stdout=subprocess.DEVNULL, check=False)  # fmt: skip
    subprocess.run([MUTMUT, "export-cicd-stats"], cwd=where, env=env, capture_output=True, check=True)  # noqa: S603
    stats = json.loads((where / "mutants" / "mutmut-cicd-stats.json").read_text())
    results = subprocess.run([MUTMUT, "results"], cwd=where, env=env, capture_output=True, text=True)  # noqa: S603
    results = results.stdout
    (where / "survivors.txt").write_text(results)
    judged = stats["killed"] + stats["survived"] + stats["timeout"] + stats["suspicious"]
    stats.update(module=module, seconds=round(time.monotonic() - started),
                 kill_rate=round(100 * (stats["killed"] + stats["timeout"]) / judged, 1) if judged else None)
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="modules to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    parser.add_argument("--children", type=int, default=1, help="mutants run at once (the suite shares one SQLite "
                        "file per run: keep 1 unless the tests are made per-process)")  # fmt: skip
    parser.add_argument("--head", action="store_true", help="mutate the last commit, not the work tree")
    args = parser.parse_args()
    if args.list:
        for name, (module, tests) in MODULES.items():
            print(f"{name:22} {module}\n{'':22} {' '.join(tests)}")
        return 0
    unknown = set(args.names) - set(MODULES)
    if unknown:
        parser.error(f"unknown module(s): {', '.join(sorted(unknown))} (see --list)")
    WORK.mkdir(exist_ok=True)
    report_path = WORK / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    print(f"{'module':22} {'killed':>7} {'survived':>8} {'no tests':>8} {'timeout':>7} {'kill rate':>9} {'time':>6}")
    for name in args.names or list(MODULES):
        stats = report[name] = run(name, args.children, args.head)
        report_path.write_text(json.dumps(report, indent=2))
        rate = "—" if stats["kill_rate"] is None else f"{stats['kill_rate']}%"
        print(f"{name:22} {stats['killed']:7} {stats['survived']:8} {stats['no_tests']:8} {stats['timeout']:7} "
              f"{rate:>9} {stats['seconds']:5}s", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
