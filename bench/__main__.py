"""`python -m bench [CASE ...]`: run the benchmarks (all of them by default).

Each case prints one JSON line per measurement as it finishes, then a table sums up.
`--smoke` runs every case with tiny N and one run: it proves the scripts work (the test
suite runs it) and measures nothing worth reading.

Examples:
  python -m bench                      # everything, full sizes (make bench)
  python -m bench plan --plan-sizes 1000,10000
  python -m bench apply --store sqlite --store postgresql://postgres@127.0.0.1/test
  python -m bench --smoke
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from types import ModuleType

from bench import apply, delivery, delivery_memory, plan, startup, vault
from bench.common import Result, machine, note, print_table

CASES: dict[str, ModuleType] = {
    "startup": startup,
    "plan": plan,
    "apply": apply,
    "vault": vault,
    "delivery": delivery,
    "delivery-memory": delivery_memory,
}


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "cases",
        nargs="*",
        choices=[[], *CASES],
        metavar="CASE",
        help=f"cases to run: {', '.join(CASES)} (default: all)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny N and one run each: check the scripts, measure nothing",
    )
    parser.add_argument(
        "--runs", type=int, default=None, help="runs per measurement; the median is reported"
    )
    for module in CASES.values():
        module.add_arguments(parser)
    args = parser.parse_args(argv)
    chosen = args.cases or list(CASES)
    note(f"machine: {json.dumps(machine())}")
    results: list[Result] = []
    for name in chosen:
        started = time.perf_counter()
        results.extend(CASES[name].run(args))
        note(f"{name}: {time.perf_counter() - started:.0f} s in all")
    print_table(results)
    return results


if __name__ == "__main__":
    # Missing a target is news, not an error: the table says so, and `make bench` goes on.
    main()
    sys.exit(0)
