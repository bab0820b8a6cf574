"""`manage.py provision_tenant` creates a tenant, its schema and domain, idempotently (MT-01, MT-03)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context, schema_exists

from booking.models import OpeningPattern, Place
from tenants.db import tenant_connection
from tenants.models import Domain, Municipality
from tenants.services import ProvisioningError, do_provision_tenant
from tests.conftest import KYOTO_HOST, Tenants

pytestmark = pytest.mark.django_db


def provision(*args: str) -> str:
    out = StringIO()
    call_command("provision_tenant", *args, stdout=out)
    return out.getvalue()


def test_creates_schema_domain_and_preset_then_changes_nothing(tenants: Tenants) -> None:
    first = provision("uji", "--name", "宇治市", "--domain", "uji.localhost", "--preset", "kyoto")
    assert "created tenant uji" in first
    assert schema_exists("uji")
    assert Domain.objects.get(domain="uji.localhost").tenant.schema_name == "uji"
    with schema_context("uji"):
        places, patterns = Place.objects.count(), OpeningPattern.objects.count()
    assert places == 21 and patterns > 21

    second = provision("uji", "--name", "宇治市", "--domain", "uji.localhost", "--preset", "kyoto")
    assert "nothing changed" in second
    with schema_context("uji"):
        assert (Place.objects.count(), OpeningPattern.objects.count()) == (places, patterns)
    assert Municipality.objects.filter(schema_name="uji").count() == 1
    assert Domain.objects.filter(tenant__schema_name="uji").count() == 1


def test_an_english_name_can_be_added_later(tenants: Tenants) -> None:
    out = provision("mihon", "--name", "見本市", "--domain", "mihon.localhost", "--name-en", "Mihon City")
    assert "English name of mihon" in out
    assert Municipality.objects.get(schema_name="mihon").name_en == "Mihon City"


def test_adds_a_second_domain_to_an_existing_tenant(tenants: Tenants) -> None:
    out = provision("kyoto", "--name", "京都市", "--domain", "kyoto-test.example.jp", "--preset", "kyoto")
    assert "routed kyoto-test.example.jp to kyoto" in out
    assert not Domain.objects.get(domain="kyoto-test.example.jp").is_primary


def test_creates_the_public_tenant_on_a_freshly_migrated_database(tenants: Tenants) -> None:
    # A database that has only been through migrate_schemas has no tenant rows at all.
    Domain.objects.all().delete()
    Municipality.objects.filter(schema_name="public").delete()
    out = provision("nara", "--name", "奈良市", "--domain", "nara.localhost")
    assert "created the public tenant" in out
    assert Domain.objects.get(domain="localhost").tenant.schema_name == "public"


def test_completes_a_tenant_whose_preset_was_not_applied(tenants: Tenants) -> None:
    provision("otsu", "--name", "大津市", "--domain", "otsu.localhost", "--preset", "blank")
    Municipality.objects.filter(schema_name="otsu").update(preset="")  # as if the run stopped half way
    out = provision("otsu", "--name", "大津市", "--domain", "otsu.localhost", "--preset", "blank")
    assert "applied preset blank" in out
    assert Municipality.objects.get(schema_name="otsu").preset == "blank"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mihon", "--name", "別の名前", "--domain", "mihon.localhost"], "既に「見本市」という名称で作成"),
        (["other", "--name", "他市", "--domain", KYOTO_HOST], "既に kyoto で使われています"),
        (["Bad-Name", "--name", "x", "--domain", "bad.localhost"], "スキーマ名が正しくありません"),
        (["public", "--name", "x", "--domain", "p.localhost"], "スキーマ名が正しくありません"),
        (["pg_evil", "--name", "x", "--domain", "p.localhost"], "スキーマ名が正しくありません"),
        (["good", "--name", "x", "--domain", "bad host.localhost"], "ドメイン名が正しくありません"),
        (["good", "--name", "   ", "--domain", "good.localhost"], "名称を入力してください"),
        (
            ["mihon", "--name", "見本市", "--domain", "mihon.localhost", "--preset", "kyoto"],
            "既にプリセット blank",
        ),
    ],
)
def test_refuses_bad_or_conflicting_requests_and_changes_nothing(
    tenants: Tenants, args: list[str], message: str
) -> None:
    before = (Municipality.objects.count(), Domain.objects.count())
    with pytest.raises(CommandError, match=message):
        provision(*args)
    assert (Municipality.objects.count(), Domain.objects.count()) == before
    assert not schema_exists("good")


def test_refusals_are_in_one_language_and_say_what_can_be_done(tenants: Tenants) -> None:
    """Each refusal is one message in the active language (was "日本語 / English" in one message), and the
    other name's refusal says what the operator can do: nothing renames a municipality (the admin is
    read-only, the console and the commands have no rename)."""
    refusals = []
    for schema, name, domain, preset in [
        ("mihon", "別の名前", "mihon.localhost", "blank"),
        ("other", "他市", KYOTO_HOST, "blank"),
        ("Bad-Name", "x", "bad.localhost", "blank"),
        ("good", "x", "bad_host.localhost", "blank"),
        ("good", " ", "good.localhost", "blank"),
        ("good", "x", "good.localhost", "osaka"),
        ("mihon", "見本市", "mihon.localhost", "kyoto"),
    ]:
        with pytest.raises(ProvisioningError) as refused:
            do_provision_tenant(schema, name=name, domain=domain, preset=preset)
        refusals.append(str(refused.value))
    for message in refusals:
        assert " / " not in message and not re.search(r"invalid|already|must|unknown|tenant", message)
    renamed = refusals[0]
    assert "rename" not in renamed and "コンソールで" not in renamed
    assert "名称は後から変更できません" in renamed and "名称に「見本市」を入力してください" in renamed
    assert "別のスキーマ名を使ってください" in renamed
    assert "osaka" in refusals[5] and "blank, kyoto" in refusals[5]


def test_unknown_preset_is_refused_by_the_command_line(tenants: Tenants) -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        provision("good", "--name", "x", "--domain", "good.localhost", "--preset", "osaka")


def test_connection_is_back_on_public_after_provisioning(tenants: Tenants) -> None:
    provision("kusatsu", "--name", "草津市", "--domain", "kusatsu.localhost")
    assert tenant_connection().schema_name == "public"


def test_completes_a_tenant_whose_schema_was_not_made(tenants: Tenants) -> None:
    """The process ended between the row and the schema (a pod evicted, an operator's Ctrl-C): the row is
    there, the schema is not (it is made in a transaction of its own). Running it again finishes it."""
    Municipality.objects.bulk_create(
        [Municipality(schema_name="kusatsu", name="草津市")]
    )  # no save(): no schema
    assert not schema_exists("kusatsu")
    out = provision("kusatsu", "--name", "草津市", "--domain", "kusatsu.localhost", "--preset", "blank")
    assert "made the schema of kusatsu" in out and "routed kusatsu.localhost" in out
    assert schema_exists("kusatsu")
    assert Municipality.objects.get(schema_name="kusatsu").preset == "blank"
    assert "made the schema" not in provision(
        "kusatsu", "--name", "草津市", "--domain", "kusatsu.localhost", "--preset", "blank"
    )


def test_refuses_to_remake_the_schema_of_a_provisioned_municipality(tenants: Tenants) -> None:
    """A preset applied means the schema existed: gone, it is a loss for a restore, not a run to finish (a
    new, empty schema would put the municipality back online without its data)."""
    Municipality.objects.bulk_create([Municipality(schema_name="moriyama", name="守山市", preset="blank")])
    with pytest.raises(CommandError, match="バックアップから復元してください"):
        provision("moriyama", "--name", "守山市", "--domain", "moriyama.localhost", "--preset", "blank")
    assert not schema_exists("moriyama")
    assert not Domain.objects.filter(domain="moriyama.localhost").exists()
