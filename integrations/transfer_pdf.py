"""The printed transfer list (BK-13): the sheet that travels with the cards from the back office to a counter.

A4 portrait: a title block (counter, day, cut time), the cards in time order with a tick column, the changes
after the cut, and boxes for the signatures of who hands the cards over (移送者) and who receives them
(受領者). Pages are numbered "n / total" so a missing page is noticed. Plain data in, PDF bytes out: no
models, so it is tested and reused without a database.

The lists of all counters of a day come as one file (`render_many`): each counter's sheet starts on a new
page and is numbered on its own ("1 / 2" of that counter), since each goes to its own counter.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from booking.lib.dates import japanese_date
from integrations.pdf import PAGE_SIZE, register_font

MARGIN = 15 * mm
GRID = colors.HexColor("#555555")
HEAD = colors.HexColor("#e6e6e6")
# Small enough that a 23-digit application ID fits one line of an A4 portrait table.
CELL_FONT_SIZE = 7.5


@dataclass(frozen=True)
class SheetRow:
    time: str
    reservation_number: str
    application_id: str
    name_kana: str
    card: str  # the card's state and where it is now
    action: str = ""


@dataclass(frozen=True)
class SheetException:
    kind: str
    changed_at: str
    time: str
    reservation_number: str
    name_kana: str
    change: str
    card: str
    action: str


@dataclass(frozen=True)
class TransferSheet:
    municipality: str
    place: str
    day: dt.date
    cut_at: str
    printed_at: str
    is_cut: bool
    rows: list[SheetRow] = field(default_factory=list)
    exceptions: list[SheetException] = field(default_factory=list)


def render(sheet: TransferSheet) -> bytes:
    return render_many([sheet], title=_footer(sheet))


def render_many(sheets: list[TransferSheet], title: str) -> bytes:
    """One PDF of several counters' sheets (at least one), each from a new page, numbered on its own."""
    font = register_font()
    styles = _Styles(font)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=PAGE_SIZE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 5 * mm,
        title=title,
        author=sheets[0].municipality,
    )
    story: list[Any] = []
    for number, sheet in enumerate(sheets):
        if number:
            story.append(PageBreak())
        story.append(_Section((number, _footer(sheet))))
        story.extend(_sheet_story(sheet, styles))
    document.build(story, canvasmaker=partial(_NumberedCanvas, font=font))
    return buffer.getvalue()


def _footer(sheet: TransferSheet) -> str:
    return f"移送リスト {sheet.place} {japanese_date(sheet.day)}"


class _Section(Flowable):
    """Marks where a counter's sheet starts: the pages from here on carry its footer and numbering."""

    def __init__(self, key: tuple[int, str]) -> None:
        super().__init__()
        self.key = key

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.canv.section = self.key


def _sheet_story(sheet: TransferSheet, styles: _Styles) -> list[Any]:
    story: list[Any] = [
        Paragraph("移送リスト", styles.title),
        _header_table(sheet, styles),
        Spacer(1, 4 * mm),
        Paragraph(
            f"{'締め時点の予約' if sheet.is_cut else '現時点の予約（締め前）'}（{len(sheet.rows)}枚）",
            styles.heading,
        ),
        _rows_table(sheet.rows, styles),
        Spacer(1, 4 * mm),
    ]
    changes = (
        _exceptions_table(sheet.exceptions, styles)
        if sheet.exceptions
        else Paragraph("締め後の変更はありません。", styles.cell)
    )
    # The changes and the signatures stay together where they fit: signing a page of nothing but boxes
    # tells the receiver nothing.
    heading = Paragraph(f"締め後の変更（{len(sheet.exceptions)}件）", styles.heading)
    story.append(KeepTogether([heading, changes, Spacer(1, 6 * mm), _signature_table(styles)]))
    return story


class _Styles:
    def __init__(self, font: str) -> None:
        self.title = ParagraphStyle("title", fontName=font, fontSize=18, leading=24, spaceAfter=4 * mm)
        self.heading = ParagraphStyle("heading", fontName=font, fontSize=12, leading=16, spaceAfter=2 * mm)
        self.cell = ParagraphStyle("cell", fontName=font, fontSize=CELL_FONT_SIZE, leading=10, wordWrap="CJK")
        self.font = font


def _p(text: str, styles: _Styles) -> Paragraph:
    return Paragraph(escape(text), styles.cell)


def _grid(font: str, *extra: tuple[Any, ...]) -> TableStyle:
    return TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("FONTSIZE", (0, 0), (-1, -1), CELL_FONT_SIZE),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("GRID", (0, 0), (-1, -1), 0.5, GRID),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            *extra,
        ]
    )


def _header_table(sheet: TransferSheet, styles: _Styles) -> Table:
    cut = sheet.cut_at if sheet.is_cut else f"{sheet.cut_at}（締め前の見込み。確定ではありません）"
    rows = [
        ["窓口", _p(sheet.place, styles)],
        ["来庁日", japanese_date(sheet.day)],
        ["リストの締め", _p(cut, styles)],
        ["出力日時", sheet.printed_at],
        ["自治体", _p(sheet.municipality, styles)],
    ]
    table = Table(rows, colWidths=[30 * mm, 120 * mm], hAlign="LEFT")
    table.setStyle(_grid(styles.font, ("BACKGROUND", (0, 0), (0, -1), HEAD)))
    return table


def _rows_table(rows: list[SheetRow], styles: _Styles) -> Table:
    head = ["No.", "時刻", "予約番号", "申請書ID", "氏名（カナ）", "カード（状態・場所）", "対応", "確認"]
    body = [
        [
            str(number),
            row.time,
            row.reservation_number,
            row.application_id,
            _p(row.name_kana, styles),
            _p(row.card, styles),
            _p(row.action, styles),
            "",
        ]
        for number, row in enumerate(rows, 1)
    ]
    if not body:
        body = [["", "", "", "", _p("該当するカードはありません。", styles), "", "", ""]]
    widths = [8 * mm, 11 * mm, 24 * mm, 43 * mm, 33 * mm, 30 * mm, 18 * mm, 9 * mm]
    table = Table([head, *body], colWidths=widths, repeatRows=1)
    table.setStyle(_grid(styles.font, ("BACKGROUND", (0, 0), (-1, 0), HEAD)))
    return table


def _exceptions_table(rows: list[SheetException], styles: _Styles) -> Table:
    head = [
        "区分",
        "変更日時",
        "時刻",
        "予約番号",
        "氏名（カナ）",
        "変更内容",
        "カード（状態・場所）",
        "対応",
    ]
    body = [
        [
            _p(row.kind, styles),
            _p(row.changed_at, styles),
            row.time,
            row.reservation_number,
            _p(row.name_kana, styles),
            _p(row.change, styles),
            _p(row.card, styles),
            _p(row.action, styles),
        ]
        for row in rows
    ]
    widths = [20 * mm, 20 * mm, 11 * mm, 24 * mm, 27 * mm, 33 * mm, 27 * mm, 18 * mm]
    table = Table([head, *body], colWidths=widths, repeatRows=1)
    table.setStyle(_grid(styles.font, ("BACKGROUND", (0, 0), (-1, 0), HEAD)))
    return table


def _signature_table(styles: _Styles) -> Table:
    box = "日時：　　　年　　月　　日　　時　　分\n\n氏名："
    table = Table(
        [["移送者", "受領者"], [box, box]], colWidths=[85 * mm, 85 * mm], rowHeights=[7 * mm, 24 * mm]
    )
    table.setStyle(
        _grid(
            styles.font,
            ("FONTSIZE", (0, 0), (-1, -1), 10),
            ("BACKGROUND", (0, 0), (-1, 0), HEAD),
            ("VALIGN", (0, 1), (-1, 1), "TOP"),
        )
    )
    return table


class _NumberedCanvas(canvas.Canvas):
    """Draws "page / pages" of its sheet on every page once the number of pages is known (after the last
    one); `section` is the sheet a page belongs to (set by `_Section` as the sheet starts)."""

    def __init__(self, *args: Any, font: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._font = font
        self._pages: list[dict[str, Any]] = []
        self.section: tuple[int, str] = (0, "")

    def showPage(self) -> None:  # noqa: N802 - ReportLab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        totals = Counter(state["section"] for state in self._pages)
        numbers: Counter[tuple[int, str]] = Counter()
        for state in self._pages:
            self.__dict__.update(state)
            numbers[self.section] += 1
            self.setFont(self._font, 8)
            width, _height = PAGE_SIZE
            self.drawString(MARGIN, MARGIN / 2, self.section[1])
            number, total = numbers[self.section], totals[self.section]
            self.drawRightString(width - MARGIN, MARGIN / 2, f"{number} / {total}")
            super().showPage()
        super().save()
