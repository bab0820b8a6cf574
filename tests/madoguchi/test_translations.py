"""The English catalogue is complete and its committed compiled form matches the source (.po)."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

CONTEXT_SEPARATOR = "\x04"  # how gettext joins a message context to its msgid
LOCALE = Path(__file__).resolve().parents[2] / "platform" / "madoguchi" / "locale" / "en" / "LC_MESSAGES"


def po_entries(path: Path) -> dict[str, str]:
    """msgid → msgstr of a .po file; a plural entry: its singular msgid → its forms joined by |."""
    entries: dict[str, str] = {}
    parts: dict[str, list[str]] = {}
    target: list[str] | None = None

    def flush() -> None:
        if parts.get("msgid") is not None:
            forms = [key for key in sorted(parts) if key.startswith("msgstr")]
            context = "".join(parts["msgctxt"]) + CONTEXT_SEPARATOR if "msgctxt" in parts else ""
            entries[context + "".join(parts["msgid"])] = "|".join("".join(parts[key]) for key in forms)

    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        keyword = line.split(" ", 1)[0] if line and not line.startswith(('"', "#")) else ""
        if keyword in {"msgctxt", "msgid"} and "msgid" in parts:
            flush()
            parts = {}
        if keyword in {"msgctxt", "msgid", "msgid_plural"} or keyword.startswith("msgstr"):
            target = parts.setdefault(keyword, [])
            line = line[len(keyword) + 1 :]
        if line.startswith('"') and target is not None:
            target.append(ast.literal_eval(line))
    flush()
    entries.pop("", None)  # the header
    return entries


def test_every_string_has_an_english_text() -> None:
    entries = po_entries(LOCALE / "django.po")
    assert entries, "the English catalogue is empty"
    missing = [msgid for msgid, msgstr in entries.items() if not all(msgstr.split("|"))]
    assert not missing, f"no English text for: {missing}"
    assert "#, fuzzy\nmsgid" not in (LOCALE / "django.po").read_text(encoding="utf-8")


def test_compiled_catalogue_matches_the_source() -> None:
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for key, msgstr in po_entries(LOCALE / "django.po").items():
        context, _, msgid = key.rpartition(CONTEXT_SEPARATOR)
        forms = msgstr.split("|")
        if context:
            assert compiled.pgettext(context, msgid) == msgstr, f"run `make messages`: {key!r} is stale"
        elif len(forms) > 1:  # plural: what the catalogue gives for one and for many
            assert [compiled.ngettext(msgid, msgid, n) for n in (1, 2)] == forms[:2], msgid
        else:
            assert compiled.gettext(msgid) == msgstr, f"run `make messages`: {msgid!r} is stale in django.mo"
