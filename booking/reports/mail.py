"""The report mails' subjects and bodies: the daily report in plain text, the monthly report in plain text
and in HTML (the screen's chart and table)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from booking.lib.dates import WEEKDAYS_JA, japanese_date
from booking.reports.chart import monthly_chart_svg
from booking.reports.days import day_note
from booking.reports.formatting import monthly_title
from booking.reports.queries import DailyFigures, MonthlyFigures, Tally
from tenants.queries import current_tenant_name


def render_daily(figures: DailyFigures) -> tuple[str, str]:
    """The daily report's subject and plain-text body (plain text reads the same in every mail client)."""
    subject = _("【日報】%(tenant)s %(day)s 受電%(calls)d件・新規予約%(new)d件") % {
        "tenant": current_tenant_name(),
        "day": japanese_date(figures.day),
        "calls": figures.calls_total,
        "new": figures.new_total,
    }
    lines = [
        _("%(tenant)s 予約システム 日報") % {"tenant": current_tenant_name()},
        _("対象日: %(day)s") % {"day": japanese_date(figures.day)},
        "",
        _("■ 受電件数（計 %(n)d件）") % {"n": figures.calls_total},
        *_tally_lines(figures.calls),
        "",
        _("■ 新規予約（計 %(n)d件）") % {"n": figures.new_total},
        "  " + _("受付経路別"),
        *_tally_lines(figures.new_by_channel, indent="    "),
        "  " + _("サービス別"),
        *_tally_lines(figures.new_by_service, indent="    "),
        "",
        _("■ 予約の変更: %(n)d件") % {"n": figures.changes},
        _("■ 予約の取消: %(n)d件") % {"n": figures.cancellations},
        "",
        _("■ 今後の予約件数（予約済み、予約のある場所のみ）"),
        *_ahead_lines(figures),
        "",
        _(
            "この報告は予約システムから自動で送信しています。日別・月別の集計は管理画面の「日報・月報」で見られます。"
        ),
    ]
    return subject, "\n".join(lines) + "\n"


def _tally_lines(tallies: tuple[Tally, ...], indent: str = "  ") -> list[str]:
    return [f"{indent}{tally.label}: " + _("%(n)d件") % {"n": tally.count} for tally in tallies]


def _ahead_lines(figures: DailyFigures) -> list[str]:
    lines: list[str] = []
    for index, day in enumerate(figures.ahead_days):
        total = figures.ahead_totals[index]
        note = f" {day_note(day)}" if day_note(day) else ""
        lines.append(f"  {japanese_date(day)}{note}: " + _("計 %(n)d件") % {"n": total})
        lines.extend(
            f"    {place.name}: " + _("%(n)d件") % {"n": place.counts[index]}
            for place in figures.ahead
            if place.counts[index]
        )
    return lines


def render_monthly(figures: MonthlyFigures) -> tuple[str, str, str]:
    """The monthly report's subject, plain-text body and HTML body (the screen's chart and table)."""
    totals = figures.totals
    subject = _("【月報】%(tenant)s %(year)d年%(month)d月 受電%(calls)d件・新規予約%(new)d件") % {
        "tenant": current_tenant_name(),
        "year": figures.year,
        "month": figures.month,
        "calls": totals.calls_total,
        "new": totals.new_total,
    }
    lines = [
        _("%(tenant)s 予約システム 月報") % {"tenant": current_tenant_name()},
        _("対象月: %(year)d年%(month)d月") % {"year": figures.year, "month": figures.month},
        "",
        _("■ 受電件数（計 %(n)d件）") % {"n": totals.calls_total},
        *(
            f"  {kind}: " + _("%(n)d件") % {"n": n}
            for kind, n in zip(figures.call_kinds, totals.calls, strict=True)
        ),
        _("■ 新規予約（計 %(n)d件）") % {"n": totals.new_total},
        *(f"  {ch}: " + _("%(n)d件") % {"n": n} for ch, n in zip(figures.channels, totals.new, strict=True)),
        _("■ 予約の変更: %(n)d件") % {"n": totals.changes},
        _("■ 予約の取消: %(n)d件") % {"n": totals.cancellations},
        "",
        _("■ 日別（受電 / 新規予約 / 変更 / 取消）"),
        *(
            f"  {row.day.month}/{row.day.day}（{WEEKDAYS_JA[row.day.weekday()]}）"
            f" {row.counts.calls_total} / {row.counts.new_total} / {row.counts.changes} / "
            f"{row.counts.cancellations}{' ' + row.note if row.note else ''}"
            for row in figures.rows
        ),
        "",
        _("日別の内訳は添付のCSVと、HTML表示のグラフ・表をご覧ください。"),
    ]
    html = render_to_string(
        "booking/staff/reports/monthly_mail.html",
        {"figures": figures, "chart": monthly_chart_svg(figures), "title": monthly_title(figures)},
    )
    return subject, "\n".join(lines) + "\n", html
