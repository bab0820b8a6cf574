"""The notes a card's history keeps, and how a page shows them in its language.

A note is stored as it was written when the card moved, in Japanese: the history is the municipality's record,
and the export keeps it as it is. A page in English shows the fixed notes translated (they are in the
catalogue), and rebuilds in English the notes of an import, which name their file and job.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

PRINT = gettext_noop("通知書印刷")
REPRINT = gettext_noop("通知書再印刷")
MIGRATED = gettext_noop("旧システムから移行")

_IMPORT_JOB = re.compile(r"(?P<file>.+)取込 job (?P<job>\d+)")
_IMPORT_COMMAND = re.compile(r"(?P<file>.+)取込（import_cards）")


def import_note(file: str, job: int | None = None) -> str:
    """The note of the cards an import made: from the staff screen (its job) or the command."""
    return f"{file}取込 job {job}" if job is not None else f"{file}取込（import_cards）"


def shown_note(note: str) -> str:
    """`note` in the page's language: an import's rebuilt, a fixed one translated, a typed one as typed."""
    if found := _IMPORT_JOB.fullmatch(note):
        return _("%(file)sの取込（ジョブ %(job)s）") % {"file": found["file"], "job": found["job"]}
    if found := _IMPORT_COMMAND.fullmatch(note):
        return _("%(file)sの取込（import_cards コマンド）") % {"file": found["file"]}
    return _(note) if note else ""
