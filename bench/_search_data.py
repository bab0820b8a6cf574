"""The staff search benchmark's data: a year of card-issuance slots, N cards with names drawn from Kyoto's
commonest surnames, and N bookings, loaded in bulk SQL; and their clean-up (bench/staff_search_bench.py).

Imported by the script after `django.setup()`.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

from django.db import connection, transaction

from booking.lib.dates import TOKYO
from booking.models import ClosedDay, OpeningPattern, Place, Service, Slot
from booking.rules import schedule

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
    tokyo_start = dt.datetime.combine(first, dt.time.min, TOKYO)
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
