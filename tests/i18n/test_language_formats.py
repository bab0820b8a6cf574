"""Dates, ranges, asides and Japanese data written the way the page's language writes them (issue 15):
booking.lib.dates and the template builtins of booking.lib.display."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import engines
from django.utils import translation

from booking.lib import dates

DAY = dt.date(2026, 12, 9)  # a Wednesday


def render(source: str, language: str, **context: object) -> str:
    with translation.override(language):
        return engines["django"].from_string(source).render(context)


@pytest.mark.parametrize(
    ("language", "long", "short", "dash", "aside"),
    [
        ("ja", "2026年12月9日（水）", "12/9（水）", "9:00〜9:10", "（15:38）"),
        ("en", "Wed, Dec 9, 2026", "Wed 12/9", "9:00–9:10", " (15:38)"),
    ],
)
def test_each_language_has_its_own_forms(language: str, long: str, short: str, dash: str, aside: str) -> None:
    assert dates.local_date(DAY, language) == long
    assert dates.short_date(DAY, language) == short
    assert dates.time_range(dt.time(9, 0), dt.time(9, 10), language) == dash
    assert dates.aside("15:38", language) == aside


def test_the_active_language_is_the_default() -> None:
    with translation.override("en"):
        assert dates.local_date(DAY) == "Wed, Dec 9, 2026"
    with translation.override("ja"):
        assert dates.local_date(DAY) == dates.japanese_date(DAY)


def test_the_filters_need_no_load_and_show_tokyo_time() -> None:
    start = dt.datetime(2026, 12, 9, 0, 0, tzinfo=dt.UTC)  # 9:00 in Tokyo
    end = start + dt.timedelta(minutes=10)
    source = "{{ start|local_date }} {{ start|time_range:end }}{{ at|aside }} a{% dash %}b"
    assert render(source, "en", start=start, end=end, at="15:38") == "Wed, Dec 9, 2026 9:00–9:10 (15:38) a–b"
    assert (
        render(source, "ja", start=start, end=end, at="15:38")
        == "2026年12月9日（水） 9:00〜9:10（15:38） a〜b"
    )


def test_japanese_data_is_marked_on_english_pages_only() -> None:
    source = "{{ name|ja }}|{{ latin|ja }}|{{ evil|ja }}"
    context = {"name": "ヤマダ タロウ", "latin": "Kyoto", "evil": "<b>京</b>"}
    assert render(source, "en", **context) == (
        '<span lang="ja">ヤマダ タロウ</span>|Kyoto|<span lang="ja">&lt;b&gt;京&lt;/b&gt;</span>'
    )
    assert render(source, "ja", **context) == "ヤマダ タロウ|Kyoto|&lt;b&gt;京&lt;/b&gt;"


def test_an_aside_of_marked_data_keeps_the_mark() -> None:
    assert render("{{ kana|ja|aside }}", "en", kana="スズキ") == ' (<span lang="ja">スズキ</span>)'


def test_a_stored_two_language_error_is_shown_in_one() -> None:
    stored = "1件の誤りがあります。何も取り込んでいません / 1 error(s); nothing was imported\n5行目 / line 5"
    assert render("{{ e|one_language }}", "en", e=stored) == "1 error(s); nothing was imported\nline 5"
    assert (
        render("{{ e|one_language }}", "ja", e=stored) == "1件の誤りがあります。何も取り込んでいません\n5行目"
    )
    assert render("{{ e|one_language }}", "en", e="plain") == "plain"
