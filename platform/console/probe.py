"""The external prober (BK-08): checks each municipality's public site the way a resident reaches it, through
the internet gateway, and records one sample per municipality and round.

A check is three steps, each of which must answer as it should, within TIMEOUT seconds:

1. the top page: GET / → 200;
2. availability: GET /api/v1/locations/ → 200 and a list; then GET /api/v1/availability/ for its first place
   and service → 200 and a list (a municipality without places passes on the list alone);
3. a sign-in with the municipality's probe card: POST /api/v1/citizen/sessions/ → 201 and a token; then
   GET /api/v1/citizen/booking/ with it → 404 `no_booking` (the token works; the card never books).

The base URL is the gateway's: with `{domain}` in it (`https://{domain}`, the default) each municipality is
reached by its own host name, as a resident's browser does; without it (`http://127.0.0.1:8000` under
`make run`) every request goes to that address with the municipality's host in the `Host` header.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.utils import timezone

from console.availability_services import Sample
from console.models import ProbeSample

TIMEOUT = 10.0  # seconds per request: a resident waiting longer has given up
# A round's checks end by then: TIMEOUT bounds each wait for a byte, not a whole answer, so a host trickling
# bytes would otherwise hold the round, and with it every municipality's samples (the CronJob's pod has 55 s).
ROUND_SECONDS = 40.0
USER_AGENT = "Madoguchi-Prober/1 (availability report BK-08)"
WORKERS = 32  # every municipality checked at once: a check queued past ROUND_SECONDS would fail unheard


@dataclass(frozen=True)
class Target:
    tenant_id: int
    schema: str
    domain: str
    reservation_number: str
    password: str
    suspended: bool = False  # not called: its site answers "suspended" by design (console ProbeSample)


class StepFailed(Exception):
    pass


class Queued(Exception):
    """The municipality's waiting room answered: the site is up and admitting residents in order."""


class Client:
    """Requests to one municipality's site through the gateway."""

    def __init__(self, base_url: str, domain: str, session: requests.Session) -> None:
        self.session = session
        if "{domain}" in base_url:
            self.root = base_url.format(domain=domain).rstrip("/")
            self.headers = {"User-Agent": USER_AGENT}
        else:
            self.root = base_url.rstrip("/")
            self.headers = {"User-Agent": USER_AGENT, "Host": domain}

    def call(self, step: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        try:
            return self.session.request(
                method, self.root + path, headers=headers, timeout=TIMEOUT, allow_redirects=False, **kwargs
            )
        except requests.RequestException as error:
            raise StepFailed(f"{step}: {type(error).__name__}") from error


def _expect(step: str, response: requests.Response, status: int) -> None:
    if response.status_code == 503 and status != 503 and _waiting_room(response):
        raise Queued(step)
    if response.status_code != status:
        raise StepFailed(f"{step}: HTTP {response.status_code} (expected {status})")


def _waiting_room(response: requests.Response) -> bool:
    """The waiting room's JSON answer (console.waiting_room.gate): the site is up, the resident waits."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("code") == "waiting_room"


def _json(step: str, response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as error:
        raise StepFailed(f"{step}: not JSON") from error


def check(
    target: Target, base_url: str, session: requests.Session | None = None, forwarded_proto: str = ""
) -> tuple[bool, str]:
    """(ok, reason): the three steps against one municipality; the reason names the first that failed.

    `forwarded_proto` ("https") is sent as X-Forwarded-Proto, as the TLS gateway does, when the base URL
    reaches the web tier directly with no gateway in front (the HA rehearsal): else the site's redirect to
    HTTPS would be all the prober sees."""
    client = Client(base_url, target.domain, session or requests.Session())
    if forwarded_proto:
        client.headers["X-Forwarded-Proto"] = forwarded_proto
    try:
        _expect("top", client.call("top", "GET", "/"), 200)
        places = client.call("availability", "GET", "/api/v1/locations/")
        _expect("availability", places, 200)
        listed = _json("availability", places)
        if not isinstance(listed, list):
            raise StepFailed("availability: locations are not a list")
        offered = [p for p in listed if isinstance(p, dict) and p.get("services")]
        if offered:
            slots = client.call(
                "availability",
                "GET",
                "/api/v1/availability/",
                params={"location": offered[0]["id"], "service": offered[0]["services"][0]},
            )
            _expect("availability", slots, 200)
            if not isinstance(_json("availability", slots), list):
                raise StepFailed("availability: slots are not a list")
        signed = client.call(
            "sign-in",
            "POST",
            "/api/v1/citizen/sessions/",
            json={"reservation_number": target.reservation_number, "password": target.password},
        )
        _expect("sign-in", signed, 201)
        token = _json("sign-in", signed).get("token")
        if not token:
            raise StepFailed("sign-in: no token")
        mine = client.call(
            "sign-in", "GET", "/api/v1/citizen/booking/", headers={"Authorization": f"Bearer {token}"}
        )
        _expect("sign-in", mine, 404)
        if _json("sign-in", mine).get("code") != "no_booking":
            raise StepFailed("sign-in: unexpected answer for the probe card's booking")
    except Queued as queued:
        # A crowd is being admitted in order: the site is provided (a resident gets a place in line and then
        # the page), so the minute is up; the reason keeps it visible.
        return True, f"{queued}: waiting room"
    except StepFailed as failed:
        return False, str(failed)
    return True, ""


def probe_all(
    targets: list[Target],
    base_url: str,
    clock: Callable[[], dt.datetime] = timezone.now,
    checker: Callable[[Target, str], tuple[bool, str]] = check,
    deadline: float = ROUND_SECONDS,
) -> list[Sample]:
    """One sample per municipality, checked in parallel; each sample's time is its check's start. A check
    not done `deadline` seconds into the round is a failed sample; its thread is left to end on its own."""

    def one(target: Target) -> Sample:
        at = clock()
        if target.suspended:
            reason = ProbeSample.SUSPENDED
            return Sample(at=at, tenant_id=target.tenant_id, ok=False, latency_ms=0, reason=reason)
        started = time.monotonic()
        try:
            ok, reason = checker(target, base_url)
        except Exception as error:  # noqa: BLE001 - any surprise is a failed check, never a lost sample
            ok, reason = False, f"prober: {type(error).__name__}"
        latency = int((time.monotonic() - started) * 1000)
        return Sample(at=at, tenant_id=target.tenant_id, ok=ok, latency_ms=latency, reason=reason)

    if not targets:
        return []
    began = clock()
    pool = ThreadPoolExecutor(max_workers=min(WORKERS, len(targets)))
    futures = [pool.submit(one, target) for target in targets]
    done, _late = wait(futures, timeout=deadline)
    pool.shutdown(wait=False, cancel_futures=True)  # not `with`: its exit would wait for a hung check
    return [
        future.result()
        if future in done
        else Sample(
            at=began,
            tenant_id=target.tenant_id,
            ok=False,
            latency_ms=int(deadline * 1000),
            reason=f"prober: no answer within {deadline:g} s",
        )
        for target, future in zip(targets, futures, strict=True)
    ]


def base_url_problem(base_url: str) -> str | None:
    parts = urlsplit(base_url.replace("{domain}", "example.invalid"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "--base-url must be an http(s) URL, e.g. https://{domain} or http://127.0.0.1:8000"
    return None
