"""An administrator's invitation link is a secret until used: its token is in no access log line and in no
error report (madoguchi.secret_paths), so whoever reads them cannot set the password first."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
import sentry_sdk
from django.core import mail
from django.test import Client
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from console import vendor_log
from integrations.sentry import sentry_options
from madoguchi.access_log import JsonLineFormatter
from madoguchi.secret_paths import HIDDEN, url_without_secrets
from tenants import lifecycle
from tests.conftest import MIHON_HOST, Tenants

pytestmark = pytest.mark.django_db

ACTOR = vendor_log.Actor("ops", None, "127.0.0.1")


def invitation_path(tenants: Tenants, django_capture_on_commit_callbacks: Any) -> str:
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.do_invite(ACTOR, tenants.mihon, "secret-admin", "admin@mihon.example.jp")
    body = str(mail.outbox[-1].body)
    found = re.search(r"https?://[^/\s]+(/staff/invitation/[^\s]+/)", body)
    assert found, body
    return found.group(1)


def test_the_access_log_shows_no_invitation_token(
    tenants: Tenants, django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = invitation_path(tenants, django_capture_on_commit_callbacks)
    uid, token = path.strip("/").split("/")[-2:]
    client = Client(HTTP_HOST=MIHON_HOST)
    with caplog.at_level(logging.INFO, logger="madoguchi.access"):
        assert client.get(path).status_code == 200
        assert client.post(path, {"new": "weak", "again": "weak"}).status_code == 400
        assert client.get(path.replace(token, token[:-1] + "x")).status_code == 410  # a wrong token too
        done = client.post(path, {"new": "Sora-Kumo-58#q", "again": "Sora-Kumo-58#q"})
        assert done.status_code == 302
    lines = [JsonLineFormatter().format(r) for r in caplog.records if r.name == "madoguchi.access"]
    assert len(lines) == 4
    assert all(token[:-1] not in line for line in lines)
    paths = [json.loads(line)["path"] for line in lines]
    assert paths == [f"/staff/invitation/{uid}/{HIDDEN}/"] * 4  # the account's id stays: it names no secret


def test_other_paths_are_logged_as_they_are(tenants: Tenants, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="madoguchi.access"):
        Client(HTTP_HOST=MIHON_HOST).get("/staff/login/")
        Client(HTTP_HOST=MIHON_HOST).get("/no/such/token/")
    records = [r for r in caplog.records if r.name == "madoguchi.access"]
    paths = [json.loads(JsonLineFormatter().format(r))["path"] for r in records]
    assert paths == ["/staff/login/", "/no/such/token/"]


class Kept(Transport):
    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)


def test_an_error_report_shows_no_token_query_or_body() -> None:
    options = sentry_options("test", url_without_secrets)
    options.pop("integrations")  # the Django integration patches Django for the whole process: not here
    transport = Kept()
    client = sentry_sdk.Client(dsn="http://key@127.0.0.1:9/1", transport=transport, **options)
    token = "abc123-0123456789abcdef0123456789abcdef"
    client.capture_event(
        {
            "message": "boom",
            "request": {
                "url": f"https://mihon.localhost/staff/invitation/Mg/{token}/",
                "query_string": "q=山田太郎",
                "data": {"new": "Sora-Kumo-58#q"},
                "cookies": {"sessionid": "s"},
                "headers": {"Referer": f"https://mihon.localhost/staff/invitation/Mg/{token}/?x=1"},
            },
        },
        scope=sentry_sdk.Scope(),
    )
    client.flush()
    (envelope,) = transport.envelopes
    sent = envelope.get_event()
    assert sent is not None
    assert sent["request"] == {
        "url": f"https://mihon.localhost/staff/invitation/Mg/{HIDDEN}/",
        "headers": {"Referer": f"https://mihon.localhost/staff/invitation/Mg/{HIDDEN}/"},
    }
    assert token not in json.dumps(sent) and "山田" not in json.dumps(sent, ensure_ascii=False)


def test_a_url_no_pattern_knows_keeps_its_path() -> None:
    assert url_without_secrets("https://x.localhost/a/b/?q=1#f") == "https://x.localhost/a/b/"
