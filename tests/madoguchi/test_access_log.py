"""Web access logs are JSON lines with the tenant on each, and without query strings (SO-14)."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

from madoguchi.access_log import JsonLineFormatter, LineHandler
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


def test_lines_written_from_many_threads_at_once_arrive_whole() -> None:
    """LineHandler writes without a lock (one write() a line): 8 threads × 500 lines through a pipe, as to
    a container's standard output, every line whole and each exactly once."""
    read_end, write_end = os.pipe()
    handler = LineHandler(os.fdopen(write_end, "w"))
    handler.setFormatter(JsonLineFormatter())
    received: list[bytes] = []
    reader = threading.Thread(
        target=lambda: received.append(b"".join(iter(lambda: os.read(read_end, 65536), b"")))
    )
    reader.start()

    def write(thread: int) -> None:
        for n in range(500):
            handler.handle(_access_record(f"/api/v1/availability/{thread}/" + "x" * 200, thread * 1000 + n))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    handler.stream.close()
    reader.join()
    lines = received[0].decode().splitlines()
    assert sorted(json.loads(line)["n"] for line in lines) == sorted(
        t * 1000 + n for t in range(8) for n in range(500)
    )
    assert all(json.loads(line)["agent"] == "エージェント" for line in lines)


def test_a_stream_without_a_descriptor_is_written_as_logging_writes_it() -> None:
    stream = io.StringIO()  # a test's captured output has no file descriptor
    handler = LineHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    handler.handle(_access_record("/healthz", 1))
    assert json.loads(stream.getvalue()) == {"path": "/healthz", "n": 1, "agent": "エージェント"}


def test_a_long_path_is_cut_short_in_the_log(tenants: Tenants, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="madoguchi.access"):
        Client(HTTP_HOST=KYOTO_HOST).get("/" + "a" * 3000)
    record = next(r for r in caplog.records if r.name == "madoguchi.access")
    assert json.loads(JsonLineFormatter().format(record))["path"] == "/" + "a" * 999
