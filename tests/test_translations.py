"""The English catalogue is complete and its committed compiled form matches the source (.po)."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

LOCALE = Path(__file__).resolve().parents[1] / "platform" / "madoguchi" / "locale" / "en" / "LC_MESSAGES"


def po_entries(path: Path) -> dict[str, str]:
    """msgid → msgstr of a .po file (no plural forms are used in this project)."""
    entries: dict[str, str] = {}
    msgid: list[str] = []
    msgstr: list[str] = []
    target: list[str] | None = None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("msgid "):
            if msgid or msgstr:
                entries["".join(msgid)] = "".join(msgstr)
            msgid, msgstr, target = [], [], None
            target = msgid
            line = line[len("msgid ") :]
        elif line.startswith("msgstr "):
            target = msgstr
            line = line[len("msgstr ") :]
        if line.startswith('"') and target is not None:
            target.append(ast.literal_eval(line))
    if msgid or msgstr:
        entries["".join(msgid)] = "".join(msgstr)
    entries.pop("", None)  # the header
    return entries


def test_every_string_has_an_english_text() -> None:
    entries = po_entries(LOCALE / "django.po")
    assert entries, "the English catalogue is empty"
    missing = [msgid for msgid, msgstr in entries.items() if not msgstr]
    assert not missing, f"no English text for: {missing}"
    assert "#, fuzzy\nmsgid" not in (LOCALE / "django.po").read_text(encoding="utf-8")


def test_compiled_catalogue_matches_the_source() -> None:
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for msgid, msgstr in po_entries(LOCALE / "django.po").items():
        assert compiled.gettext(msgid) == msgstr, f"run `make messages`: {msgid!r} is stale in django.mo"
