"""An administrator's invitation link is a secret until used: its token is in no access log line, no other
log line and no error report (madoguchi.secret_paths), so whoever reads them cannot set the password first."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from console import vendor_log
from integrations.sentry import report_without_secrets
from madoguchi.access_log import JsonLineFormatter
from madoguchi.secret_paths import HIDDEN, WithoutSecretsFormatter, without_secrets
from tenants import lifecycle
from tests.conftest import MIHON_HOST, Tenants

pytestmark = pytest.mark.django_db

ACTOR = vendor_log.Actor("ops", None, "127.0.0.1")
REPO = Path(__file__).resolve().parents[2]
TOKEN = "d4e-5ecret0f0tok3n"


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
        page = client.get(path)
        assert page.status_code == 200 and page["Referrer-Policy"] == "strict-origin"
        assert client.post(path, {"new": "weak", "again": "weak"}).status_code == 400
        assert client.get(path.replace(token, token[:-1] + "x")).status_code == 410  # a wrong token too
        assert client.get(path.rstrip("/")).status_code == 301  # never resolved: Django adds the slash
        done = client.post(path, {"new": "Sora-Kumo-58#q", "again": "Sora-Kumo-58#q"})
        assert done.status_code == 302
    lines = [JsonLineFormatter().format(r) for r in caplog.records if r.name == "madoguchi.access"]
    assert len(lines) == 5
    assert all(token[:-1] not in line for line in lines)
    paths = [json.loads(line)["path"] for line in lines]
    hidden = f"/staff/invitation/{uid}/{HIDDEN}"
    assert paths == [hidden + "/"] * 3 + [hidden, hidden + "/"]  # the account's id stays: it is no secret


def test_the_invitation_form_posts_from_a_browser_that_sends_its_origin(
    tenants: Tenants, django_capture_on_commit_callbacks: Any
) -> None:
    """A real browser's POST carries Origin (CSRF checks it): with "strict-origin" it is the page's origin
    ("no-referrer" would make it "null" and CSRF would refuse the form)."""
    path = invitation_path(tenants, django_capture_on_commit_callbacks)
    client = Client(HTTP_HOST=MIHON_HOST, enforce_csrf_checks=True)
    page = client.get(path, secure=True)
    assert page.status_code == 200 and page["Referrer-Policy"] == "strict-origin"
    form = {
        "new": "Sora-Kumo-58#q",
        "again": "Sora-Kumo-58#q",
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
    }
    done = client.post(path, form, secure=True, HTTP_ORIGIN=f"https://{MIHON_HOST}")
    assert done.status_code == 302 and done["Location"] == "/staff/login/"
    refused = Client(HTTP_HOST=MIHON_HOST, enforce_csrf_checks=True).post(
        path, form, secure=True, HTTP_ORIGIN="null"
    )
    assert (
        refused.status_code == 403 and refused["Referrer-Policy"] == "strict-origin"
    )  # also on Django's 403


def test_other_paths_are_logged_as_they_are(tenants: Tenants, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="madoguchi.access"):
        Client(HTTP_HOST=MIHON_HOST).get("/staff/login/")
        Client(HTTP_HOST=MIHON_HOST).get("/no/such/token/")
    records = [r for r in caplog.records if r.name == "madoguchi.access"]
    paths = [json.loads(JsonLineFormatter().format(r))["path"] for r in records]
    assert paths == ["/staff/login/", "/no/such/token/"]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"/staff/invitation/MQ/{TOKEN}/", f"/staff/invitation/MQ/{HIDDEN}/"),
        (f"//STAFF//invitation/MQ/{TOKEN}", f"//STAFF//invitation/MQ/{HIDDEN}"),
        (
            f"Internal Server Error: /staff/invitation/MQ/{TOKEN}/",
            f"Internal Server Error: /staff/invitation/MQ/{HIDDEN}/",
        ),
        (f"https://h.jp/staff/invitation/MQ/{TOKEN}/?x=1", f"https://h.jp/staff/invitation/MQ/{HIDDEN}/?x=1"),
        ("/staff/invitation/MQ/", "/staff/invitation/MQ/"),  # no token: nothing to hide
        ("/staff/login/", "/staff/login/"),
    ],
)
def test_a_token_is_hidden_wherever_and_however_the_address_is_written(text: str, shown: str) -> None:
    assert without_secrets(text) == shown


def test_every_log_line_goes_out_without_the_token(tenants: Tenants) -> None:
    """Django's own lines name the path ("Internal Server Error: %s", CSRF refusals), and a traceback may:
    the console handler of settings.LOGGING writes every line through WithoutSecretsFormatter."""
    (console,) = [h for h in logging.getLogger().handlers if isinstance(h.formatter, WithoutSecretsFormatter)]
    assert console.formatter is not None
    try:
        raise ValueError(f"cannot read /staff/invitation/MQ/{TOKEN}/")
    except ValueError:
        record = logging.LogRecord(
            "django.security.csrf",
            logging.WARNING,
            __file__,
            1,
            "Forbidden (%s): %s",
            ("CSRF", f"/staff/invitation/MQ/{TOKEN}/"),
            sys.exc_info(),
        )
    line = console.formatter.format(record)
    assert f"Forbidden (CSRF): /staff/invitation/MQ/{HIDDEN}/" in line
    assert "ValueError: cannot read /staff/invitation/MQ/[hidden]/" in line and TOKEN not in line


def test_an_error_report_keeps_no_query_body_cookies_or_token_anywhere() -> None:
    event = {
        "message": f"boom at /staff/invitation/MQ/{TOKEN}/",
        "request": {
            "url": f"https://mihon.localhost/staff/invitation/MQ/{TOKEN}/?q=山田太郎",
            "query_string": "q=山田太郎",
            "data": {"new": "Sora-Kumo-58#q"},
            "cookies": {"sessionid": "s"},
        },
        "breadcrumbs": {"values": [{"message": f"lost connection: GET /staff/invitation/MQ/{TOKEN}/"}]},
    }
    sent = json.dumps(report_without_secrets(event, without_secrets), ensure_ascii=False)
    assert TOKEN not in sent and "山田" not in sent and "Sora-Kumo" not in sent and "sessionid" not in sent
    assert f"https://mihon.localhost/staff/invitation/MQ/{HIDDEN}/" in sent


def run_probe(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`script` (with TOKEN defined) run by this interpreter in a process of its own, with the project's
    settings and DEBUG on; fails the test with the process's own error output if it fails."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", f"TOKEN = {TOKEN!r}\n" + script],
        env={**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "madoguchi.settings", **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


SENTRY_PROBE = """
import io, json, sentry_sdk
from django.core.wsgi import get_wsgi_application
app = get_wsgi_application()  # as gunicorn loads it: through the WSGI handler the integration wraps
from sentry_sdk.transport import Transport
sent = []
class Kept(Transport):
    def capture_envelope(self, envelope):
        sent.extend(i.payload.json for i in envelope.items if i.type == "event")
sentry_sdk.get_client().transport = Kept(sentry_sdk.get_client().options)
environ = {
    "REQUEST_METHOD": "GET", "PATH_INFO": "/staff/invitation/MQ/%s/" % TOKEN,
    "QUERY_STRING": "q=%E5%B1%B1%E7%94%B0",
    "SERVER_NAME": "mihon.localhost", "SERVER_PORT": "80", "HTTP_HOST": "mihon.localhost",
    "HTTP_COOKIE": "sessionid=s3ssion",
    "HTTP_REFERER": "http://mihon.localhost/staff/invitation/MQ/%s/" % TOKEN,
    "HTTP_X_FORWARDED_FOR": "203.0.113.9", "HTTP_USER_AGENT": "probe", "REMOTE_ADDR": "198.51.100.7",
    "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(),
    "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.version": (1, 0), "wsgi.multithread": False,
    "wsgi.multiprocess": False, "wsgi.run_once": False,
}
status = []
b"".join(app(environ, lambda s, h, e=None: status.append(s)))
sentry_sdk.flush()
print(json.dumps({"status": int(status[0].split()[0]), "sent": sent}, ensure_ascii=False))
"""


def test_a_real_error_report_through_django_leaves_nothing_personal_or_secret() -> None:
    """The whole path, in a process of its own (the Django integration patches Django for good): a request
    that fails (its database does not exist) is reported by the configured SDK; what would be sent is read
    from the transport."""
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/mg_no_such_database"
    done = run_probe(
        SENTRY_PROBE, DATABASE_URL=url, SENTRY_DSN="http://key@127.0.0.1:9/1", LOG_LEVEL="CRITICAL"
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] == 500 and answer["sent"], done.stderr[-2000:]
    text = json.dumps(answer["sent"], ensure_ascii=False)
    for secret in (TOKEN, "山田", "%E5%B1%B1", "s3ssion", "203.0.113.9", "198.51.100.7"):
        assert secret not in text, secret
    (report,) = answer["sent"]
    assert report["request"]["url"] == f"http://mihon.localhost/staff/invitation/MQ/{HIDDEN}/"
    assert "query_string" not in report["request"] and "cookies" not in report["request"]
    frames = [f for e in report["exception"]["values"] for f in e["stacktrace"]["frames"]]
    assert frames and not any("vars" in f for f in frames)  # no local variables


WORKER_PROBE = """
import logging
from celery.apps.worker import Worker
from madoguchi.celery import app
# what `celery -A madoguchi worker` does before its first task: its logging set up by Celery
Worker(app=app, loglevel="INFO", hostname="probe@localhost", pool_cls="solo", quiet=True,
       without_heartbeat=True, without_mingle=True, without_gossip=True)
logging.getLogger("booking.probe").warning("sent /staff/invitation/MQ/%s/", TOKEN)
from celery.utils.log import get_task_logger
get_task_logger("booking.probe_task").warning("task sent /staff/invitation/MQ/%s/", TOKEN)
try:
    raise ValueError("cannot read /staff/invitation/MQ/%s/" % TOKEN)
except ValueError:
    logging.getLogger("celery.app.trace").exception("Task probe raised")
"""


def test_a_celery_worker_logs_without_the_token() -> None:
    """Celery sets up a worker's logging itself (by default replacing the root logger's handlers with its
    own): the worker keeps settings.LOGGING's console handler, so its lines go out as the web's do."""
    done = run_probe(WORKER_PROBE, LOG_LEVEL="INFO")
    assert f"booking.probe sent /staff/invitation/MQ/{HIDDEN}/" in done.stderr, done.stderr[-2000:]
    assert f"task sent /staff/invitation/MQ/{HIDDEN}/" in done.stderr  # get_task_logger's lines too
    assert f"ValueError: cannot read /staff/invitation/MQ/{HIDDEN}/" in done.stderr
    assert TOKEN not in done.stderr + done.stdout
