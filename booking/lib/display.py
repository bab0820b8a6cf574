"""Template filters that write dates, ranges, asides and Japanese data the way the page's language does (issue
15). A template builtin (settings.TEMPLATES), so templates need no {% load %}.

- `{{ day|local_date }}` 2026年12月9日（水） / Wed, Dec 9, 2026; `{{ day|short_date }}` 12/9（水） / Wed 12/9;
- `{{ start|time_range:end }}` 9:00〜9:10 / 9:00–9:10 (datetimes shown in Asia/Tokyo);
- `{% dash %}` 〜 / –, between two ends a template writes itself;
- `{{ value|aside }}` （value） / " (value)";
- `{{ value|ja }}`: on a page not in Japanese, a value written in Japanese (a resident's name, an address, a
  place without an English name) is marked `<span lang="ja">`, so screen readers read it as Japanese.
"""

from __future__ import annotations

import datetime as dt
import re

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from booking.lib import dates

register = template.Library()
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff60\u3000-\u303f]")


def _tokyo(value: dt.datetime | dt.date) -> dt.date | dt.datetime:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dates.TOKYO)
    return value


@register.filter
def local_date(value: dt.date | dt.datetime | None) -> str:
    if not value:
        return ""
    day = _tokyo(value)
    return dates.local_date(day.date() if isinstance(day, dt.datetime) else day)


@register.filter
def short_date(value: dt.date | dt.datetime | None) -> str:
    if not value:
        return ""
    day = _tokyo(value)
    return dates.short_date(day.date() if isinstance(day, dt.datetime) else day)


@register.filter
def time_range(start: dt.datetime | dt.time | None, end: dt.datetime | dt.time | None) -> str:
    if start is None or end is None:
        return ""

    def clock(value: dt.datetime | dt.time) -> dt.time:
        return value.astimezone(dates.TOKYO).time() if isinstance(value, dt.datetime) else value

    return dates.time_range(clock(start), clock(end))


@register.simple_tag
def dash() -> str:
    return dates.range_dash()


@register.filter(is_safe=True)
def aside(value: object) -> SafeString:
    if value in (None, ""):
        return mark_safe("")  # noqa: S308 - empty
    english = (get_language() or "ja").startswith("en")
    return format_html(" ({})", value) if english else format_html("（{}）", value)


@register.filter(is_safe=True)
def ja(value: object) -> SafeString:
    text = "" if value is None else str(value)
    if (get_language() or "ja").startswith("ja") or not _JAPANESE.search(text):
        return conditional_escape(text)
    return format_html('<span lang="ja">{}</span>', text)


@register.filter
def one_language(value: object) -> str:
    """A text a background job stored in both languages, line by line "日本語 / English" (a worker has no
    reader's language: booking.jobs.kinds.Reason), shown in the page's language only."""
    english = (get_language() or "ja").startswith("en")
    lines = []
    for line in ("" if value is None else str(value)).split("\n"):
        ja_part, separator, en_part = line.partition(" / ")
        lines.append((en_part if english else ja_part) if separator else line)
    return "\n".join(lines)
