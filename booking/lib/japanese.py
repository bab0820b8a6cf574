"""Japanese text as residents and staff type, paste or scan it: width, separators, digits and kana.

The one home of these rules (the issue: "three different separator sets"). Every function is pure and takes
whatever was typed; none raises on odd input. What each one accepts is what people in Japan really send:

- an IME left in full-width mode gives "１２３４" and "ＡＢＣ", and a full-width space "　" between names;
- older systems and some phones give half-width kana "ｷｮｳﾄ";
- digit groups are separated by any dash the IME offers (the ASCII "-", the full-width "－", the long vowel
  mark "ー" that the hyphen key gives in kana mode, and "‐", "‑", "‒", "–", "—", "―", "−"), or by spaces;
- a name in kana may be typed in hiragana ("やまだ たろう") when the form wants katakana;
- a name in kanji may be written with a variant form (itaiji) of a character: the register says "髙橋", the
  clerk types "高橋" (see `name_key`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from django.db.models import Func, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Replace

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


# Variant forms (itaiji) of characters common in names, and the form people type for them. A register or a
# J-LIS record keeps "髙橋", "山﨑" or "齋藤"; a clerk searching types "高橋", "山崎", "斎藤" (the IME offers
# those first), and sometimes the reverse. Only variants that are the same name are listed: "斉" and "斎"
# are different names, so each keeps its own old form. NFKC already folds most CJK compatibility ideographs
# (U+FA10 → U+585A, "tsuka"), but not the twelve of them that Unicode counts as unified, like "﨑" U+FA11; and
# "髙" is a character of its own.
ITAIJI = {
    "髙": "高",
    "﨑": "崎",
    "嵜": "崎",
    "碕": "崎",
    "齋": "斎",
    "齊": "斉",
    "邊": "辺",
    "邉": "辺",
    "澤": "沢",
    "濱": "浜",
    "濵": "浜",
    "櫻": "桜",
    "國": "国",
    "廣": "広",
    "實": "実",
    "眞": "真",
    "德": "徳",
    "惠": "恵",
    "榮": "栄",
    "藏": "蔵",
    "瀨": "瀬",
    "冨": "富",
    "嶋": "島",
    "嶌": "島",
    "峯": "峰",
    "槇": "槙",
    "舘": "館",
    "條": "条",
    "萬": "万",
    "壽": "寿",
    "彌": "弥",
    "圓": "円",
    "曾": "曽",
    "桒": "桑",
    "栁": "柳",
    "𠮷": "吉",
    # The small ke in place names and surnames ("三ヶ島", "三ケ島", "三ヵ島") reads as ke or ka either way.
    "ヶ": "ケ",
    "ヵ": "カ",
}
# Latin capitals to small letters, A-Z only: what the database's `translate` does whatever its locale
# (`lower` under the C locale of the local database leaves "É" as it is; residents' registers write foreign
# names in plain capitals)
_LATIN_CAPITALS = {chr(code): chr(code + 32) for code in range(ord("A"), ord("Z") + 1)}
_NAME_FOLDS = {**ITAIJI, **_LATIN_CAPITALS}
_NAME_FOLD_TABLE = str.maketrans(_NAME_FOLDS)


def name_key(text: str) -> str:
    """A name in kanji as search compares it: NFKC (full-width letters, half-width kana), variant forms to
    the usual ones (`ITAIJI`), Latin capitals A-Z in small letters (a foreign resident's "SMITH John" is
    typed "smith" too), and no spaces at all, since registers and people space names differently
    ("髙橋　一郎", "高橋一郎" and "高橋 一郎" give "高橋一郎"). `name_key_sql` is the same in the database."""
    return "".join(nfkc(text).translate(_NAME_FOLD_TABLE).split())


def name_key_sql(field: str | Combinable) -> Func:
    """`name_key` as a database expression over a column, to compare with `name_key(query)`: PostgreSQL's
    NFKC (`normalize`, a UTF-8 database), `translate` with the `ITAIJI` table and A-Z to a-z, spaces
    removed (after NFKC the full-width space is " "; names from files hold no other blank)."""
    variants = "".join(_NAME_FOLDS)
    usual = "".join(_NAME_FOLDS.values())
    normalised = Func(field, template="normalize(%(expressions)s, NFKC)")
    translated = Func(normalised, Value(variants), Value(usual), function="translate")
    return Replace(translated, Value(" "), Value(""))
