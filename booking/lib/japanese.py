"""Japanese text as residents and staff type, paste or scan it: width, separators, digits and kana.

The one home of these rules (the issue: "three different separator sets"). Every function is pure and takes
whatever was typed; none raises on odd input. What each one accepts is what people in Japan really send:

- an IME left in full-width mode gives "１２３４" and "ＡＢＣ", and a full-width space "　" between names;
- older systems and some phones give half-width kana "ｷｮｳﾄ";
- digit groups are separated by any dash the IME offers (the ASCII "-", the full-width "－", the long vowel
  mark "ー" that the hyphen key gives in kana mode, and "‐", "‑", "‒", "–", "—", "―", "−"), or by spaces;
- a name in kana may be typed in hiragana ("やまだ たろう") when the form wants katakana.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from booking.lib.digits import is_ascii_digits

# The dashes people put between digit groups, as they are after NFKC (which already turns "－" into "-",
# the half-width "ｰ" into "ー", "‑" into "‐" and "﹣" into "-"). Between digits the long vowel mark "ー" is
# a dash typed in kana mode, never a sound; in a kana name it is a letter, so names never use this set.
DASHES = frozenset("-‐‑‒–—―−ー－")

_SPACES = re.compile(r"\s+")

# Hiragana (small letters, ゔ, ゕ, ゖ) and the hiragana iteration marks ゝゞ sit 0x60 below their katakana.
_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in [*range(0x3041, 0x3097), 0x309D, 0x309E]}

# What a name in katakana may hold: katakana (small letters, ヴ, ヷ-ヺ), the middle dot "・", the long vowel
# mark "ー", the iteration marks "ヽヾ", and single spaces between the parts of the name.
_KATAKANA_NAME_CHAR = re.compile(r"[\u30a1-\u30fa\u30fb\u30fc\u30fd\u30fe ]")


def nfkc(text: str) -> str:
    """Unicode NFKC: full-width letters and digits to ASCII ("ＡＢ１２" → "AB12"), half-width kana to
    full-width ("ｷｮｳﾄ" → "キョウト"), the full-width space to " ", circled digits to digits ("①" → "1")."""
    return unicodedata.normalize("NFKC", text)


def drop_separators(text: str, extra: Iterable[str] = ()) -> str:
    """NFKC, then without dashes, spaces (also full-width spaces, tabs, line ends) and the `extra`
    characters: "１２３４－５６７８　９０１２" → "123456789012". For digit strings only (see DASHES)."""
    dropped = DASHES.union(extra)
    return "".join(char for char in nfkc(text) if not char.isspace() and char not in dropped)


def typed_digits(text: str, *lengths: int) -> str | None:
    """The ASCII digits of a number as typed or scanned, if it is only digits and separators and has one of
    the `lengths` (any length when none is given); else None.

    "１２３４ー５６７８ー９０１２" and "1234-5678-9012" give "123456789012". A hand-held barcode reader
    types the digits followed by Enter, which is dropped like any space."""
    digits = drop_separators(text)
    if not is_ascii_digits(digits) or (lengths and len(digits) not in lengths):
        return None
    return digits


def collapse_spaces(text: str) -> str:
    """Runs of spaces (also full-width spaces, tabs, line ends) as one " ", none at the ends."""
    return _SPACES.sub(" ", text).strip()


def katakana_text(text: str) -> str:
    """A kana name as a file gives it: NFKC (half-width kana and full-width spaces) with single spaces.
    Hiragana stays hiragana, so that `is_katakana_name` can refuse a file that holds it."""
    return collapse_spaces(nfkc(text))


def to_katakana(text: str) -> str:
    """A kana name as a person types it, in full-width katakana with single spaces: hiragana
    ("やまだ　たろう" → "ヤマダ タロウ"), half-width kana ("ﾔﾏﾀﾞ" → "ヤマダ") and full-width spaces."""
    return collapse_spaces(nfkc(text).translate(_HIRAGANA_TO_KATAKANA))


def not_katakana(text: str) -> list[str]:
    """The characters of `text` (normalised first) that a katakana name may not hold, sorted, each once."""
    return sorted({char for char in text if not _KATAKANA_NAME_CHAR.fullmatch(char)})


def is_katakana_name(text: str) -> bool:
    """True if `text` (normalised first, e.g. by `to_katakana`) is a non-empty name in katakana."""
    return bool(text.strip()) and not not_katakana(text)


def same_kana(first: str, second: str) -> bool:
    """The same name in kana whatever the script, width and spacing ("やまだ たろう" is "ヤマダタロウ")."""
    return to_katakana(first).replace(" ", "") == to_katakana(second).replace(" ", "")
