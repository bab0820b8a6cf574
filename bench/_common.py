"""What the benchmarks share: timing samples and percentiles, the statements Django runs, Markdown tables,
and the refusal to run on a database that is not a throwaway one.

The scripts run as `python bench/<name>.py`, so this directory is on the import path; they import this
module after `django.setup()`.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection

# --- measuring -----------------------------------------------------------------------------------------


@dataclass
class Samples:
    label: str
    ns: list[int] = field(default_factory=list)

    def timed(self, op: Callable[[], object]) -> None:
        start = time.perf_counter_ns()
        op()
        self.ns.append(time.perf_counter_ns() - start)

    @property
    def median(self) -> float:
        return percentile(self.ns, 50)

    @property
    def p95(self) -> float:
        return percentile(self.ns, 95)


def percentile(values: Sequence[float], pct: float) -> float:
    """The median as usual; other percentiles by nearest rank (p95 of 20 values is the 19th smallest)."""
    if not values:
        return float("nan")
    if pct == 50:
        return float(statistics.median(values))
    return float(sorted(values)[max(1, math.ceil(len(values) * pct / 100)) - 1])


def fmt_time(ns: float) -> str:
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.1f} µs"


def fmt_ratio(value: float) -> str:
    return f"{value:,.0f}×" if value >= 100 else f"{value:.2f}×"


def fmt_ms(ns: float) -> str:
    ms = ns / 1e6
    return f"{ms:,.0f} ms" if ms >= 100 else f"{ms:.1f} ms" if ms >= 10 else f"{ms:.2f} ms"


def print_table(title: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    rows = [list(row) for row in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    print(f"\n### {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    sys.stdout.flush()


def run_interleaved(
    ops: dict[str, Callable[[int], object]], n: int, warmup: int, block: int = 100
) -> dict[str, Samples]:
    """Op i of every variant for i in warmup..warmup+n, in blocks, rotating which variant goes first,
    so that a slow spell of the machine falls on all of them alike."""
    for op in ops.values():
        for i in range(warmup):
            op(i)
    samples = {name: Samples(name) for name in ops}
    order = list(ops)
    for start in range(warmup, warmup + n, block):
        for name in order:
            op, into = ops[name], samples[name]
            for i in range(start, min(start + block, warmup + n)):
                into.timed(partial(op, i))
        order = order[1:] + order[:1]
    return samples


def sql_split(op: Callable[[int], object], n: int) -> tuple[Samples, Samples]:
    """Run op(0) … op(n-1) timing each call and, inside it, every statement Django executes.

    Returns (whole calls, their statements): what is not in the statements is Python (the ORM, the
    service's own rules) and the COMMIT, which Django sends outside its cursor.
    """
    whole, in_sql = Samples("whole call"), Samples("in cursor.execute")
    spent: list[int] = []

    def timing(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        start = time.perf_counter_ns()
        try:
            return execute(sql, params, many, context)
        finally:
            spent.append(time.perf_counter_ns() - start)

    with connection.execute_wrapper(timing):
        for i in range(n):
            spent.clear()
            whole.timed(partial(op, i))
            in_sql.ns.append(sum(spent))
    return whole, in_sql


def fmt_split(whole: Samples, in_sql: Samples) -> str:
    rest = [w - q for w, q in zip(whole.ns, in_sql.ns, strict=True)]
    return (
        f"median {fmt_time(whole.median)} per call, of which {fmt_time(in_sql.median)} waiting on its SQL "
        f"statements and {fmt_time(percentile(rest, 50))} elsewhere (median of {len(whole.ns)})"
    )


@dataclass
class Statement:
    sql: str
    params: Any
    ns: int


@contextmanager
def statements() -> Iterator[list[Statement]]:
    """Every statement Django executes inside the block, with its text, parameters and time."""
    seen: list[Statement] = []

    def timing(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        start = time.perf_counter_ns()
        try:
            return execute(sql, params, many, context)
        finally:
            seen.append(Statement(sql, params, time.perf_counter_ns() - start))

    with connection.execute_wrapper(timing):
        yield seen


# --- the database --------------------------------------------------------------------------------------


def add_any_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--any-database",
        action="store_true",
        help="run even if the database name does not contain 'bench' (it writes and deletes rows)",
    )


def refused_database(any_database: bool) -> bool:
    """True, having said why on stderr, unless the database is a throwaway *bench* one (or `any_database`):
    the benchmarks write and delete rows."""
    db_name = str(settings.DATABASES["default"]["NAME"])
    if "bench" not in db_name and not any_database:
        print(f"refusing to run on database {db_name!r}: use a throwaway *bench* database", file=sys.stderr)
        return True
    return False
