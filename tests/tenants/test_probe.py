"""The external prober (BK-08): its probe card (made through booking.provisioning; signs in, never books, is
never in staff lists or counts), the check of a site the way a resident reaches it, the command's samples."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future
from io import StringIO
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.callcenter.services import CallerNotFound, do_identify_caller
from booking.citizen.login import do_citizen_login
from booking.engine.services import BookingError, do_book
from booking.lifecycle.progress import state_counts
from booking.models import Booking, Card, Hold, Slot
from console import probe
from console.availability_services import do_ensure_probe_account
from console.models import ProbeAccount, ProbeSample, VendorLogEntry
from tests import factories
from tests.conftest import KYOTO_HOST, Tenants
from tests.staff_helpers import SETUP, make_staff, sign_in

pytestmark = pytest.mark.django_db


class Answer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> Any:
        return json.loads(self._body)


class ThroughDjango(requests.Session):
    """A requests session answered by the Django test client: the prober's real requests, in-process."""

    def request(self, method: str, url: str, **kwargs: Any) -> Any:  # type: ignore[override]
        headers = dict(kwargs.get("headers") or {})
        parts = urlsplit(url)
        host = headers.pop("Host", parts.hostname)
        client = Client(HTTP_HOST=host)
        extra = {"HTTP_AUTHORIZATION": headers["Authorization"]} if "Authorization" in headers else {}
        if method == "POST":
            answer = client.post(parts.path, kwargs["json"], content_type="application/json", **extra)
        else:
            answer = client.get(parts.path, kwargs.get("params") or {}, **extra)
        return Answer(answer.status_code, answer.content)


class SameThread:
    def __init__(self, max_workers: int) -> None:
        pass

    def __enter__(self) -> SameThread:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def map(self, fn: Any, items: Any) -> Any:
        return [fn(item) for item in items]

    def submit(self, fn: Any, item: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(item))
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def target(tenants: Tenants) -> probe.Target:
    account = do_ensure_probe_account(tenants.kyoto)
    return probe.Target(tenants.kyoto.pk, "kyoto", KYOTO_HOST, account.reservation_number, account.password)


def test_the_probe_card_is_made_once_signs_in_and_is_logged(tenants: Tenants) -> None:
    first = do_ensure_probe_account(tenants.kyoto)
    assert do_ensure_probe_account(tenants.kyoto).password == first.password  # made once
    assert VendorLogEntry.objects.filter(action="probe.card", target="kyoto").count() == 1
    with schema_context("kyoto"):
        card = do_citizen_login(first.reservation_number, first.password, "192.0.2.9")
        assert card.probe
    renewed = do_ensure_probe_account(tenants.kyoto, renew=True)
    assert renewed.password != first.password and ProbeAccount.objects.count() == 1
    with schema_context("kyoto"):
        assert Card.with_probe.filter(probe=True).count() == 1


def test_staff_never_see_the_probe_card(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        before = state_counts()
    account = do_ensure_probe_account(tenants.kyoto)
    with schema_context("kyoto"):
        assert state_counts() == before
        assert not Card.objects.filter(reservation_number=account.reservation_number).exists()
        assert Card.with_probe.filter(reservation_number=account.reservation_number).exists()


def test_the_probe_card_is_in_no_staff_screen_search_or_call_center_lookup(tenants: Tenants) -> None:
    account = do_ensure_probe_account(tenants.kyoto)
    with schema_context("kyoto"):
        make_staff("probe_admin", "administrator")
        resident = factories.issue_card().card
        card = Card.with_probe.get(reservation_number=account.reservation_number)
        with pytest.raises(CallerNotFound):  # an operator cannot serve a "caller" with it
            do_identify_caller(SETUP, account.reservation_number, birth_date=card.birth_date, name_kana="")
    staff = sign_in("probe_admin")
    page = staff.get("/staff/cards/list/?state=notice_sent")
    listing = page.content.decode()
    assert page.status_code == 200 and resident.name in listing  # the residents' cards are listed
    assert account.reservation_number not in listing and "カドウカンシヨウ" not in listing
    assert staff.get(f"/staff/cards/{card.pk}/").status_code == 404
    scanned = staff.get(f"/staff/cards/scan/?q={account.reservation_number}")
    assert f"/staff/cards/{card.pk}/" not in scanned.get("Location", "")


def test_the_engine_and_the_database_refuse_any_booking_by_the_probe_card(tenants: Tenants) -> None:
    account = do_ensure_probe_account(tenants.kyoto)
    with schema_context("kyoto"):
        card = Card.with_probe.get(reservation_number=account.reservation_number)
        free = factories.next_free_slot()
        with pytest.raises(BookingError) as refused:
            do_book(card, factories.place(), factories.card_issuance(), free.starts_at)
        assert refused.value.code == "probe_card"
        assert "稼働監視用のカード" in refused.value.message
        # whatever code (or person with psql) writes one, the trigger refuses it
        slot = Slot.objects.create(
            place=factories.place(),
            service=factories.card_issuance(),
            starts_at=free.starts_at,
            ends_at=free.ends_at,
            capacity=free.capacity,
        )
        for write in (
            lambda: Booking.objects.create(card=card, slot=slot),
            lambda: Hold.objects.create(card=card, slot=slot, expires_at=timezone.now()),
        ):
            with pytest.raises(IntegrityError, match="probe_card_never_books"), transaction.atomic():
                write()


def test_a_check_passes_the_way_a_resident_gets_through(tenants: Tenants) -> None:
    ok, reason = probe.check(target(tenants), "http://127.0.0.1:9", ThroughDjango())
    assert (ok, reason) == (True, "")
    # the same check with {domain} in the base URL reaches each site by its own name
    assert probe.check(target(tenants), "https://{domain}", ThroughDjango()) == (True, "")


def test_a_check_names_the_step_that_failed(tenants: Tenants) -> None:
    wrong = probe.Target(tenants.kyoto.pk, "kyoto", KYOTO_HOST, "000000000000", "wrong")
    ok, reason = probe.check(wrong, "http://127.0.0.1:9", ThroughDjango())
    assert not ok and reason == "sign-in: HTTP 401 (expected 201)"
    gone = probe.Target(tenants.kyoto.pk, "kyoto", "nowhere.localhost", "", "")
    assert probe.check(gone, "http://127.0.0.1:9", ThroughDjango()) == (False, "top: HTTP 404 (expected 200)")
    # nothing listening: a failed sample, not an error
    ok, reason = probe.check(target(tenants), "http://127.0.0.1:9")
    assert not ok and reason.startswith("top: ConnectionError")


def test_the_command_records_one_sample_per_municipality(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probe.requests, "Session", ThroughDjango)
    # in this thread: the test's transaction (and the probe cards made in it) is this connection's only
    monkeypatch.setattr(probe, "ThreadPoolExecutor", SameThread)
    out = StringIO()
    call_command("probe", "--once", "--base-url", "http://127.0.0.1:9", stdout=out)
    samples = {s.tenant_id: s for s in ProbeSample.objects.all()}
    assert set(samples) == {tenants.kyoto.pk, tenants.mihon.pk}
    assert all(s.ok and s.latency_ms >= 0 for s in samples.values()), [s.reason for s in samples.values()]
    assert "probed 2 municipalities, 0 failed" in out.getvalue()
    with pytest.raises(Exception, match="base-url"):
        call_command("probe", "--once", "--base-url", "gateway", stdout=StringIO())
    # a round every 5 minutes would leave 3 minutes in 5 without a sample: stopped, in the report
    with pytest.raises(Exception, match="10 to 60 seconds"):
        call_command("probe", "--interval", "300", stdout=StringIO())


def test_a_hung_site_fails_its_own_sample_and_holds_no_other(tenants: Tenants) -> None:
    """A host that never finishes answering (TIMEOUT bounds each wait for a byte, not the answer) gives a
    failed sample when the round's deadline passes; the other municipalities' samples are not held."""
    release = threading.Event()

    def checker(target: probe.Target, base_url: str) -> tuple[bool, str]:
        if target.schema == "mihon":
            release.wait(30)
        return True, ""

    hung = probe.Target(tenants.mihon.pk, "mihon", "mihon.localhost", "", "")
    fine = probe.Target(tenants.kyoto.pk, "kyoto", KYOTO_HOST, "", "")
    began = time.monotonic()
    try:
        samples = probe.probe_all([hung, fine], "http://127.0.0.1:9", checker=checker, deadline=0.5)
    finally:
        release.set()
    assert time.monotonic() - began < 5
    by_tenant = {s.tenant_id: s for s in samples}
    assert by_tenant[tenants.kyoto.pk].ok
    late = by_tenant[tenants.mihon.pk]
    assert not late.ok and late.reason == "prober: no answer within 0.5 s" and late.latency_ms == 500


def test_one_municipality_without_a_probe_card_costs_the_others_nothing(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.management.commands import probe as command

    real = command.do_ensure_probe_account

    def ensure(tenant: Any, **kwargs: Any) -> Any:
        if tenant.schema_name == "mihon":  # say, its schema still being made
            raise RuntimeError("relation booking_card does not exist")
        return real(tenant, **kwargs)

    monkeypatch.setattr(command, "do_ensure_probe_account", ensure)
    monkeypatch.setattr(probe.requests, "Session", ThroughDjango)
    monkeypatch.setattr(probe, "ThreadPoolExecutor", SameThread)
    call_command("probe", "--once", "--base-url", "http://127.0.0.1:9", stdout=StringIO())
    assert [(s.tenant_id, s.ok) for s in ProbeSample.objects.all()] == [(tenants.kyoto.pk, True)]


class Queueing(requests.Session):
    """A site whose waiting room is admitting a crowd: pages answer, the API says to wait in line."""

    def request(self, method: str, url: str, **kwargs: Any) -> Any:  # type: ignore[override]
        if urlsplit(url).path.startswith("/api/"):
            body = {"code": "waiting_room", "position": 12, "estimated_wait_seconds": 60, "retry_after": 30}
            return Answer(503, json.dumps(body).encode())
        return Answer(200, b"<html></html>")


def test_a_waiting_room_is_up_and_says_so(tenants: Tenants) -> None:
    """Residents admitted in order are being served: the minute is up, the reason shows the queue."""
    ok, reason = probe.check(target(tenants), "http://127.0.0.1:9", Queueing())
    assert (ok, reason) == (True, "availability: waiting room")


def test_a_suspended_municipality_is_sampled_as_such_and_never_called(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenants.models import Municipality

    Municipality.objects.filter(pk=tenants.mihon.pk).update(suspended_at=timezone.now(), suspended_by="ops")
    called: list[str] = []

    class Recording(ThroughDjango):
        def request(self, method: str, url: str, **kwargs: Any) -> Any:  # type: ignore[override]
            called.append(dict(kwargs.get("headers") or {}).get("Host", ""))
            return super().request(method, url, **kwargs)

    monkeypatch.setattr(probe.requests, "Session", Recording)
    monkeypatch.setattr(probe, "ThreadPoolExecutor", SameThread)
    call_command("probe", "--once", "--base-url", "http://127.0.0.1:9", stdout=StringIO())
    samples = {s.tenant_id: s for s in ProbeSample.objects.all()}
    assert samples[tenants.kyoto.pk].ok
    assert (samples[tenants.mihon.pk].ok, samples[tenants.mihon.pk].reason) == (False, ProbeSample.SUSPENDED)
    assert called and "mihon.localhost" not in called
    assert not ProbeAccount.objects.filter(tenant=tenants.mihon).exists()


def test_without_a_gateway_in_front_the_prober_says_what_the_gateway_would(tenants: Tenants) -> None:
    """The HA rehearsal probes the web tier itself: X-Forwarded-Proto as the TLS gateway sends it, else the
    site's HTTPS redirect is all the prober sees."""
    seen: list[dict[str, str]] = []

    class Recording(ThroughDjango):
        def request(self, method: str, url: str, **kwargs: Any) -> Any:  # type: ignore[override]
            seen.append(dict(kwargs.get("headers") or {}))
            return super().request(method, url, **kwargs)

    direct = "http://127.0.0.1:9"
    assert probe.check(target(tenants), direct, Recording(), forwarded_proto="https") == (True, "")
    assert seen and all(h.get("X-Forwarded-Proto") == "https" for h in seen)
    seen.clear()
    probe.check(target(tenants), "http://127.0.0.1:9", Recording())
    assert seen and not any("X-Forwarded-Proto" in h for h in seen)
