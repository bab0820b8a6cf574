"""The host routing's memory (tenants.routing, issue 12): a request pays no query for its municipality, and a
change of the routing (suspension, domains) is seen at once here and within a second in every process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django_tenants.utils import get_public_schema_name, schema_context

from console import vendor_log
from tenants import lifecycle, routing
from tenants.db import tenant_connection
from tenants.models import Municipality
from tests.conftest import KYOTO_HOST, Tenants
from tests.madoguchi.test_redis_outage import redis_down  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

ACTOR = vendor_log.Actor("ops", None, "127.0.0.1")


class _DomainQueries:
    """Counts the statements that read the routing's tables."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "tenants_domain" in sql:
            self.count += 1
        return execute(sql, params, many, context)


@pytest.fixture
def domain_queries() -> Iterator[_DomainQueries]:
    watch = _DomainQueries()
    with connection.execute_wrapper(watch):
        yield watch


def test_a_host_is_looked_up_once(tenants: Tenants, domain_queries: _DomainQueries) -> None:
    client = Client(HTTP_HOST=KYOTO_HOST)
    for _ in range(5):
        assert client.get("/").status_code == 200
    assert domain_queries.count == 1


def test_an_unknown_host_is_remembered_too_and_forgotten_when_it_is_routed(
    tenants: Tenants, domain_queries: _DomainQueries
) -> None:
    client = Client(HTTP_HOST="new.localhost")
    for _ in range(3):
        assert client.get("/").status_code == 404
    assert domain_queries.count == 1  # a flood of made-up hosts does not reach the database
    lifecycle.do_add_domain(ACTOR, tenants.mihon, "new.localhost")
    assert client.get("/").status_code == 200


def test_a_suspension_and_a_resumption_apply_at_once(tenants: Tenants) -> None:
    client = Client(HTTP_HOST=KYOTO_HOST)
    assert client.get("/").status_code == 200
    lifecycle.do_suspend(ACTOR, tenants.kyoto, "契約手続き中")
    assert client.get("/").status_code == 503
    lifecycle.do_resume(ACTOR, tenants.kyoto)
    assert client.get("/").status_code == 200


def test_a_removed_domain_is_no_longer_routed(tenants: Tenants) -> None:
    lifecycle.do_add_domain(ACTOR, tenants.mihon, "old.localhost")
    client = Client(HTTP_HOST="old.localhost")
    assert client.get("/").status_code == 200
    lifecycle.do_remove_domain(ACTOR, tenants.mihon, "old.localhost")
    assert client.get("/").status_code == 404


def test_another_process_s_change_is_seen_within_the_check_interval(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process suspends: its bump moves Redis's generation; this process's memory is dropped at its
    next check (CHECK_SECONDS, here 0 so that the test need not sleep)."""
    client = Client(HTTP_HOST=KYOTO_HOST)
    assert client.get("/").status_code == 200
    # the row changes as another process's transaction would change it, without this process's forget
    from django.utils import timezone

    Municipality.objects.filter(pk=tenants.kyoto.pk).update(suspended_at=timezone.now())
    assert client.get("/").status_code == 200  # still remembered: nothing told this process yet
    with schema_context(get_public_schema_name()):
        cache.raw_client().incr(cache.make_key(routing.GENERATION_KEY))  # type: ignore[attr-defined]
    monkeypatch.setattr(routing, "CHECK_SECONDS", 0.0)
    assert client.get("/").status_code == 503


def test_the_municipality_handed_out_is_a_copy(tenants: Tenants) -> None:
    first = routing.tenant_for_host(KYOTO_HOST)
    assert isinstance(first, Municipality)
    first.domain_url = "somewhere.else"  # what the middleware sets
    second = routing.tenant_for_host(KYOTO_HOST)
    assert second is not None and second is not first
    assert getattr(second, "domain_url", None) != "somewhere.else"


def test_without_redis_every_request_reads_the_database_and_none_fails(
    tenants: Tenants,
    redis_down: None,  # noqa: F811 - the fixture
    domain_queries: _DomainQueries,
) -> None:
    client = Client(HTTP_HOST=KYOTO_HOST)
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert domain_queries.count == 3  # nothing kept that no generation could invalidate
    lifecycle.do_suspend(ACTOR, tenants.kyoto, "契約手続き中")  # the bump cannot reach Redis: no error
    try:
        assert client.get("/").status_code == 503
    finally:
        # the session's Municipality object is shared by every test: left as found (a later test that
        # hands tenants.kyoto to a middleware read it as suspended)
        lifecycle.do_resume(ACTOR, tenants.kyoto)


def test_a_municipality_without_its_schema_is_answered_503_and_never_reaches_the_public_tables(
    tenants: Tenants, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provisioning that stopped between the row and the schema, or a schema lost: its search_path would
    fall through to the public schema's tables of the same names (the operators' accounts and sessions), so
    its host is not routed at all until the schema is made (provision_tenant) or restored."""
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from tenants.models import Domain

    (kusatsu,) = Municipality.objects.bulk_create([Municipality(schema_name="kusatsu", name="草津市")])
    Domain.objects.bulk_create([Domain(domain="kusatsu.localhost", tenant=kusatsu, is_primary=True)])
    with schema_context(get_public_schema_name()):  # an operator's account, in the public schema's auth_user
        get_user_model().objects.create_user("operator", password="Kumo-Sora-58#q")
    routing.forget_routes()
    client = Client(HTTP_HOST="kusatsu.localhost")
    with caplog.at_level("ERROR", logger="tenants.routing"):
        page = client.get("/")
    assert page.status_code == 503 and page["Retry-After"] == "300"
    text = page.content.decode()
    assert "ただいまご利用いただけません" in text and "Not available" in text
    assert "kusatsu, whose schema is missing" in caplog.text
    for path in ("/staff/login/", "/login/", "/accessibility/"):
        assert client.get(path).status_code == 503, path
    signin = client.post("/staff/login/", {"username": "operator", "password": "Kumo-Sora-58#q"})
    assert signin.status_code == 503 and "sessionid" not in signin.cookies
    api = client.get("/api/v1/availability/", {"location": "1", "service": "card_issuance"})
    assert api.status_code == 503 and api.json()["code"] == "unavailable"
    assert "ご利用いただけません".encode() in api.content  # UTF-8 as DRF writes, not \u escapes
    assert Client(HTTP_HOST=KYOTO_HOST).get("/").status_code == 200  # nobody else is touched
    # nor does it get the periodic tasks of every municipality (each would fail on the public tables)
    from celery import current_app

    from tenants.tasks import for_each_tenant

    sent: list[str] = []
    monkeypatch.setattr(
        current_app, "send_task", lambda *a, **k: sent.append(tenant_connection().schema_name)
    )
    for_each_tenant("booking.release_expired_holds")
    assert "kusatsu" not in sent and {"kyoto", "mihon"} <= set(sent)

    made = StringIO()
    args = ("kusatsu", "--name", "草津市", "--domain", "kusatsu.localhost")
    call_command("provision_tenant", *args, stdout=made)
    assert "made the schema of kusatsu" in made.getvalue()
    assert client.get("/").status_code == 200  # made: routed at once (provisioning forgets the routes)
