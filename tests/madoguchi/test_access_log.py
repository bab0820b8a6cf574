"""Web access logs are JSON lines with the tenant on each, and without query strings (SO-14)."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from madoguchi.access_log import JsonLineFormatter
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
