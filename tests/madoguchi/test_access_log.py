"""Web access logs are JSON lines with the tenant on each, and without query strings (SO-14)."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.http import HttpResponse
from django.test import Client
from django.utils.log import log_response

from madoguchi.access_log import JsonLineFormatter, LineHandler, json_line
from tests.conftest import KYOTO_HOST, Tenants

pytestmark = pytest.mark.django_db


def test_each_request_is_one_json_line_with_its_tenant(
    tenants: Tenants, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="madoguchi.access"):
        Client(HTTP_HOST=KYOTO_HOST).get(
            "/api/v1/availability/",
            {"location": "1", "service": "氏名で検索"},
            HTTP_X_REQUEST_ID="0123456789abcdef0123456789abcdef",
        )
        Client(HTTP_HOST="nowhere.localhost").get("/")
    records = [r for r in caplog.records if r.name == "madoguchi.access"]
    lines = [json.loads(JsonLineFormatter().format(r)) for r in records]
    assert lines[0]["tenant"] == "kyoto" and lines[0]["path"] == "/api/v1/availability/"
    assert lines[0]["status"] == 400 and lines[0]["method"] == "GET" and lines[0]["ms"] >= 0
    assert "氏名で検索" not in JsonLineFormatter().format(records[0])
    assert lines[0]["rid"] == "0123456789abcdef0123456789abcdef"  # the gateway's id: gunicorn logs none
    assert lines[1]["tenant"] is None and lines[1]["status"] == 404


def _access_record(path: str, number: int) -> logging.LogRecord:
    record = logging.LogRecord("madoguchi.access", logging.INFO, __file__, 1, "access", None, None)
    record.access = {"path": path, "n": number, "agent": "エージェント"}
    return record


def _read_all(read_end: int, received: list[bytes]) -> None:
    chunks = []
    while chunk := os.read(read_end, 4096):
        chunks.append(chunk)
        time.sleep(0.0002)  # a slow log collector: the pipe fills and writers wait
    received.append(b"".join(chunks))


@pytest.mark.parametrize("size", [200, 6000])
def test_lines_written_from_many_threads_at_once_arrive_whole(size: int) -> None:
    """LineHandler writes without a lock (one write() a line): 8 threads × 300 lines through a pipe that a
    slow reader keeps full, as a container's log collector may, every line whole and each exactly once.
    A record whose text would make a line over 4 KiB is cut to fit (one write() of more is split)."""
    read_end, write_end = os.pipe()
    handler = LineHandler(os.fdopen(write_end, "w"))
    handler.setFormatter(JsonLineFormatter())
    received: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(read_end, received))
    reader.start()

    def write(thread: int) -> None:
        for n in range(300):
            handler.handle(_access_record(f"/api/v1/availability/{thread}/" + "x" * size, thread * 1000 + n))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    handler.stream.close()
    reader.join()
    lines = [json.loads(line) for line in received[0].decode().splitlines()]
    assert sorted(line["n"] for line in lines) == sorted(t * 1000 + n for t in range(8) for n in range(300))
    assert all(line["agent"] == "エージェント" for line in lines)
    assert all(line.get("cut") is (True if size > 4096 else None) for line in lines)


def test_a_stream_without_a_descriptor_is_written_as_logging_writes_it() -> None:
    stream = io.StringIO()  # a test's captured output has no file descriptor
    handler = LineHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    seen: list[logging.LogRecord] = []

    def counting(record: logging.LogRecord) -> bool:
        seen.append(record)
        return True

    handler.addFilter(counting)
    handler.handle(_access_record("/healthz", 1))
    assert json.loads(stream.getvalue()) == {"path": "/healthz", "n": 1, "agent": "エージェント"}
    assert len(seen) == 1  # the filters ran once


def test_a_line_the_client_makes_long_is_cut_to_one_write(
    tenants: Tenants, caplog: pytest.LogCaptureFixture
) -> None:
    """A path of 1,000 escaped control characters (3 KB on the request line, 6 KB as JSON escapes), a long
    Host and User-Agent: the line stays within 4 KiB, says it was cut, and keeps the start of each."""
    with caplog.at_level(logging.INFO, logger="madoguchi.access"):
        Client(HTTP_HOST=KYOTO_HOST, HTTP_USER_AGENT="ü" * 300).get("/" + "%01" * 1000)
        Client(HTTP_HOST="h" * 8000 + ".localhost").get("/" + "日" * 1500)
    records = [r for r in caplog.records if r.name == "madoguchi.access"]
    assert len(records) == 2
    for record in records:
        line = JsonLineFormatter().format(record)
        assert len((line + "\n").encode()) <= 4096
        entry = json.loads(line)
        assert entry["cut"] is True and entry["status"] == 404 and entry["path"].startswith("/")
    assert json.loads(JsonLineFormatter().format(records[0]))["tenant"] == "kyoto"


def test_an_ordinary_line_is_not_cut() -> None:
    entry = {"path": "/api/v1/availability/", "host": "kyoto.localhost", "agent": "Mozilla/5.0 " + "x" * 180}
    assert json.loads(json_line(entry)) == entry


def test_django_request_keeps_tracebacks_not_the_status_lines_the_access_log_has(
    tenants: Tenants, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        Client(HTTP_HOST=KYOTO_HOST).get("/api/v1/availability/", {"location": "x"})  # 400, no exception
        Client(HTTP_HOST="nowhere.localhost").get("/")  # 404
        try:
            raise RuntimeError("a bug")
        except RuntimeError as bug:
            log_response(
                "%s: %s", "Internal Server Error", "/boom/", response=HttpResponse(status=500), exception=bug
            )
    statuses = [
        json.loads(JsonLineFormatter().format(r))["status"]
        for r in caplog.records
        if r.name == "madoguchi.access"
    ]
    kept = [r for r in caplog.records if r.name == "django.request"]
    assert statuses == [400, 404]  # every answer's status is in the access log
    assert [(r.levelname, r.getMessage(), bool(r.exc_info)) for r in kept] == [
        ("ERROR", "Internal Server Error: /boom/", True)
    ]
