"""Schemathesis over the served OpenAPI schema (/api/schema/), against the WSGI app in-process (issue 13).

Every operation gets generated requests (valid and invalid) three ways: with the token its security scheme
asks for (a resident's or an administrator's), with no token, and with a token of the wrong kind. Whatever
comes in, the app never answers 5xx, and every status it answers is one the schema documents (400, 401,
403, 404, 409 …), so clients can rely on the schema. The budget is bounded (`EXAMPLES` per operation and
way, derandomized so a run is reproducible); the outside test's 16,657 cases ran on a production server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import status_code_conformance

from booking.access import accounts
from booking.citizen.login import do_create_citizen_token
from booking.engine.services import do_book
from tests import factories
from tests.conftest import KYOTO_HOST
from tests.staff_helpers import PASSWORD, make_staff

pytestmark = pytest.mark.django_db

# Examples per operation and way of authenticating: 10 operations (6 of them tried 3 ways) × 25 stay well
# under a minute on a 2-core machine (a run of 250 each found nothing more), and still reach each
# parameter's invalid forms (schemathesis' negative mode).
EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance]
WAYS = ["own_token", "no_token", "wrong_token"]


@pytest.fixture
def _in_process_requests() -> Iterator[None]:
    """The requests run on the test's own connection, inside its transaction (so they see its rows and
    leave none behind): Django's test client does the same, unhooking the handler that closes a
    connection it finds in a transaction at each request's start and end."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def _quick_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tokens(kyoto: None, _quick_hasher: None) -> dict[str, str]:
    """A resident with a booked card's token, an administrator's password-only token."""
    issued = factories.issue_card()
    slot = factories.next_free_slot()
    do_book(issued.card, factories.place(), factories.card_issuance(), slot.starts_at)
    resident, _ = do_create_citizen_token(issued.card)
    make_staff("fuzz-admin", "administrator")
    staff = accounts.do_staff_token_login("fuzz-admin", PASSWORD, "127.0.0.1", None).token
    return {"citizenToken": resident, "staffToken": staff}


def _scheme(operation: Any) -> str | None:
    """The bearer scheme the operation's schema names, if any (drf-spectacular lists it in `security`)."""
    for requirement in operation.definition.raw.get("security", []):
        for name in requirement:
            if name in ("citizenToken", "staffToken"):
                return str(name)
    return None


def _headers(way: str, scheme: str | None, tokens: dict[str, str]) -> dict[str, str]:
    if way == "no_token" or scheme is None:
        return {"Host": KYOTO_HOST}
    other = "staffToken" if scheme == "citizenToken" else "citizenToken"
    token = tokens[scheme if way == "own_token" else other]
    return {"Host": KYOTO_HOST, "Authorization": f"Bearer {token}"}


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        # Django's test client's address: the werkzeug client sends none, and the gate needs one.
        case.call_and_validate(headers=headers, checks=CHECKS, environ_base={"REMOTE_ADDR": "127.0.0.1"})

    run()


def test_no_server_error_and_every_status_documented(
    tokens: dict[str, str], _in_process_requests: None
) -> None:
    from madoguchi.wsgi import application

    schema = schemathesis.openapi.from_wsgi("/api/schema/", application, headers={"Host": KYOTO_HOST})
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # a schema schemathesis cannot read is a failure too
        operations.append(result.ok())
    assert len(operations) >= 10, [op.label for op in operations]  # every operation the API has
    failures: list[str] = []
    for operation in operations:
        scheme = _scheme(operation)
        for way in WAYS if scheme else ["no_token"]:
            try:
                _fuzz(operation, _headers(way, scheme, tokens))
            # Every operation is tried, and every failure shown (schemathesis raises an exception group).
            except (Exception, BaseExceptionGroup) as failure:
                failures.append(f"{operation.label} ({way}): {failure}")
    assert not failures, "\n\n".join(failures)
