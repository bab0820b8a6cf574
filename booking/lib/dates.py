"""Time and dates in Japan: every time is stored timezone-aware and shown in Asia/Tokyo; dates are read in the
forms files and people give them, and written the way Japanese letters and mails write them.

Forms read (`date_parts`), each after NFKC so full-width digits ("１９８０－０４－０１") are fine:
- ISO_DATE "1980-04-01": our own files, the browser's date field, the citizen API;
- COMPACT_DATE "19800401": J-LIS card data (fixed-width records hold no separators);
- SLASHED_DATE "1980/4/1": what Excel writes when a CSV has been opened and saved;
- JAPANESE_DATE "1980年4月1日": as residents and staff write a date by hand.
A caller chooses the forms it accepts; the message names them.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from booking.lib.japanese import nfkc

TOKYO = ZoneInfo("Asia/Tokyo")

# A day outside these years is a typing error (a two-digit year, a slip of a key), never a booking, a
# closed day or a report; checking it also keeps date arithmetic from overflowing.
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2099, 12, 31)

ISO_DATE, COMPACT_DATE = "YYYY-MM-DD", "YYYYMMDD"
SLASHED_DATE, JAPANESE_DATE = "YYYY/M/D", "YYYY年M月D日"
_DATE_PATTERNS = {
    ISO_DATE: re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"),
    COMPACT_DATE: re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})"),
    SLASHED_DATE: re.compile(r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})"),
    JAPANESE_DATE: re.compile(r"([0-9]{4})年\s*([0-9]{1,2})月\s*([0-9]{1,2})日"),
}
_MONTH_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})")

WEEKDAYS_JA = "月火水木金土日"


def plausible_day(day: dt.date) -> bool:
    """True for a day from 2000 to 2099: any other is a typing error, refused before it is used."""
    return EARLIEST_DAY <= day <= LATEST_DAY


def date_parts(text: str, formats: tuple[str, ...] = (ISO_DATE,)) -> tuple[int, int, int] | None:
    """(year, month, day) if `text` (surrounding spaces aside) has one of the `formats`, else None. The
    numbers are not checked: `dt.date(*parts)` says whether that day exists (the callers' messages differ)."""
    value = nfkc(text).strip()
    for name in formats:
        if match := _DATE_PATTERNS[name].fullmatch(value):
            return int(match[1]), int(match[2]), int(match[3])
    return None


def parse_date(text: str, formats: tuple[str, ...] = (ISO_DATE,)) -> dt.date | None:
    """The date `text` gives in one of the `formats`, or None (another form, or no such day: 2026-02-30)."""
    parts = date_parts(text, formats)
    if parts is None:
        return None
    try:
        return dt.date(*parts)
    except ValueError:
        return None


def parse_month(text: str) -> dt.date | None:
    """The first day of the month a "YYYY-MM" text names (a page's ?month=2026-12, full-width digits
    fine), or None: another form, no such month, or a year outside 2000–2099 (see `plausible_day`)."""
    match = _MONTH_PATTERN.fullmatch(nfkc(text).strip())
    if match is None:
        return None
    # The year is checked before it makes a date: "0000-01" would raise, not give None.
    year, month = int(match[1]), int(match[2])
    if not (1 <= month <= 12 and EARLIEST_DAY.year <= year <= LATEST_DAY.year):
        return None
    return dt.date(year, month, 1)


def japanese_date(day: dt.date) -> str:
    """A date as Japanese letters and mails write it: 2026年11月20日（金）."""
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAYS_JA[day.weekday()]}）"


# --- showing dates and times in the page's language (issue 15) ---------------------------------------------
# Japanese writes a weekday and asides in full-width brackets and a range with a wave dash
# (2026年12月9日（水）, 9:00〜9:10); English has neither: "Wed, Dec 9, 2026", "9:00–9:10" (an en dash),
# "Visited (09:08)".

WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _english(language: str | None) -> bool:
    if language is None:
        from django.utils.translation import get_language

        language = get_language() or "ja"
    return language.startswith("en")


def local_date(day: dt.date, language: str | None = None) -> str:
    """A date with its weekday the way the language writes it: 2026年12月9日（水） or Wed, Dec 9, 2026.
    `language` defaults to the request's (Django's active language)."""
    if _english(language):
        return f"{WEEKDAYS_EN[day.weekday()]}, {MONTHS_EN[day.month - 1]} {day.day}, {day.year}"
    return japanese_date(day)


def local_moment(when: dt.datetime, language: str | None = None) -> str:
    """A moment in Japan, a deadline: 2026年12月9日（水） 17:00 or Wed, Dec 9, 2026 17:00."""
    at = when.astimezone(TOKYO)
    return f"{local_date(at.date(), language)} {at.hour}:{at.minute:02d}"


def short_date(day: dt.date, language: str | None = None) -> str:
    """Month/day with the weekday, for tables: 12/9（水） or Wed 12/9."""
    if _english(language):
        return f"{WEEKDAYS_EN[day.weekday()]} {day.month}/{day.day}"
    return f"{day.month}/{day.day}（{WEEKDAYS_JA[day.weekday()]}）"


def range_dash(language: str | None = None) -> str:
    """Between the two ends of a range: 〜 in Japanese, an en dash in English."""
    return "–" if _english(language) else "〜"


def time_range(start: dt.time, end: dt.time, language: str | None = None) -> str:
    """9:00〜9:10 or 9:00–9:10 (no leading zero on the hour, as clocks at counters are read)."""
    return f"{start.hour}:{start.minute:02d}{range_dash(language)}{end.hour}:{end.minute:02d}"


def aside(text: object, language: str | None = None) -> str:
    """An aside after a word: （15:38） in Japanese, " (15:38)" in English."""
    return f" ({text})" if _english(language) else f"（{text}）"
