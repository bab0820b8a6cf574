"""Staff search and bookings list at a million bookings (AD-08): the screens' querysets, timed and explained.

Run from the repository root against a throwaway database (see docs/performance.md for the whole recipe):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/madoguchi_search_bench \
        REDIS_URL=redis://127.0.0.1:6379/12 DEBUG=true python bench/staff_search_bench.py [--bookings 1000000]

In the tenant schema `kyoto` (provisioned with the kyoto preset) it first loads, in bulk SQL:

- the card-issuance slots of all 21 places over a year (2024-07-01 to 2025-06-30 by default), made by
  `schedule.day_slots` from the preset's opening patterns, so weekends only at the certificate corners,
  the centre from 2024-12-23 and the corners and Shimogyo ward office until 2024-12-22, no holidays; each
  slot's capacity is the pattern's times a factor that leaves the slots about 75% full at N bookings;
- N cards (application IDs starting `99998`, scattered 12-digit reservation numbers) with kanji and kana
  names drawn from 200 surnames (Zipf-like: the commonest about 1.4% of the cards, the rarest about 0.2%)
  and 80 given names;
- N bookings, one per card, on random free places of those slots (the counting trigger runs for each, so
  `Slot.taken` stays right), 45% by phone, 8% cancelled;

then `VACUUM (ANALYZE)` of the three tables, and measures `booking.staff.lists.bookings(filters)` as the
staff list (`booking/staff/views_bookings.py`) evaluates it: `Paginator(rows, PAGE_SIZE).get_page(None)`
and the page's rows, that is one `COUNT(*)` and one `SELECT … LIMIT 50`, each statement timed apart
(through `connection.execute_wrapper`). The cases: search by reservation number, by application ID and by
kana (surnames common and rare, in katakana and hiragana, surname plus the start of a given name, full
names, two-letter prefixes, and with the one-day dates the form starts with), one day at one place, one
day at all places, a month at one place, and no filter at all. Each case runs warm-ups, then `--runs`
times with a different input each time (another card, name, day or place); figures are medians, p95
(nearest rank) and the slowest run. Every kana case also runs, interleaved on the same inputs, with the
change docs/performance.md proposes (`proposed_bookings` below). For each case's slowest input it prints
what `EXPLAIN (ANALYZE, BUFFERS)` says of its statements: the top of the plan, the indexes used, any
sequential scans, time and buffers, and the plan as a tree (`--plans`: PostgreSQL's own text).

Everything the run makes is removed at the end, also when it fails (`--keep` leaves it for another run;
a later run with the same `--bookings` then reuses it instead of loading again). It refuses to run on a
database whose name does not contain `bench`.
"""

# ruff: noqa: E402 - Django must be configured before the project's models can be imported.

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

os.environ["DJANGO_SETTINGS_MODULE"] = "madoguchi.settings"

import django

django.setup()

import psycopg
from _common import add_any_database_option, fmt_ms, percentile, print_table, refused_database, statements
from _search_data import CARD_PREFIX, DAYS, FIRST_DAY, GIVEN_NAMES, SCHEMA, SEED, SURNAMES, cleanup, load
from _search_plans import plan_summary, plan_tree
from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, F, Lookup, Max, Min, QuerySet
from django_tenants.utils import schema_context

from booking.lib.dates import TOKYO
from booking.models import Booking, Card, Place, Slot
from booking.staff import lists
from booking.staff.views_bookings import PAGE_SIZE

Filters = dict[str, Any]


# --- measuring -----------------------------------------------------------------------------------------

Query = Callable[[Filters], QuerySet[Booking]]


def first_page(query: Query, filters: Filters) -> int:
    """What the bookings screen does with its filters: the Paginator's COUNT, then the first page's rows,
    with what the template reads of each row (all loaded by select_related). Returns the count."""
    page = Paginator(query(filters), PAGE_SIZE).get_page(None)
    for booking in page.object_list:
        card = booking.card
        _ = (card.reservation_number if card else "", booking.slot.place.name, booking.slot.service.name)
    return page.paginator.count


def statement_kind(sql: str) -> str:
    if '"booking_booking"' not in sql:
        return "cards"  # the first query of the proposed kana search: do at most N cards match?
    if "COUNT(" in sql.upper():
        return "COUNT"
    return "page"


@dataclass
class Case:
    label: str
    inputs: list[Filters]
    query: Query = lists.bookings
    whole: list[int] = field(default_factory=list)
    parts: dict[str, list[int]] = field(default_factory=dict)
    matches: list[int] = field(default_factory=list)
    plans: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)

    def part(self, kind: str, pct: float = 50) -> float:
        return percentile(self.parts.get(kind, [0] * len(self.whole)), pct)

    @property
    def slowest(self) -> int:
        return max(range(len(self.whole)), key=self.whole.__getitem__)

    def shown(self, index: int) -> str:
        """An input as staff would type it: dates, place code, search text, ordering."""
        filters = self.inputs[index % len(self.inputs)]
        first, last = filters.get("date_from"), filters.get("date_to")
        parts = [str(first) if first == last else f"{first} – {last}"] if first else []
        if filters.get("location"):
            parts.append(filters["location"].code)
        parts += [str(filters[key]) for key in ("q", "ordering") if filters.get(key)]
        return ", ".join(parts) or "(nothing)"


def measure(group: Sequence[Case], runs: int, warmup: int) -> None:
    """Run i of each case of the group on the case's input i, rotating which case goes first, so that what
    one case brings into the caches for an input helps the others alike."""
    for case in group:
        for i in range(warmup):
            first_page(case.query, case.inputs[(runs + i) % len(case.inputs)])
    for i in range(runs):
        turn = i % len(group)
        for case in [*group[turn:], *group[:turn]]:
            with statements() as seen:
                start = time.perf_counter_ns()
                count = first_page(case.query, case.inputs[i % len(case.inputs)])
                case.whole.append(time.perf_counter_ns() - start)
            spent = {"cards": 0, "COUNT": 0, "page": 0}
            for statement in seen:
                spent[statement_kind(statement.sql)] += statement.ns
            for kind, ns in spent.items():
                case.parts.setdefault(kind, []).append(ns)
            case.matches.append(count)


def explain(case: Case, full: bool) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement the case ran for its slowest input."""
    with statements() as seen:
        first_page(case.query, case.inputs[case.slowest % len(case.inputs)])
    for statement in seen:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement.sql, statement.params)
            row = cursor.fetchone()
            assert row is not None
            plan = (json.loads(row[0]) if isinstance(row[0], str) else row[0])[0]
            text = ""
            if full:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.params)
                text = "\n".join(line for (line,) in cursor.fetchall())
        case.plans.append((statement_kind(statement.sql), plan, text))


# --- the proposed kana search ------------------------------------------------------------------------------

KANA_CARD_LIMIT = 5000


class AnyOf(Lookup):
    """`lhs = ANY(rhs)`, rhs an array. For `ARRAY(SELECT …)` the planner cannot know how many elements there
    will be and plans for a handful, so it starts from them (an index scan per element)."""

    lookup_name = "any_of"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)


def proposed_bookings(filters: Filters) -> QuerySet[Booking]:
    """`lists.bookings` with the change docs/performance.md proposes for a search by kana name.

    When at most KANA_CARD_LIMIT cards match (counted by an index-only scan of card_kana_prefix that stops at
    the limit), the bookings are those with `card_id = ANY(ARRAY(SELECT id FROM booking_card WHERE …))`, so
    the plan starts from those few cards and costs what they cost. Above the limit the name is common enough
    (0.5% of a million) for today's plan, which walks all bookings in date order until it has a page, to
    find one soon, and the query stays as it is.
    """
    kind, value = lists.normalise_query(filters["q"]) if filters.get("q") else ("", "")
    if kind != "kana":
        return lists.bookings(filters)
    cards = Card.objects.filter(name_kana__startswith=value)
    if cards[: KANA_CARD_LIMIT + 1].count() > KANA_CARD_LIMIT:
        return lists.bookings(filters)
    rows = lists.bookings({k: v for k, v in filters.items() if k != "q"})
    return rows.filter(AnyOf(F("card_id"), ArraySubquery(cards.values("pk"))))


# --- the cases -------------------------------------------------------------------------------------------


def day_range(day: dt.date, last: dt.date | None = None) -> Filters:
    return {"date_from": day, "date_to": last or day}


def cases(runs: int, seed: int) -> list[list[Case]]:
    """The cases, in groups measured together (a kana search with its proposed variant); the inputs of each
    case are one per run, drawn from the loaded data, plus a few for warm-up."""
    rng = random.Random(seed)
    needed = runs + 5
    ids = Card.objects.filter(application_id__startswith=CARD_PREFIX).aggregate(low=Min("id"), high=Max("id"))
    cards = list(Card.objects.filter(pk__in=rng.sample(range(ids["low"], ids["high"] + 1), needed * 2)))
    rng.shuffle(cards)
    cards = cards[:needed]
    # (place, day) pairs that have bookings, from the slots
    place_days = list(
        Slot.objects.filter(taken__gt=0)
        .values_list("place_id", "starts_at__date")
        .annotate(n=Count("id"))
        .order_by("place_id", "starts_at__date")
    )
    places = {p.pk: p for p in Place.objects.all()}
    picked = [(places[pk], day) for pk, day, _ in rng.sample(place_days, needed)]
    days = rng.sample(sorted({day for _, day, _ in place_days if day.weekday() < 5}), needed)
    months = [(places[pk], day.replace(day=1)) for pk, day, _ in rng.sample(place_days, needed)]
    surnames = list(dict.fromkeys(kana for _, kana in SURNAMES))
    common, rare = surnames[:needed], surnames[-needed:]
    typing = [f"{c.name_kana.split()[0]} {c.name_kana.split()[1][: 1 + i % 2]}" for i, c in enumerate(cards)]
    starts = sorted({given[:2] for _, given in GIVEN_NAMES})
    candidates = [f"{surname} {start}" for surname in surnames[:40] for start in starts]
    tricky = misestimated(rng.sample(candidates, len(candidates)), needed)
    prefixes = [
        "ヤマ",
        "ナカ",
        "タカ",
        "マツ",
        "ニシ",
        "フジ",
        "オカ",
        "モリ",
        "イシ",
        "カワ",
        "キタ",
        "ハシ",
    ]

    def hiragana(text: str) -> str:
        return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)

    def month(place: Place, first: dt.date) -> Filters:
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        return {**day_range(first, last), "location": place}

    def kana(label: str, inputs: list[Filters]) -> list[Case]:
        return [Case(label, inputs), Case(label, inputs, query=proposed_bookings)]

    return [
        [
            Case(
                "reservation number (typed 1234-5678-9012)",
                [{"q": hyphens(c.reservation_number)} for c in cards],
            )
        ],
        [Case("application ID (23 digits)", [{"q": c.application_id} for c in cards])],
        kana("kana surname, the 20 commonest (0.7–1.4% each)", [{"q": k} for k in common]),
        kana("kana surname typed in hiragana (the same 20)", [{"q": hiragana(k)} for k in common]),
        kana("kana surname, the 20 rarest (0.2–0.3% each)", [{"q": k} for k in rare]),
        kana("kana surname + start of the given name (タナカ ア…)", [{"q": t} for t in typing]),
        *(
            [
                kana(
                    f"kana prefix overestimated ≥ 20× by the statistics ({len(tricky)})",
                    [{"q": t} for t in tricky],
                )
            ]
            if tricky
            else []
        ),
        kana(
            "kana full name, hiragana, full-width space",
            [{"q": hiragana(c.name_kana).replace(" ", "\u3000")} for c in cards],
        ),
        kana("kana two-letter prefix (ヤマ, ナカ, タカ…: 2–6%)", [{"q": p} for p in prefixes]),
        [
            Case(
                "reservation number + the form's default dates (one day)",
                [{**day_range(day), "q": c.reservation_number} for day, c in zip(days, cards, strict=True)],
            )
        ],
        kana(
            "kana surname + the form's default dates (one day)",
            [{**day_range(day), "q": k} for day, k in zip(days, common, strict=True)],
        ),
        [Case("one day, one place (by start)", [{**day_range(day), "location": p} for p, day in picked])],
        [Case("one weekday, all places (by start)", [day_range(day) for day in days])],
        [
            Case(
                "one weekday, all places (ordering=location)",
                [{**day_range(d), "ordering": "location"} for d in days],
            )
        ],
        [Case("one month, one place (by start)", [month(place, first) for place, first in months])],
        [Case("no filter: dates cleared (by start)", [{}])],
        [Case("no filter: dates cleared (ordering=location)", [{"ordering": "location"}])],
    ]


def misestimated(candidates: Sequence[str], wanted: int) -> list[str]:
    """Kana prefixes the planner believes match at least 0.5% of the cards (a bound of the column's
    histogram falls inside their range) though 20 times fewer do: the worst case of a name search."""
    total = Card.objects.count()
    found: list[str] = []
    for prefix in candidates:
        cards = Card.objects.filter(name_kana__startswith=prefix)
        estimate = json.loads(cards.explain(format="json"))[0]["Plan"]["Plan Rows"]
        if estimate >= total * 0.005 and cards.count() * 20 <= estimate:
            found.append(prefix)
            if len(found) == wanted:
                break
    return found


def hyphens(number: str) -> str:
    return f"{number[:4]}-{number[4:8]}-{number[8:]}"


# --- main ------------------------------------------------------------------------------------------------


def environment() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), current_setting('shared_buffers'),"
            " current_setting('work_mem'), current_setting('jit'), current_setting('random_page_cost'),"
            " current_setting('max_parallel_workers_per_gather')"
        )
        row = cursor.fetchone()
        cursor.execute(
            "SELECT relname, n_live_tup, pg_size_pretty(pg_total_relation_size(relid))"
            " FROM pg_stat_user_tables"
            " WHERE schemaname = %s AND relname IN ('booking_card', 'booking_booking', 'booking_slot')"
            " ORDER BY relname",
            [SCHEMA],
        )
        sizes = cursor.fetchall()
    print("\n## Staff search benchmark\n")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"- run at {dt.datetime.now(TOKYO):%Y-%m-%d %H:%M %Z}; load average {load}")
    print(f"- {os.cpu_count()} CPUs; Python {platform.python_version()}; Django {django.get_version()};")
    print(f"  psycopg {psycopg.__version__}; page size {PAGE_SIZE}")
    print(
        f"- PostgreSQL {row[0]} (shared_buffers={row[1]}, work_mem={row[2]}, jit={row[3]}, "
        f"random_page_cost={row[4]}, max_parallel_workers_per_gather={row[5]})"
    )
    print(
        "- tables in schema kyoto: "
        + "; ".join(f"{name} {rows:,} rows, {size}" for name, rows, size in sizes)
    )
    print("- DEBUG's query log is switched off for the run (settings.DEBUG = False), as in production")


def report(groups: list[list[Case]], runs: int, warmup: int, full_plans: bool) -> None:
    current = [group[0] for group in groups]
    print_table(
        "The bookings screen as it is: `lists.bookings(filters)`,"
        f" Paginator COUNT + first page of {PAGE_SIZE}"
        f" ({runs} runs each, another input each run, after {warmup} warm-ups)",
        ["case", "first input", "matches (median)", "COUNT", "page", "whole: median", "p95", "slowest"],
        [
            [
                c.label,
                c.shown(0),
                f"{percentile(c.matches, 50):,.0f}",
                fmt_ms(c.part("COUNT")),
                fmt_ms(c.part("page")),
                f"**{fmt_ms(percentile(c.whole, 50))}**",
                fmt_ms(percentile(c.whole, 95)),
                f"{fmt_ms(max(c.whole))} ({c.shown(c.slowest)})",
            ]
            for c in current
        ],
    )
    print_table(
        f"Kana search as proposed (from the matching cards when at most N = {KANA_CARD_LIMIT:,} match),"
        " same inputs, interleaved with the runs above",
        [
            "case",
            "as it is: median",
            "p95",
            "slowest",
            "proposed: ≤ N cards?",
            "COUNT",
            "page",
            "median",
            "p95",
            "slowest",
        ],
        [
            [
                now.label,
                fmt_ms(percentile(now.whole, 50)),
                fmt_ms(percentile(now.whole, 95)),
                fmt_ms(max(now.whole)),
                fmt_ms(new.part("cards")),
                fmt_ms(new.part("COUNT")),
                fmt_ms(new.part("page")),
                f"**{fmt_ms(percentile(new.whole, 50))}**",
                fmt_ms(percentile(new.whole, 95)),
                f"{fmt_ms(max(new.whole))} ({new.shown(new.slowest)})",
            ]
            for now, new in (group for group in groups if len(group) == 2)
        ],
    )
    print("\n### EXPLAIN (ANALYZE, BUFFERS) of each case's slowest input, run again\n")
    for group in groups:
        for c in group:
            variant = " — proposed" if c.query is proposed_bookings else ""
            print(f"- **{c.label}{variant}** (`{c.shown(c.slowest)}`, {fmt_ms(max(c.whole))} when timed)")
            for kind, plan, text in c.plans:
                s = plan_summary(plan)
                print(f"  - {kind}: {s['top']}; indexes: {s['indexes']}; seq scans: {s['seq']};")
                print(f"    {s['time']}; buffers {s['buffers']}; parallel workers {s['workers']}")
                body = text if full_plans else "\n".join(plan_tree(plan["Plan"]))
                print("\n    ```\n" + "\n".join(f"    {line}" for line in body.splitlines()) + "\n    ```")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--bookings", type=int, default=1_000_000, help="cards and bookings to load")
    parser.add_argument("--first-day", type=dt.date.fromisoformat, default=FIRST_DAY)
    parser.add_argument("--days", type=int, default=DAYS, help="days of slots from --first-day")
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each case")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--plans", action="store_true", help="print the whole EXPLAIN ANALYZE plans")
    parser.add_argument("--keep", action="store_true", help="leave the loaded data for another run")
    add_any_database_option(parser)
    args = parser.parse_args(argv)

    if refused_database(args.any_database):
        return 2
    settings.DEBUG = False  # no query log: the ORM costs what it costs in production
    started = time.perf_counter()
    with schema_context(SCHEMA):
        present = Booking.objects.filter(card__application_id__startswith=CARD_PREFIX).count()
        try:
            if present == args.bookings:
                print(f"Reusing the {present:,} bookings a run with --keep left.")
            else:
                cleanup(args.first_day, args.days)  # what a crashed or kept run may have left
                print(f"Loading {args.bookings:,} bookings into schema {SCHEMA}:")
                load(args.bookings, args.first_day, args.days, args.seed)
            environment()
            groups = cases(args.runs, args.seed)
            for group in groups:
                measure(group, args.runs, args.warmup)
                for case in group:
                    explain(case, args.plans)
            report(groups, args.runs, args.warmup, args.plans)
        finally:
            if not args.keep:
                cleanup(args.first_day, args.days)
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
