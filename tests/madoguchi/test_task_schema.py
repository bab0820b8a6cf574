"""A tenant task never runs outside its tenant's schema (madoguchi.celery.SchemaCheckedTask): a schema switch
that failed in Celery's prerun signal (its connection lost in a failover) is made again, or the task fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection

from madoguchi.celery import SchemaCheckedTask, app

pytestmark = pytest.mark.django_db

PROBE = "tests.madoguchi.schema_of_the_task"


@pytest.fixture
def probe(eager_celery: None) -> Iterator[Any]:
    """A task that answers the schema it ran in; registered for the test only (the pinned set of task
    names, tests/architecture, stays as it is)."""

    def schema_of_the_task() -> str:
        return str(getattr(connection, "schema_name", ""))

    task = app.task(name=PROBE)(schema_of_the_task)
    yield task
    app.tasks.unregister(PROBE)


@pytest.fixture
def lookups_fail(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tenant lookup of the schema switch fails `budget[0]` times, as a lost connection would."""
    budget = [0]
    real = SchemaCheckedTask.get_tenant_for_schema.__func__

    def flaky(cls: Any, schema_name: str) -> Any:
        if budget[0] > 0:
            budget[0] -= 1
            raise OperationalError("server closed the connection unexpectedly")
        return real(cls, schema_name)

    monkeypatch.setattr(SchemaCheckedTask, "get_tenant_for_schema", classmethod(flaky))
    monkeypatch.setattr(SchemaCheckedTask, "tenant_cache_seconds", 0)
    return budget


def sent_from_kyoto(task: Any) -> Any:
    """The task as a worker gets it: sent from Kyoto's schema, run by a process on the public schema."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' connection
    return task.apply(headers={"_schema_name": "kyoto"})


def test_without_failures_it_runs_in_its_schema(tenants: Any, probe: Any, lookups_fail: list[int]) -> None:
    assert sent_from_kyoto(probe).get() == "kyoto"


def test_a_failed_switch_is_made_again(tenants: Any, probe: Any, lookups_fail: list[int]) -> None:
    lookups_fail[0] = 1  # the prerun signal's switch fails (Celery logs it and would run the task anyway)
    assert sent_from_kyoto(probe).get() == "kyoto"
    assert lookups_fail[0] == 0


def test_a_switch_that_cannot_be_made_fails_the_task(
    tenants: Any, probe: Any, lookups_fail: list[int]
) -> None:
    lookups_fail[0] = 2  # the prerun's switch and ours
    result = sent_from_kyoto(probe)
    assert result.failed()
    assert isinstance(result.result, OperationalError | RuntimeError)
