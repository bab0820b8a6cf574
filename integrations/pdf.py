"""What every PDF the product makes shares: the Japanese font and A4 pages.

The font is ReportLab's built-in Japanese CID font (HeiseiKakuGo-W5, Adobe-Japan1): it ships with
ReportLab, so nothing is downloaded at run time and the files stay small (the font is not embedded; PDF
readers and printers supply a matching Japanese Gothic). Text extracted from these PDFs reads back as
Unicode, which the tests rely on.
"""

from __future__ import annotations

from functools import cache

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

FONT = "HeiseiKakuGo-W5"
PAGE_SIZE = A4


@cache
def register_font() -> str:
    """Register the Japanese font once per process; returns its name for setFont()."""
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def text_width(text: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, register_font(), size)
