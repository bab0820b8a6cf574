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
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

os.environ["DJANGO_SETTINGS_MODULE"] = "madoguchi.settings"

import django

django.setup()

import psycopg
from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.db.models import Count, F, Lookup, Max, Min, QuerySet
from django_tenants.utils import schema_context

from booking import schedule
from booking.models import Booking, Card, ClosedDay, OpeningPattern, Place, Service, Slot
from booking.staff import lists
from booking.staff.views_bookings import PAGE_SIZE

SCHEMA = "kyoto"
SERVICE_CODE = "card_issuance"
# Every card the benchmark makes has an application ID starting with these digits (5 + 18 = 23 digits),
# which is how the clean-up finds them (bench/booking_bench.py uses 99999).
CARD_PREFIX = "99998"
FIRST_DAY = dt.date(2024, 7, 1)
DAYS = 365
FILL = 0.75  # how full the slots end up
SEED = 20261125

# Kanji:kana, roughly by frequency in Kyoto; some readings repeat (武田/竹田, 上田/植田, 島田/嶋田).
_SURNAMES_TEXT = """
田中:タナカ 山本:ヤマモト 中村:ナカムラ 井上:イノウエ 吉田:ヨシダ
山田:ヤマダ 西村:ニシムラ 松本:マツモト 山口:ヤマグチ 木村:キムラ
小林:コバヤシ 林:ハヤシ 藤田:フジタ 佐藤:サトウ 鈴木:スズキ
高橋:タカハシ 伊藤:イトウ 渡辺:ワタナベ 加藤:カトウ 岡田:オカダ
前田:マエダ 清水:シミズ 森:モリ 村上:ムラカミ 山下:ヤマシタ
中川:ナカガワ 西田:ニシダ 藤井:フジイ 池田:イケダ 橋本:ハシモト
石田:イシダ 上田:ウエダ 松田:マツダ 岡本:オカモト 中島:ナカジマ
山崎:ヤマザキ 森本:モリモト 北村:キタムラ 谷口:タニグチ 坂本:サカモト
長谷川:ハセガワ 斎藤:サイトウ 小川:オガワ 中野:ナカノ 原田:ハラダ
藤原:フジワラ 太田:オオタ 竹内:タケウチ 和田:ワダ 後藤:ゴトウ
近藤:コンドウ 石井:イシイ 福田:フクダ 三浦:ミウラ 岡:オカ 村田:ムラタ
野村:ノムラ 安田:ヤスダ 奥村:オクムラ 大西:オオニシ 青木:アオキ
辻:ツジ 杉本:スギモト 今井:イマイ 川口:カワグチ 服部:ハットリ
河合:カワイ 久保:クボ 西川:ニシカワ 内田:ウチダ 松井:マツイ
野口:ノグチ 堀:ホリ 小西:コニシ 荒木:アラキ 宮本:ミヤモト
大塚:オオツカ 増田:マスダ 平井:ヒライ 菅原:スガワラ 酒井:サカイ
水野:ミズノ 岩田:イワタ 渡部:ワタベ 市川:イチカワ 武田:タケダ
上野:ウエノ 杉山:スギヤマ 千葉:チバ 松尾:マツオ 浅田:アサダ
丸山:マルヤマ 古川:フルカワ 高田:タカダ 樋口:ヒグチ 小野:オノ
吉川:ヨシカワ 北川:キタガワ 大野:オオノ 田村:タムラ 宮崎:ミヤザキ
柴田:シバタ 平田:ヒラタ 新井:アライ 東:ヒガシ 安藤:アンドウ
金子:カネコ 堤:ツツミ 中西:ナカニシ 杉浦:スギウラ 廣瀬:ヒロセ
桑原:クワバラ 土井:ドイ 足立:アダチ 梅田:ウメダ 竹田:タケダ 野田:ノダ
大橋:オオハシ 片山:カタヤマ 浜田:ハマダ 横山:ヨコヤマ 森田:モリタ
川端:カワバタ 菊地:キクチ 桜井:サクライ 松岡:マツオカ 関:セキ
宇野:ウノ 高木:タカギ 西岡:ニシオカ 小島:コジマ 細川:ホソカワ
八木:ヤギ 岩崎:イワサキ 山中:ヤマナカ 福井:フクイ 吉村:ヨシムラ
植田:ウエダ 寺田:テラダ 河野:コウノ 奥田:オクダ 古田:フルタ
的場:マトバ 谷:タニ 中井:ナカイ 川村:カワムラ 森下:モリシタ
永井:ナガイ 大島:オオシマ 岸本:キシモト 今村:イマムラ 宮田:ミヤタ
鍋島:ナベシマ 乾:イヌイ 三宅:ミヤケ 吉岡:ヨシオカ 石川:イシカワ
高山:タカヤマ 野中:ノナカ 西山:ニシヤマ 田辺:タナベ 小山:コヤマ
南:ミナミ 尾崎:オザキ 島田:シマダ 米田:ヨネダ 小松:コマツ
藤本:フジモト 津田:ツダ 浅井:アサイ 岸:キシ 飯田:イイダ 三木:ミキ
辻本:ツジモト 花田:ハナダ 西尾:ニシオ 角田:カクタ 栗山:クリヤマ
馬場:ババ 岩本:イワモト 香川:カガワ 垣内:カキウチ 冨田:トミタ
玉井:タマイ 白井:シライ 芦田:アシダ 西澤:ニシザワ 嶋田:シマダ
大石:オオイシ 上村:ウエムラ 奥野:オクノ 堀川:ホリカワ 木下:キノシタ
松浦:マツウラ 多田:タダ 福島:フクシマ 大槻:オオツキ 北野:キタノ
今西:イマニシ 鴨川:カモガワ
"""
_GIVEN_NAMES_TEXT = """
太郎:タロウ 一郎:イチロウ 健一:ケンイチ 誠:マコト 浩:ヒロシ 茂:シゲル
博:ヒロシ 隆:タカシ 修:オサム 進:ススム 清:キヨシ 勇:イサム
実:ミノル 豊:ユタカ 明:アキラ 和夫:カズオ 正:タダシ 大輔:ダイスケ
翔太:ショウタ 拓也:タクヤ 健太:ケンタ 翔:ショウ 大樹:ダイキ 蓮:レン
悠真:ユウマ 陽翔:ハルト 湊:ミナト 蒼:アオイ 樹:イツキ 悠人:ユウト
直樹:ナオキ 達也:タツヤ 和也:カズヤ 康弘:ヤスヒロ 義男:ヨシオ
秀樹:ヒデキ 哲也:テツヤ 聡:サトシ 亮:リョウ 優太:ユウタ 花子:ハナコ
幸子:サチコ 恵子:ケイコ 洋子:ヨウコ 和子:カズコ 節子:セツコ
京子:キョウコ 久美子:クミコ 由美子:ユミコ 真由美:マユミ 裕子:ユウコ
智子:トモコ 美穂:ミホ 愛:アイ 舞:マイ 彩:アヤ 陽子:ヨウコ 恵:メグミ
美咲:ミサキ 結衣:ユイ 葵:アオイ 陽菜:ヒナ 凛:リン 結菜:ユイナ
芽依:メイ さくら:サクラ 美紀:ミキ 直美:ナオミ 千尋:チヒロ 明美:アケミ
紀子:ノリコ 順子:ジュンコ 典子:ノリコ 悦子:エツコ 静香:シズカ
香織:カオリ 沙織:サオリ 綾乃:アヤノ 千代:チヨ 美和:ミワ
"""


def _pairs(text: str) -> list[tuple[str, str]]:
    return [(kanji, kana) for kanji, kana in (pair.split(":") for pair in text.split())]


SURNAMES = _pairs(_SURNAMES_TEXT)
GIVEN_NAMES = _pairs(_GIVEN_NAMES_TEXT)
SURNAME_BUCKETS = 10_000  # a surname is drawn by a uniform bucket number, mapped by Zipf-like weights
WARDS = [
    "北区",
    "上京区",
    "左京区",
    "中京区",
    "東山区",
    "山科区",
    "下京区",
    "南区",
    "右京区",
    "西京区",
    "伏見区",
]

Filters = dict[str, Any]


# --- measuring -----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """The median as usual; other percentiles by nearest rank (p95 of 20 values is the 19th smallest)."""
    if not values:
        return float("nan")
    if pct == 50:
        return float(statistics.median(values))
    return float(sorted(values)[max(1, math.ceil(len(values) * pct / 100)) - 1])


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


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


def node_label(node: dict[str, Any]) -> str:
    label = node["Node Type"]
    if node.get("Index Name"):
        label += f" {node['Index Name']}"
    elif node.get("Relation Name"):
        label += f" {node['Relation Name']}"
    if node.get("Strategy") and node["Node Type"] == "Aggregate":
        label = f"{node['Strategy'].capitalize()} Aggregate"
    if node.get("Sort Method"):
        label += f" ({node['Sort Method']})"
    if node.get("Subplan Name"):  # an InitPlan such as the ARRAY(SELECT …) of the proposed kana search
        label = f"[{node['Subplan Name']}] {label}"
    return label


def plan_summary(plan: dict[str, Any]) -> dict[str, str]:
    root = plan["Plan"]
    spine = []
    node = root
    while True:  # the top of the plan, down to the first join or scan
        spine.append(node_label(node))
        children = node.get("Plans", [])
        if len(children) != 1 or "Join" in node["Node Type"] or node["Node Type"] == "Nested Loop":
            break
        node = children[0]
    nodes = list(walk(root))
    indexes = sorted({f"{n['Index Name']} ({n['Node Type'].lower()})" for n in nodes if n.get("Index Name")})
    seq = sorted(
        {
            f"{n['Relation Name']} ({n['Actual Rows'] * n['Actual Loops']:,} rows)"
            for n in nodes
            if n["Node Type"] == "Seq Scan"
        }
    )
    jit = plan.get("JIT", {}).get("Timing", {}).get("Total")
    return {
        "top": " → ".join(spine),
        "indexes": ", ".join(indexes) or "none",
        "seq": ", ".join(seq) or "none",
        "time": f"{plan['Planning Time']:.1f} ms planning, {plan['Execution Time']:.1f} ms execution"
        + (f" (JIT {jit:.0f} ms)" if jit else ""),
        "buffers": f"{root.get('Shared Hit Blocks', 0):,} hit, {root.get('Shared Read Blocks', 0):,} read",
        "workers": str(max((n.get("Workers Launched", 0) for n in nodes), default=0)),
    }


def plan_tree(node: dict[str, Any], depth: int = 0) -> Iterator[str]:
    """One line per plan node: what it is, the rows it returned (× loops) against the planner's estimate,
    and its time, inclusive."""
    rows, loops = node.get("Actual Rows", 0), node.get("Actual Loops", 1)
    detail = f"{rows:,} rows (est. {node.get('Plan Rows', 0):,})" + (
        f" × {loops:,} loops" if loops > 1 else ""
    )
    yield f"{'  ' * depth}{node_label(node)}: {detail}, {node.get('Actual Total Time', 0):.1f} ms"
    for child in node.get("Plans", []):
        yield from plan_tree(child, depth + 1)


# --- loading ---------------------------------------------------------------------------------------------


def surname_buckets() -> list[int]:
    """Bucket number → surname index, so that a uniform bucket draws surnames with Zipf-like weights."""
    weights = [1 / (rank + 40) for rank in range(1, len(SURNAMES) + 1)]
    total = sum(weights)
    buckets: list[int] = []
    for index, weight in enumerate(weights):
        buckets += [index] * round(weight / total * SURNAME_BUCKETS)
    return (buckets + [0] * SURNAME_BUCKETS)[:SURNAME_BUCKETS]


def open_slots(service: Service, first: dt.date, days: int) -> list[tuple[Place, schedule.SlotTime]]:
    """The service's slots of every place over the period, as the booking engine would make them."""
    closed = list(ClosedDay.objects.all())
    made = []
    for place in Place.objects.all():
        patterns = list(OpeningPattern.objects.filter(place=place, service=service))
        shut = {c.date for c in closed if c.place_id in (None, place.pk)}
        for offset in range(days):
            made += [
                (place, s) for s in schedule.day_slots(place, patterns, first + dt.timedelta(offset), shut)
            ]
    return made


BOOKING_COLUMNS = {
    "id",
    "card_id",
    "slot_id",
    "status",
    "channel",
    "contact_phone",
    "contact_email",
    "created_at",
    "cancelled_at",
}


def blank_text_columns(cursor: Any, table: str, written: set[str]) -> list[str]:
    """Columns the load does not write that the database requires: text ones (a field added since, such as
    Booking.caller_name_kana) get '' as Django's blank default would; any other kind stops the run."""
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = %s AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'",
        [table],
    )
    required = {name: kind for name, kind in cursor.fetchall() if name not in written}
    others = sorted(name for name, kind in required.items() if kind not in ("character varying", "text"))
    if others:
        raise SystemExit(f"{table} has new required columns the benchmark cannot fill: {', '.join(others)}")
    return sorted(required)


def load(n: int, first: dt.date, days: int, seed: int) -> None:
    """Slots, cards and bookings in bulk, the counting trigger running for every booking."""
    service = Service.objects.get(code=SERVICE_CODE)
    started = time.perf_counter()
    slots = open_slots(service, first, days)
    seats = sum(s.capacity for _, s in slots)
    scale = max(1, math.ceil(n / (seats * FILL)))
    max_slot = Slot.objects.order_by("-id").values_list("id", flat=True).first() or 0
    Slot.objects.bulk_create(
        [
            Slot(
                place=place,
                service=service,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                capacity=s.capacity * scale,
            )
            for place, s in slots
        ],
        batch_size=5000,
        ignore_conflicts=True,
    )
    print(
        f"- {len(slots):,} slots of {SERVICE_CODE} at {len({p.pk for p, _ in slots})} places, "
        f"{first} to {first + dt.timedelta(days - 1)}; capacity ×{scale} the preset's "
        f"({time.perf_counter() - started:.0f} s)"
    )
    buckets = surname_buckets()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        cursor.execute("CREATE TEMPORARY TABLE bench_surname (i int PRIMARY KEY, kanji text, kana text)")
        cursor.executemany(
            "INSERT INTO bench_surname VALUES (%s, %s, %s)", [(i, *pair) for i, pair in enumerate(SURNAMES)]
        )
        cursor.execute("CREATE TEMPORARY TABLE bench_given (i int PRIMARY KEY, kanji text, kana text)")
        cursor.executemany(
            "INSERT INTO bench_given VALUES (%s, %s, %s)", [(i, *pair) for i, pair in enumerate(GIVEN_NAMES)]
        )
        cursor.execute("CREATE TEMPORARY TABLE bench_bucket (b int PRIMARY KEY, surname int)")
        cursor.executemany("INSERT INTO bench_bucket VALUES (%s, %s)", list(enumerate(buckets)))
        cursor.execute("CREATE TEMPORARY TABLE bench_ward (i int PRIMARY KEY, name text)")
        cursor.executemany("INSERT INTO bench_ward VALUES (%s, %s)", list(enumerate(WARDS)))
        step = time.perf_counter()
        # Scattered numbers: g ↦ (g × odd multiplier not divisible by 5 + offset) mod 10^k is one-to-one.
        cursor.execute(
            "INSERT INTO booking_card (application_id, reservation_number, password_digest, name, name_kana,"
            " birth_date, postal_code, address, imported_at)"
            " SELECT %(prefix)s"
            " || lpad(((g::numeric * 314159265358979323 + 977) %% 1e18)::bigint::text, 18, '0'),"
            " lpad(((g::numeric * 271828182841 + 123456789) %% 1e12)::bigint::text, 12, '0'),"
            " md5(g::text) || md5((g + 1)::text), s.kanji || ' ' || n.kanji, s.kana || ' ' || n.kana,"
            " date '1930-01-01' + x.age,"
            " '6' || lpad((x.r %% 100)::text, 2, '0') || '-' || lpad((x.r %% 10000)::text, 4, '0'),"
            " '京都市' || w.name || (x.r %% 50 + 1) || '丁目' || (x.r %% 30 + 1) || '番地',"
            " timestamptz '2024-04-01 09:00+09' + make_interval(days => x.r %% 90)"
            " FROM (SELECT g, floor(random() * %(buckets)s)::int AS b,"
            "       floor(random() * %(given)s)::int AS gi, floor(random() * 11)::int AS wi,"
            "       floor(random() * 27000)::int AS age,"
            "       floor(random() * 1e9)::int AS r FROM generate_series(1, %(n)s) g) x"
            " JOIN bench_bucket k ON k.b = x.b JOIN bench_surname s ON s.i = k.surname"
            " JOIN bench_given n ON n.i = x.gi JOIN bench_ward w ON w.i = x.wi"
            " ORDER BY g ON CONFLICT DO NOTHING",
            {"prefix": CARD_PREFIX, "buckets": SURNAME_BUCKETS, "given": len(GIVEN_NAMES), "n": n},
        )
        print(f"- {cursor.rowcount:,} cards ({time.perf_counter() - step:.0f} s)")
        step = time.perf_counter()
        # Random free places of the new slots, one per card; 45% by phone, 8% later cancelled.
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_seat AS SELECT slot_id, row_number() OVER (ORDER BY random()) AS n"
            " FROM (SELECT s.id AS slot_id FROM booking_slot s, generate_series(1, s.capacity)"
            "       WHERE s.id > %s AND s.service_id = %s) seats",
            [max_slot, service.pk],
        )
        blank = blank_text_columns(cursor, "booking_booking", BOOKING_COLUMNS)
        # The names come from information_schema (see blank_text_columns), not from any input.
        columns, blanks = "".join(f", {name}" for name in blank), ", ''" * len(blank)
        cursor.execute(
            "INSERT INTO booking_booking (card_id, slot_id, status, channel,"  # noqa: S608
            f" contact_phone, contact_email, created_at, cancelled_at{columns})"
            " SELECT c.id, s.id, CASE WHEN c.r1 < 0.08 THEN 'cancelled' ELSE 'confirmed' END,"
            " CASE WHEN c.r2 < 0.45 THEN 'phone' ELSE 'web' END,"
            " CASE WHEN c.r2 < 0.45 OR c.r3 < 0.5 THEN '075' || lpad((c.id * 7919 %% 10000000)::text, 7, '0')"
            "      ELSE '' END,"
            " CASE WHEN c.r2 >= 0.45 AND c.r3 >= 0.3 THEN 'bench' || c.id || '@example.jp' ELSE '' END,"
            " s.starts_at - make_interval(days => 2 + floor(c.r3 * 40)::int, mins => floor(c.r1 * 600)::int),"
            " CASE WHEN c.r1 < 0.08 THEN s.starts_at - make_interval(days => 1 + floor(c.r3 * 2)::int) END"
            f"{blanks}"
            " FROM (SELECT id, row_number() OVER (ORDER BY id) AS n, random() AS r1, random() AS r2,"
            "       random() AS r3 FROM booking_card WHERE application_id LIKE %s) c"
            " JOIN bench_seat st ON st.n = c.n JOIN booking_slot s ON s.id = st.slot_id",
            [CARD_PREFIX + "%"],
        )
        print(f"- {cursor.rowcount:,} bookings ({time.perf_counter() - step:.0f} s)")
        for table in ("bench_seat", "bench_surname", "bench_given", "bench_bucket", "bench_ward"):
            cursor.execute(f"DROP TABLE {table}")
    step = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) booking_card, booking_booking, booking_slot")
    print(
        f"- VACUUM (ANALYZE) ({time.perf_counter() - step:.0f} s);"
        f" loading took {time.perf_counter() - started:.0f} s in all"
    )


def cleanup(first: dt.date, days: int) -> None:
    """Remove the benchmark's bookings and cards, and the empty card-issuance slots of its period."""
    started = time.perf_counter()
    tokyo_start = dt.datetime.combine(first, dt.time.min, schedule.TOKYO)
    tokyo_end = tokyo_start + dt.timedelta(days=days + 1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_cards ON COMMIT DROP AS"
            " SELECT id FROM booking_card WHERE application_id LIKE %s",
            [CARD_PREFIX + "%"],
        )
        cursor.execute(
            "DELETE FROM booking_bookingevent WHERE booking_id IN"
            " (SELECT id FROM booking_booking WHERE card_id IN (SELECT id FROM bench_cards))"
        )
        cursor.execute("DELETE FROM booking_booking WHERE card_id IN (SELECT id FROM bench_cards)")
        removed = cursor.rowcount
        for table in ("booking_hold", "booking_citizentoken"):
            cursor.execute(f"DELETE FROM {table} WHERE card_id IN (SELECT id FROM bench_cards)")  # noqa: S608
        cursor.execute("DELETE FROM booking_card WHERE id IN (SELECT id FROM bench_cards)")
        cursor.execute(
            "DELETE FROM booking_slot s WHERE s.taken = 0 AND s.starts_at >= %s AND s.starts_at < %s"
            " AND s.service_id = (SELECT id FROM booking_service WHERE code = %s)"
            " AND NOT EXISTS (SELECT 1 FROM booking_booking b WHERE b.slot_id = s.id)"
            " AND NOT EXISTS (SELECT 1 FROM booking_hold h WHERE h.slot_id = s.id)"
            " AND NOT EXISTS (SELECT 1 FROM booking_bookingevent e WHERE e.from_slot_id = s.id)"
            " AND NOT EXISTS (SELECT 1 FROM booking_bookingevent e WHERE e.to_slot_id = s.id)",
            [tokyo_start, tokyo_end, SERVICE_CODE],
        )
        slots = cursor.rowcount
    if removed or slots:
        with connection.cursor() as cursor:  # so that the next load reuses the space instead of doubling it
            cursor.execute("VACUUM booking_card, booking_booking, booking_slot")
        print(f"\nRemoved {removed:,} bookings and {slots:,} slots ({time.perf_counter() - started:.0f} s).")


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
    print(f"- run at {dt.datetime.now(schedule.TOKYO):%Y-%m-%d %H:%M %Z}; load average {load}")
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
    parser.add_argument(
        "--any-database",
        action="store_true",
        help="run even if the database name does not contain 'bench' (it writes and deletes rows)",
    )
    args = parser.parse_args(argv)

    db_name = str(settings.DATABASES["default"]["NAME"])
    if "bench" not in db_name and not args.any_database:
        print(f"refusing to run on database {db_name!r}: use a throwaway *bench* database", file=sys.stderr)
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
