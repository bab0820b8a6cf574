"""Notice letters (交付通知書, AD-03): the printable PDF and the print vendor's CSV, made in one pass.

The letter tells a resident that their My Number Card is ready and gives the reservation number and the
password they book with; the password exists in clear only here, so both files are secrets (see
docs/formats/notice-letters.md for the layout, the CSV columns and how to handle the files).

Pure file-making: no models, no settings. The caller gives the letters (any iterable, consumed once) and
what is the same on every letter of the run (`Issuer`), and gets the files written into an
`integrations.storage.ExportStorage`.

Scale. ReportLab keeps every page of a document in memory until it saves it (about 5 KB a page for this
layout), so one PDF of 100,000 letters would need about a gigabyte. The letters are therefore cut into
volumes of `VOLUME_SIZE` (10,000) letters, which is also how print shops take large jobs: each volume is
a PDF of its own in a temporary file, and a run of more than one volume is stored as a ZIP of the volumes.
Everything that is the same on every page (texts, frames, the booking site's QR code) is drawn once per
volume as a PDF form (XObject) and placed on each page, so a page carries only the addressee, the numbers
and the barcode. Memory is then bounded by one volume, whatever the run's size (bench/notice_letters_bench.py
measures it).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import IO

from reportlab import rl_config
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128, qr
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from integrations import csv_export, storage
from integrations.pdf import PAGE_SIZE, register_font, text_width

VOLUME_SIZE = 10_000
PROGRESS_EVERY = 250
CHUNK_BYTES = 64 * 1024
CSV_COLUMNS = (
    "seq",
    "volume",
    "page",
    "application_id",
    "reservation_number",
    "password",
    "postal_code",
    "address",
    "name",
    "outside_font",
    "municipality",
    "booking_url",
)
# Shown in place of a character the PDF's font cannot show (the mark Japanese printing uses for it).
GETA_MARK = "\u3013"  # 〓
LATIN_BOLD = "Helvetica-Bold"
# A fixed-width face for the password: every character in its own box, 8/B, 5/S and 2/Z distinct.
PASSWORD_FONT = "Courier-Bold"  # noqa: S105 - a font name
_FORM = "letter"
_NO_LINE_START = set("、。，．・：；？！）」』】〕〉》ー゛゜ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ")
PAGE_WIDTH, PAGE_HEIGHT = PAGE_SIZE


@dataclass(frozen=True)
class Letter:
    """One resident's letter (also a row of import_cards' LETTERS.csv). `password` is the only clear copy."""

    application_id: str
    reservation_number: str
    password: str = field(repr=False)
    name: str
    postal_code: str
    address: str


@dataclass(frozen=True)
class Issuer:
    """What every letter of a run says alike."""

    municipality: str
    booking_url: str
    bring: str
    issued_on: dt.date
    inquiry: str = ""


@dataclass
class WrittenFiles:
    letters: int = 0
    volumes: int = 0
    pdf_bytes: int = 0
    csv_bytes: int = 0
    outside_font: int = 0  # letters whose name or address has a character the PDF shows as 〓
    keys: list[str] = field(default_factory=list)


Progress = Callable[[int], None]


def volume_count(letters: int, volume_size: int = VOLUME_SIZE) -> int:
    if letters <= 0:
        return 0
    return 1 if volume_size <= 0 else -(-letters // volume_size)


def pdf_extension(letters: int, volume_size: int = VOLUME_SIZE) -> str:
    """ "pdf" for a run of one volume, "zip" (a ZIP of the volumes' PDFs) for more."""
    return "zip" if volume_count(letters, volume_size) > 1 else "pdf"


def volume_name(volume: int, volumes: int) -> str:
    return f"notices-{volume:03d}-of-{volumes:03d}.pdf"


def write_files(
    target: storage.ExportStorage,
    *,
    pdf_key: str,
    csv_key: str,
    letters: Iterable[Letter],
    count: int,
    issuer: Issuer,
    volume_size: int = VOLUME_SIZE,
    progress: Progress | None = None,
) -> WrittenFiles:
    """Render `count` letters into the PDF (or ZIP of PDF volumes) and the vendor CSV under the keys.

    `pdf_key` must end in `pdf_extension(count, volume_size)`. The letters are read once. If anything
    fails, whatever was already stored is deleted again, so a failed run leaves no file with passwords.
    """
    expected = pdf_extension(count, volume_size)
    if not pdf_key.endswith(f".{expected}"):
        raise ValueError(f"{count} letters in volumes of {volume_size} make a .{expected} file: {pdf_key}")
    written = WrittenFiles(volumes=volume_count(count, volume_size))
    with ExitStack() as temporaries:
        volumes: list[IO[bytes]] = []
        csv_file = temporaries.enter_context(tempfile.TemporaryFile())  # unlinked at once, mode 0600

        def new_volume() -> IO[bytes]:
            handle = temporaries.enter_context(tempfile.TemporaryFile())
            volumes.append(handle)
            return handle

        rows = _render(letters, issuer, written, new_volume, volume_size, progress)
        for chunk in csv_export.iter_csv(CSV_COLUMNS, rows, csv_export.DEFAULT_ENCODING):
            csv_file.write(chunk)
        if written.letters != count:
            raise ValueError(f"expected {count} letters, got {written.letters}")
        try:
            written.keys.append(pdf_key)
            if len(volumes) > 1:
                members = [(volume_name(n, len(volumes)), _chunks(f)) for n, f in enumerate(volumes, 1)]
                written.pdf_bytes = storage.save_zip(target, pdf_key, members)
            else:
                written.pdf_bytes = target.save_stream(pdf_key, _chunks(volumes[0]) if volumes else iter(()))
            written.keys.append(csv_key)
            written.csv_bytes = target.save_stream(csv_key, _chunks(csv_file))
        except BaseException:
            delete_files(target, written.keys)
            raise
    return written


def delete_files(target: storage.ExportStorage, keys: Iterable[str]) -> None:
    for key in keys:
        if key:
            target.delete(key)


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    handle.seek(0)
    while chunk := handle.read(CHUNK_BYTES):
        yield chunk


def _render(
    letters: Iterable[Letter],
    issuer: Issuer,
    written: WrittenFiles,
    new_volume: Callable[[], IO[bytes]],
    volume_size: int,
    progress: Progress | None,
) -> Iterator[list[object]]:
    """Draw each letter on its volume's next page and yield its CSV row (the CSV drives the loop)."""
    pdf: LetterPdf | None = None
    volume = page = 0
    for letter in letters:
        if pdf is None or (volume_size > 0 and page == volume_size):
            if pdf is not None:
                pdf.close()
            volume, page = volume + 1, 0
            pdf = LetterPdf(new_volume(), issuer, volume=volume, volumes=written.volumes)
        page += 1
        written.letters += 1
        replaced = pdf.add(letter, written.letters)
        written.outside_font += int(replaced)
        yield _row(letter, issuer, written.letters, volume, page, replaced)
        if progress is not None and written.letters % PROGRESS_EVERY == 0:
            progress(written.letters)
    if pdf is not None:
        pdf.close()
    if progress is not None:
        progress(written.letters)


def _row(letter: Letter, issuer: Issuer, seq: int, volume: int, page: int, replaced: bool) -> list[object]:
    return [
        seq,
        volume,
        page,
        letter.application_id,
        letter.reservation_number,
        letter.password,
        letter.postal_code,
        letter.address,
        letter.name,
        int(replaced),
        issuer.municipality,
        issuer.booking_url,
    ]


# --- the PDF -------------------------------------------------------------------------------------------


def printable(text: str) -> tuple[str, bool]:
    """The text as the PDF's font can show it, and whether a character had to become 〓.

    The font is addressed by 16-bit Unicode (UniJIS-UCS2-H), so characters beyond the BMP (𠮷) cannot be
    shown at all, and characters outside the Japanese character sets (hangul, emoji) are not in the font.
    Such 外字 are printed as 〓; the vendor CSV keeps the real text and flags the row (`outside_font`).
    """
    if text.isascii():
        return text, False
    out = [char if _in_font(char) else GETA_MARK for char in text]
    result = "".join(out)
    return result, result != text


def _in_font(char: str) -> bool:
    if ord(char) > 0xFFFF or unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
        return False
    for codec in ("euc_jis_2004", "cp932"):
        try:
            char.encode(codec)
        except UnicodeEncodeError:
            continue
        return True
    return False


def wrap(text: str, size: float, width: float) -> list[str]:
    """Lines of at most `width` points; Japanese breaks between any characters, but not before 。、）etc."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line, used = "", 0.0
        for char in paragraph:
            advance = text_width(char, size)
            if line and used + advance > width and char not in _NO_LINE_START:
                lines.append(line)
                line, used = ("", 0.0) if char.isspace() else (char, advance)
            else:
                line, used = line + char, used + advance
        lines.append(line)
    return lines


def fit(text: str, sizes: Sequence[float], width: float, max_lines: int) -> tuple[float, list[str]]:
    """The largest size at which the text fits in `max_lines`; at the smallest, the lines cut to fit."""
    for size in sizes:
        lines = wrap(text, size, width)
        if len(lines) <= max_lines:
            return size, lines
    return sizes[-1], wrap(text, sizes[-1], width)[:max_lines]


def _top(millimetres: float) -> float:
    """A distance from the top of the page as ReportLab's y (from the bottom)."""
    return PAGE_HEIGHT - millimetres * mm


def qr_widget(url: str) -> qr.QrCodeWidget:
    """The booking site's QR code; level M survives a smudge on a paper letter."""
    return qr.QrCodeWidget(url, barLevel="M")


def application_barcode(application_id: str) -> code128.Code128:
    """Code 128 (digits packed two a symbol), read by the counter's hand scanners. The quiet zones (ten
    modules each side) are left blank by the layout rather than drawn."""
    return code128.Code128(application_id, barWidth=0.28 * mm, barHeight=9 * mm, humanReadable=False, quiet=0)


def barcode_bars(barcode: code128.Code128, x: float, y: float) -> str:
    """The barcode's bars as one PDF path, for `Canvas.addLiteral`.

    The same bars ReportLab's `drawOn` draws (`MultiWidthBarcode.draw`: upper-case letters are bars,
    lower-case spaces, the letter's rank their width in modules), but as one filled path instead of a
    filled rectangle per bar: a third of the time of a page went into those 49 rectangles.
    """
    width, height = barcode.barWidth, barcode.barHeight
    barcode.width  # noqa: B018 - measuring the barcode encodes it (fills `decomposed`)
    left = x
    bars = []
    for symbol in barcode.decomposed:
        if symbol.isupper():
            bar = (ord(symbol) - ord("A") + 1) * width
            bars.append(f"{left:.3f} {y:.3f} {bar:.3f} {height:.3f} re")
            left += bar
        else:
            left += (ord(symbol) - ord("a") + 1) * width
    return " ".join(bars) + " f"


class LetterPdf:
    """One volume: A4 portrait pages, folded in three for a 長形3号 window envelope."""

    def __init__(self, out: IO[bytes], issuer: Issuer, *, volume: int = 1, volumes: int = 1) -> None:
        self.font = register_font()
        self.issuer = issuer
        self.volume, self.volumes = volume, volumes
        self.canvas = Canvas(out, pagesize=PAGE_SIZE, pageCompression=1, invariant=1)
        self.canvas.setTitle(f"交付通知書 {issuer.municipality} 第{volume}冊/全{volumes}冊")
        self.canvas.setAuthor(issuer.municipality)
        self.canvas.setSubject("マイナンバーカード交付通知書（パスワードを含みます）")
        self.canvas.setCreator("Madoguchi")
        self._draw_form()

    def add(self, letter: Letter, seq: int) -> bool:
        """Draw the letter's page; True if its name or address had characters the font lacks."""
        c = self.canvas
        c.doForm(_FORM)
        replaced = self._addressee(letter)
        self._numbers(letter)
        self._barcode(letter, seq)
        c.showPage()
        return replaced

    def close(self) -> None:
        with _binary_streams():
            self.canvas.save()

    # -- what changes from letter to letter

    def _addressee(self, letter: Letter) -> bool:
        """The address window (長3 window: 20 mm from the left, 15–60 mm from the top)."""
        c = self.canvas
        address, address_replaced = printable(letter.address)
        name, name_replaced = printable(letter.name)
        c.setFont(self.font, 12)
        c.drawString(22 * mm, _top(21), f"〒{letter.postal_code}")
        size, lines = fit(address, (11, 10, 9, 8, 7, 6), 86 * mm, 4)
        y = 27.0
        for line in lines:
            c.setFont(self.font, size)
            c.drawString(22 * mm, _top(y), line)
            y += size * 1.3 / mm
        name_size, name_lines = fit(f"{name}　様", (16, 14, 12, 10, 8), 86 * mm, 2)
        y = max(y + 2, 47.0)
        for line in name_lines:
            c.setFont(self.font, name_size)
            c.drawString(22 * mm, _top(y + name_size / mm * 0.6), line)
            y += name_size * 1.25 / mm
        return address_replaced or name_replaced

    def _numbers(self, letter: Letter) -> None:
        c = self.canvas
        number = letter.reservation_number
        c.setFont(LATIN_BOLD, 24)
        c.drawString(62 * mm, _top(131), "  ".join(number[i : i + 4] for i in range(0, len(number), 4)))
        c.setFont(PASSWORD_FONT, 22)
        for index, char in enumerate(letter.password):
            left = _password_cell_left(index)
            c.drawCentredString(left + 4.5 * mm, _top(148.6), char)

    def _barcode(self, letter: Letter, seq: int) -> None:
        c = self.canvas
        c.addLiteral(barcode_bars(application_barcode(letter.application_id), 122 * mm, _top(43)))
        c.setFont(self.font, 8)
        c.drawString(124 * mm, _top(47), "申請書ID " + " ".join(_groups(letter.application_id, 5)))
        c.setFont(self.font, 7)
        c.drawString(124 * mm, _top(51.5), f"No.{seq}（第{self.volume}冊/全{self.volumes}冊）")

    # -- what every letter shares, drawn once per volume

    def _draw_form(self) -> None:
        c = self.canvas
        issuer = self.issuer
        c.beginForm(_FORM)
        font = self.font
        municipality, _ = printable(issuer.municipality)
        # the sender, beside the address window
        c.setFont(font, 10)
        c.drawString(120 * mm, _top(20), municipality)
        c.setFont(font, 8)
        issued = issuer.issued_on
        c.drawString(120 * mm, _top(25), f"発行日 {issued.year}年{issued.month}月{issued.day}日")
        # fold marks in the margin (tri-fold for a 長3 envelope)
        c.setLineWidth(0.3)
        for fold in (99, 198):
            c.line(0, _top(fold), 5 * mm, _top(fold))
            c.line(PAGE_WIDTH - 5 * mm, _top(fold), PAGE_WIDTH, _top(fold))
        c.setFont(font, 18)
        c.drawString(20 * mm, _top(74), "マイナンバーカード交付通知書")
        c.setFont(font, 11)
        c.drawString(20 * mm, _top(82), "（カードの受け取りの予約のご案内）")
        intro = (
            "あなたのマイナンバーカードができあがりました。受け取りには予約が必要です。"
            "下の予約番号とパスワードで予約サイトにログインし、受け取る場所と日時を予約してください。"
        )
        self._paragraph(intro, 10, 20, 105, 170)
        self._credentials_frame()
        self._site(issuer.booking_url)
        self._how_to(issuer, municipality)
        c.endForm()

    def _credentials_frame(self) -> None:
        c = self.canvas
        c.setLineWidth(1.2)
        c.roundRect(18 * mm, _top(164), 174 * mm, 45 * mm, 3 * mm)
        c.setFont(self.font, 11)
        c.drawString(24 * mm, _top(130), "予約番号")
        c.drawString(24 * mm, _top(147), "パスワード")
        c.setLineWidth(0.6)
        for index in range(10):
            c.rect(_password_cell_left(index), _top(152), 9 * mm, 11 * mm)
        c.setFont(self.font, 8)
        c.drawString(
            24 * mm,
            _top(159),
            "パスワードは英大文字と数字の10文字です。数字の0・1と英字のO・I・Lは使っていません。"
            "大文字・小文字は区別しません。",
        )

    def _site(self, url: str) -> None:
        c = self.canvas
        c.setFont(self.font, 11)
        c.drawString(20 * mm, _top(174), "予約サイト")
        size, lines = fit(url, (14, 12, 10, 8), 130 * mm, 2)
        c.setFont(LATIN_BOLD, size)
        y = 181.0
        for line in lines:
            c.drawString(20 * mm, _top(y), line)
            y += size * 1.3 / mm
        c.setFont(self.font, 8)
        c.drawString(20 * mm, _top(y + 1), "右のQRコードをスマートフォンで読み取っても開けます。")
        widget = qr_widget(url)
        left, bottom, right, top = widget.getBounds()
        side = 26 * mm
        drawing = Drawing(side, side, transform=[side / (right - left), 0, 0, side / (top - bottom), 0, 0])
        drawing.add(widget)
        renderPDF.draw(drawing, c, 164 * mm, _top(195))

    def _how_to(self, issuer: Issuer, municipality: str) -> None:
        c = self.canvas
        c.setFont(self.font, 11)
        c.drawString(20 * mm, _top(206), "予約のしかた")
        steps = (
            "1. 予約サイトを開きます。",
            "2. 予約番号とパスワードを入力してログインします。",
            "3. 受け取る場所と日時を選んで予約します。予約の確認・変更・取消も予約サイトでできます。",
        )
        y = 212.0
        for step in steps:
            y = self._paragraph(step, 9.5, 22, y, 168)
        c.setFont(self.font, 11)
        c.drawString(20 * mm, _top(y + 4), "受け取りの日にお持ちいただくもの")
        bring, _ = printable(issuer.bring)
        size, lines = fit(bring, (9.5, 9, 8, 7), 168 * mm, 5)
        y = self._lines(lines, size, 22, y + 10)
        c.setFont(self.font, 11)
        c.drawString(20 * mm, _top(y + 4), "ご注意")
        notes = (
            "・この通知書は受け取りの日に必ずお持ちください。",
            "・予約番号とパスワードは他の人に教えないでください。",
            "・通知書が再発行されると、前の通知書のパスワードは使えなくなります。",
        )
        y += 10
        for note in notes:
            y = self._paragraph(note, 9, 22, y, 168)
        inquiry, _ = printable(issuer.inquiry)
        contact = f"お問い合わせ: {municipality}" + (f"　{inquiry}" if inquiry else "")
        size, lines = fit(contact, (9, 8, 7), 170 * mm, 3)
        self._lines(lines, size, 20, max(y + 3, 280))

    def _paragraph(self, text: str, size: float, left: float, top: float, width: float) -> float:
        """Draw wrapped text from `top` (mm); returns the top of the next line (mm)."""
        return self._lines(wrap(text, size, width * mm), size, left, top)

    def _lines(self, lines: list[str], size: float, left: float, top: float) -> float:
        c = self.canvas
        c.setFont(self.font, size)
        for line in lines:
            c.drawString(left * mm, _top(top), line)
            top += size * 1.45 / mm
        return top


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Save without ReportLab's ASCII85 layer over compressed streams: a quarter smaller and about a third
    faster (ReportLab encodes it in pure Python). The setting is global and read while saving; any PDF made
    meanwhile in another thread is still valid, only larger or smaller."""
    previous = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = previous


def _password_cell_left(index: int) -> float:
    """Ten boxes 9 mm wide, in two groups of five, so a person can keep their place while typing."""
    return 62 * mm + index * 10 * mm + (4 * mm if index >= 5 else 0)


def _groups(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]
