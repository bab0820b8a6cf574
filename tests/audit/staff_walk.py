"""The walk over every staff URL for the operation-log tests (issue 13: every write by a signed-in person in
the operation log, by user ID; SO-14).

Every URL pattern under /staff/ and /api/v1/staff/ has exactly one row in one of the walk's tables: the
console shell's (`test_every_staff_write_is_logged`), the products' screens' (`test_every_product_write_is_
logged`) or the call center's (`test_every_operator_write_is_logged`). A row either lists the writes that URL
can make, each a recipe that makes a valid one and the action its entry must carry, or says why the URL
writes nothing. Which URLs write was decided by reading each view, not by probing: several read pages answer
a POST as they answer a GET.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from booking.models import OperationLogEntry
from tests.staff_helpers import make_staff, sign_in

TENANT_URLCONF = "madoguchi.urls_tenant"
SCOPE = ("staff/", "api/v1/staff/")


@dataclass
class Staff:
    """A signed-in staff member the recipes act as."""

    client: Client
    user_id: int
    username: str
    monkeypatch: pytest.MonkeyPatch


Write = Callable[[Staff], None]


@dataclass(frozen=True)
class Row:
    """`writes`: (recipe, action) for each kind of change the URL makes; or `why` it writes nothing."""

    writes: tuple[tuple[Write, str], ...] = ()
    why: str = ""


def writes(*pairs: tuple[Write, str]) -> Row:
    return Row(writes=pairs)


def read(why: str) -> Row:
    return Row(why=why)


def url_patterns(
    resolvers: list[URLPattern | URLResolver], prefix: str, namespace: str
) -> Iterator[tuple[str, str]]:
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            inner = entry.namespace or namespace
            yield from url_patterns(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif entry.name:
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), prefix + str(entry.pattern)


def staff_endpoints() -> set[str]:
    """The names of every URL pattern under /staff/ and /api/v1/staff/ (the operators' flow included)."""
    found = url_patterns(get_resolver(TENANT_URLCONF).url_patterns, "", "")
    return {name for name, route in found if route.startswith(SCOPE)}


def cases(rows: dict[str, Row]) -> list[tuple[str, str]]:
    return sorted((name, action) for name, row in rows.items() for _write, action in row.writes)


def recipe(rows: dict[str, Row], name: str, action: str) -> Write:
    return next(write for write, logged in rows[name].writes if logged == action)


def signed_in_administrator(monkeypatch: pytest.MonkeyPatch, username: str) -> Staff:
    """In the current schema. An administrator may make every console write but the call center's, which
    `test_every_operator_write_is_logged` makes as an operator. Made per test: the test's transaction is
    rolled back, so a user made once per module would have to be committed and removed by hand."""
    profile = make_staff(username, "administrator")
    return Staff(sign_in(username), profile.user.pk, username, monkeypatch)


def assert_logged_by(staff: Staff, write: Write, action: str) -> None:
    """`write` leaves a NEW entry `action` carrying the staff member's user ID and name."""
    before = OperationLogEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    write(staff)
    new = OperationLogEntry.objects.filter(seq__gt=before, action=action)
    assert new.exists(), f"no new {action!r} entry"
    mine = new.filter(user_id_snapshot=staff.user_id)
    assert mine.exists(), f"{action!r} was logged without the user's ID: {list(new.values('username'))}"
    assert {entry.username for entry in mine} == {staff.username}
