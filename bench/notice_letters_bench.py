"""Notice letters at scale (AD-03): 100,000 letters → PDF (+ the vendor CSV): letters a second, peak memory.

Run from the repository root (see docs/performance.md, "Notice letters", for the recorded figures):

    python bench/notice_letters_bench.py --files-only            # part 1 only: no database needed
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/madoguchi_bench REDIS_URL=redis://127.0.0.1:6379/9 \
        DEBUG=true python bench/notice_letters_bench.py [--letters 100000]

1. The files alone: `integrations.notice_letters.write_files` with N synthetic letters (names and addresses
   of realistic lengths, 1 in 200 with a character the PDF font lacks) into a local export storage, in each
   configuration:
   - volumes of 10,000 letters (the product's default): a ZIP of PDF volumes, and the CSV;
   - one PDF of all N letters (`--volume-size 0`), to show what ReportLab costs without volumes;
   Each configuration runs in a fresh child process (multiprocessing, spawn), so the peak resident memory
   it reports (`ru_maxrss`) is its own; a child that only imports the modules gives the baseline.
2. The whole service (skipped with `--files-only`): `booking.lifecycle.notices.do_print_notices` on N cards
   in state "set up" in the tenant schema `kyoto`, loaded by bulk SQL (application IDs starting `99997`):
   locks and checks, new passwords (HMAC, bulk update), the moves to "notice sent" with their history, the
   files, the commit; each phase timed by wrapping the service's helpers. Everything it made (cards, their
   history, the run, the files) is removed at the end, also when it fails; the operation log keeps its one
   entry (it is append-only). It refuses a database whose name does not contain `bench`.

Times are wall-clock (`time.perf_counter`) of one run each; the figures depend on the machine, so
docs/performance.md records the machine and its load with them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCHEMA = "kyoto"
CARD_PREFIX = "99997"  # 5 + 18 digits = 23; how the clean-up finds the benchmark's cards
PASSWORD_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # noqa: S105 - an alphabet (booking.credentials)
SURNAMES = [
    "山田",
    "鈴木",
    "田中",
    "佐藤",
    "高橋",
    "伊藤",
    "渡辺",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山本",
    "松本",
    "井上",
    "木村",
    "林",
    "清水",
    "山口",
    "森",
    "池田",
]
GIVEN = [
    "太郎",
    "花子",
    "一郎",
    "美咲",
    "健",
    "陽子",
    "翔太",
    "さくら",
    "大輔",
    "由美",
    "蓮",
    "結衣",
    "拓也",
    "恵子",
    "悠真",
]
WARDS = ["北", "上京", "左京", "中京", "東山", "山科", "下京", "南", "右京", "西京", "伏見"]
BUILDINGS = [
    "",
    "",
    "",
    "",
    "コーポ鴨川 203号室",
    "ハイツ北白川 1101号室",
    "グランドメゾン烏丸御池 ウエストタワー 2305号室",
]
OUTSIDE_FONT = ["𠮷田", "髙橋", "𡈽屋"]  # 𠮷 and 𡈽 lie beyond the BMP: printed as 〓 (髙 is in the font)


def synthetic_letters(count: int, seed: int = 20261124) -> Iterator[Any]:
    from integrations.notice_letters import Letter

    rng = random.Random(seed)
    for n in range(count):
        surname = rng.choice(OUTSIDE_FONT) if rng.random() < 0.005 else rng.choice(SURNAMES)
        address = (
            f"京都市{rng.choice(WARDS)}区{rng.choice('一二三四五六七八九')}条通{rng.randint(1, 9)}丁目"
            f"{rng.randint(1, 40)}番地の{rng.randint(1, 30)} {rng.choice(BUILDINGS)}"
        ).strip()
        yield Letter(
            application_id=f"{CARD_PREFIX}{n:018d}",
            reservation_number=f"{rng.randrange(10**12):012d}",
            password="".join(rng.choice(PASSWORD_ALPHABET) for _ in range(10)),
            name=f"{surname} {rng.choice(GIVEN)}",
            postal_code=f"6{rng.randint(0, 19):02d}-{rng.randint(0, 9999):04d}",
            address=address,
        )


def _issuer() -> Any:
    from integrations.notice_letters import Issuer

    return Issuer(
        municipality="京都市",
        booking_url="https://yoyaku.city.kyoto.lg.jp/",
        bring="交付通知書、本人確認書類（運転免許証など）、お持ちの場合は通知カード・住民基本台帳カード",
        issued_on=dt.date(2026, 11, 24),
        inquiry="マイナンバーカードコールセンター 075-000-0000（平日 8:30〜17:15）",
    )


# --- part 1: the files, each configuration in its own process --------------------------------------------


def _files_child(count: int, volume_size: int, folder: str, queue: Any) -> None:
    from integrations import notice_letters
    from integrations.storage import LocalExportStorage

    target = LocalExportStorage(Path(folder))
    if count == 0:  # the baseline: the imports and a font, no letters
        from integrations.pdf import register_font

        register_font()
        queue.put({"rss_mb": _peak_rss_mb()})
        return
    extension = notice_letters.pdf_extension(count, volume_size)
    started = time.perf_counter()
    written = notice_letters.write_files(
        target,
        pdf_key=f"bench/letters.{extension}",
        csv_key="bench/vendor.csv",
        letters=synthetic_letters(count),
        count=count,
        issuer=_issuer(),
        volume_size=volume_size,
    )
    seconds = time.perf_counter() - started
    queue.put(
        {
            "seconds": seconds,
            "rss_mb": _peak_rss_mb(),
            "pdf_bytes": written.pdf_bytes,
            "csv_bytes": written.csv_bytes,
            "volumes": written.volumes,
            "outside_font": written.outside_font,
        }
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def run_files(count: int, volume_size: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    with tempfile.TemporaryDirectory(prefix="notice-bench-") as folder:
        child = context.Process(target=_files_child, args=(count, volume_size, folder, queue))
        child.start()
        result: dict[str, Any] = queue.get()
        child.join()
    if child.exitcode:
        raise SystemExit(f"the child process failed (exit status {child.exitcode})")
    return result


def part_files(count: int, single: bool) -> None:
    from integrations.notice_letters import VOLUME_SIZE

    baseline = run_files(0, VOLUME_SIZE)["rss_mb"]
    print(f"\n## 1. the files alone: {count:,} letters (baseline process: {baseline:.0f} MB resident)\n")
    print(
        "| configuration | time | letters/s | peak resident | above baseline | PDF / ZIP | CSV | 〓 letters |"
    )
    print("|---|---|---|---|---|---|---|---|")
    configurations = [(f"volumes of {VOLUME_SIZE:,}", VOLUME_SIZE)]
    if single:
        configurations.append(("one PDF (--volume-size 0)", 0))
    for label, volume_size in configurations:
        r = run_files(count, volume_size)
        print(
            f"| {label} | {r['seconds']:.1f} s | {count / r['seconds']:,.0f} | {r['rss_mb']:,.0f} MB | "
            f"{r['rss_mb'] - baseline:,.0f} MB | {r['pdf_bytes'] / 1e6:,.1f} MB | "
            f"{r['csv_bytes'] / 1e6:,.1f} MB | {r['outside_font']:,} |",
            flush=True,
        )


# --- part 2: the whole service ---------------------------------------------------------------------------


def part_service(count: int) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "madoguchi.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django_tenants.utils import schema_context

    name = str(settings.DATABASES["default"]["NAME"])
    if "bench" not in name:
        raise SystemExit(f"refusing to run on database {name!r}: its name must contain 'bench'")
    settings.DEBUG = False  # no query log, as in production (DEBUG=true only lets the settings start)
    exports = Path(tempfile.mkdtemp(prefix="notice-bench-exports-"))
    os.environ["EXPORT_LOCAL_DIR"] = str(exports)
    os.environ.pop("EXPORT_S3_BUCKET", None)
    rss_before = _peak_rss_mb()
    with schema_context(SCHEMA):
        try:
            _clean(connection)
            ids = _load_cards(connection, count)
            timings, total, result = _print(ids)
            _report_service(count, timings, total, result, rss_before, exports)
        finally:
            _clean(connection)
            shutil.rmtree(exports, ignore_errors=True)


def _load_cards(connection: Any, count: int) -> list[int]:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO booking_card (application_id, reservation_number, password_digest, name, name_kana, "
            "birth_date, postal_code, address, imported_at, state, state_changed_at) "
            "SELECT %s || lpad(g::text, 18, '0'), '97' || lpad(g::text, 10, '0'), '', "
            "(ARRAY['山田','鈴木','田中','佐藤','高橋'])[1 + g %% 5] || ' ' "
            "|| (ARRAY['太郎','花子','一郎'])[1 + g %% 3], "
            "'キョウト タロウ', '1960-01-01', "
            "'6' || lpad((g %% 20)::text, 2, '0') || '-' || lpad((g %% 9973)::text, 4, '0'), "
            "'京都市中京区寺町通御池上る上本能寺前町' || (g %% 500) || '番地 コーポ鴨川 ' "
            "|| (g %% 300) || '号室', "
            "now(), 'set_up', now() FROM generate_series(1, %s) g RETURNING id",
            [CARD_PREFIX, count],
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("ANALYZE booking_card")
    print(f"\n(loaded {count:,} set-up cards in {time.perf_counter() - started:.1f} s)", flush=True)
    return ids


def _print(ids: list[int]) -> tuple[dict[str, float], float, Any]:
    from booking.audit import oplog
    from booking.lifecycle import notices

    timings: dict[str, float] = {}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    originals = {
        name: getattr(notices, name)
        for name in ("_states", "_new_passwords", "do_move_cards", "notice_letters")
    }
    setattr(notices, "_states", timed("lock and read the cards", notices._states))  # noqa: B010
    setattr(notices, "_new_passwords", timed("new passwords (HMAC, UPDATE)", notices._new_passwords))  # noqa: B010
    setattr(notices, "do_move_cards", timed("moves to notice sent, with history", notices.do_move_cards))  # noqa: B010

    class _Letters:  # the module, with write_files timed
        def __getattr__(self, name: str) -> Any:
            value = getattr(originals["notice_letters"], name)
            return timed("PDF volumes + CSV, stored", value) if name == "write_files" else value

    setattr(notices, "notice_letters", _Letters())  # noqa: B010
    actor = oplog.Actor(None, "bench", "localhost")
    try:
        started = time.perf_counter()
        result = notices.do_print_notices(ids, actor=actor)
        total = time.perf_counter() - started
    finally:
        for name, value in originals.items():
            setattr(notices, name, value)
    return timings, total, result


def _report_service(
    count: int, timings: dict[str, float], total: float, result: Any, rss_before: float, exports: Path
) -> None:
    stored = sum(path.stat().st_size for path in exports.rglob("*") if path.is_file())
    print(f"\n## 2. the whole service: do_print_notices on {count:,} set-up cards\n")
    print("| phase | time |\n|---|---|")
    for name, seconds in timings.items():
        print(f"| {name} | {seconds:.1f} s |")
    other = total - sum(timings.values())
    print(f"| the rest (checks, reprint events, run row, log, commit) | {other:.1f} s |")
    print(f"| **total** | **{total:.1f} s** ({count / total:,.0f} letters/s) |")
    peak = _peak_rss_mb()
    print(
        f"\npeak resident memory of the process: {peak:,.0f} MB ({rss_before:,.0f} MB before the run); "
        f"files stored: {stored / 1e6:,.1f} MB; run #{result.run.pk}: {result.letters:,} letters, "
        f"{result.new:,} new, {result.reprinted:,} reprinted"
    )


def _clean(connection: Any) -> None:
    from booking.models import NoticeRun

    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM booking_cardevent WHERE card_id IN "
            "(SELECT id FROM booking_card WHERE application_id LIKE %s)",
            [f"{CARD_PREFIX}%"],
        )
        cursor.execute("DELETE FROM booking_card WHERE application_id LIKE %s", [f"{CARD_PREFIX}%"])
    NoticeRun.objects.filter(requested_by="bench").delete()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--letters", type=int, default=100_000, help="letters per run (default 100,000)")
    parser.add_argument("--files-only", action="store_true", help="part 1 only (no database)")
    parser.add_argument("--service-only", action="store_true", help="part 2 only")
    parser.add_argument(
        "--no-single",
        action="store_true",
        help="skip the one-PDF configuration (it needs about 1 GB at 100,000)",
    )
    args = parser.parse_args()
    print(
        f"# notice letters benchmark: {args.letters:,} letters; {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{load:.2f}' for load in os.getloadavg())}, {dt.datetime.now():%Y-%m-%d %H:%M}",
        flush=True,
    )
    if not args.service_only:
        part_files(args.letters, single=not args.no_single)
    if not args.files_only:
        part_service(args.letters)


if __name__ == "__main__":
    main()
