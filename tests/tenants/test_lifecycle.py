"""A municipality's life in the vendor console (issue 14 §3; MT-03, SO-16, SO-17): provisioning with the first
administrator's invitation, domains, suspension, a full export on demand, offboarding with its disposal
certificate, and no other way to delete a municipality."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from booking.models import ExportJob, OperationLogEntry
from console import vendor_log
from console.models import VendorLogEntry
from tenants import lifecycle, offboarding
from tenants.models import Domain, Municipality, OffboardingRecord
from tenants.services import ProvisioningError
from tests import factories
from tests.conftest import KYOTO_HOST, MIHON_HOST, Tenants
from tests.integrations.test_storage import s3, s3_endpoint, s3_env  # noqa: F401 - fixtures
from tests.vendor_helpers import CONSOLE_HOST, make_operator, operator_client

pytestmark = pytest.mark.django_db

ACTOR = vendor_log.Actor("ops", None, "127.0.0.1")


@pytest.fixture(autouse=True)
def _on_commit_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's transaction is rolled back, never committed: run what waits for the commit (the
    invitation mail, queued tasks) at once, as a commit would."""
    from django.db import transaction

    monkeypatch.setattr(transaction, "on_commit", lambda fn, using=None, robust=False: fn())


@pytest.fixture
def ops(tenants: Tenants) -> Client:
    return operator_client(*make_operator())


@pytest.fixture
def local_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EXPORT_LOCAL_DIR", str(tmp_path))
    monkeypatch.delenv("EXPORT_S3_BUCKET", raising=False)
    return tmp_path


def actions() -> list[str]:
    return list(VendorLogEntry.objects.order_by("seq").values_list("action", flat=True))


def link_in(message: Any) -> str:
    found = re.search(r"https?://[^\s]+/staff/invitation/[^\s]+/", message.body)
    assert found, message.body
    return found.group(0)


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


PROVISION = {
    "schema_name": "uji",
    "name": "宇治市",
    "name_en": "Uji City",
    "domain": "uji.localhost",
    "preset": "kyoto",
    "admin_username": "uji-admin",
    "admin_email": "admin@city.uji.example.jp",
}


# --- provisioning and the invitation ---


def test_provision_from_the_console_invites_the_first_administrator(ops: Client) -> None:
    response = ops.post("/municipalities/new/", PROVISION)
    assert response.status_code == 302 and response["Location"] == "/municipalities/uji/"
    tenant = Municipality.objects.get(schema_name="uji")
    assert tenant.preset == "kyoto" and tenant.name_en == "Uji City"
    assert list(tenant.domains.values_list("domain", flat=True)) == ["uji.localhost"]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["admin@city.uji.example.jp"]
    assert "有効期限" in mail.outbox[0].body and "uji-admin" in mail.outbox[0].body
    assert "tenant.provision" in actions()
    page = ops.get("/municipalities/uji/").content.decode()
    assert "宇治市" in page and "稼働中" in page

    # the person sets their own password on the municipality's host, once
    path = path_of(link_in(mail.outbox[0]))
    uji = Client(HTTP_HOST="uji.localhost")
    assert uji.get(path).status_code == 200
    weak = uji.post(path, {"new": "password", "again": "password"})
    assert weak.status_code == 400 and "英大文字" in weak.content.decode()
    done = uji.post(path, {"new": "Sora-Kumo-58#q", "again": "Sora-Kumo-58#q"})
    assert done.status_code == 302 and done["Location"] == "/staff/login/"
    assert uji.get(path).status_code == 410  # used
    with schema_context("uji"):
        from django.contrib.auth import get_user_model

        assert get_user_model().objects.get(username="uji-admin").check_password("Sora-Kumo-58#q")
        logged = list(OperationLogEntry.objects.order_by("seq").values_list("action", flat=True))
    assert {"staff.invite", "staff.invite_accept", "staff.invite_refused"} <= set(logged)

    # provisioning again changes nothing and mails nobody
    again = ops.post("/municipalities/new/", PROVISION)
    assert again.status_code == 302 and len(mail.outbox) == 1
    assert actions().count("tenant.provision") == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_name": "Uji!"}, "スキーマ名が正しくありません"),
        ({"domain": KYOTO_HOST}, "既に kyoto で使われています"),
        ({"domain": "bad_host..jp"}, "ドメイン名が正しくありません"),
        ({"admin_email": "not-an-address"}, "有効なメールアドレス"),
        ({"admin_username": "名前 空白"}, "管理者のユーザーID"),
        ({"name": ""}, "名称（日本語）"),
        # one message, in the page's language, saying what can be done (no rename exists)
        ({"schema_name": "mihon", "name": "別の名前"}, "名称に「見本市」を入力してください"),
    ],
)
def test_bad_provisioning_input_is_refused_and_changes_nothing(
    ops: Client, change: dict[str, str], message: str
) -> None:
    before = actions()
    response = ops.post("/municipalities/new/", {**PROVISION, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert " / " not in response.content.decode().split("<main", 1)[-1]
    assert not Municipality.objects.filter(schema_name__in=["uji", "Uji!"]).exists()
    assert not mail.outbox and actions() == before


def test_the_command_line_invites_too_and_stays_idempotent(tenants: Tenants) -> None:
    from io import StringIO

    from django.core.management import call_command

    args = ["provision_tenant", "mihon", "--name", "見本市", "--domain", MIHON_HOST, "--preset", "blank"]
    admin = ["--admin-username", "mihon-admin", "--admin-email", "a@mihon.example.jp"]
    out = StringIO()
    call_command(*args, *admin, stdout=out)
    assert "invitation mailed to a@mihon.example.jp" in out.getvalue() and len(mail.outbox) == 1
    out = StringIO()
    call_command(*args, *admin, stdout=out)
    assert "nothing changed" in out.getvalue() and "--reinvite" in out.getvalue() and len(mail.outbox) == 1
    call_command(*args, *admin, "--reinvite", stdout=StringIO())
    assert len(mail.outbox) == 2
    # the first link stopped working when the second was sent
    first, second = path_of(link_in(mail.outbox[0])), path_of(link_in(mail.outbox[1]))
    mihon = Client(HTTP_HOST=MIHON_HOST)
    assert mihon.get(first).status_code == 410 and mihon.get(second).status_code == 200


def test_the_invitations_english_part_names_the_municipality_in_english(tenants: Tenants) -> None:
    lifecycle.do_invite(ACTOR, tenants.kyoto, "kyoto-admin", "k@city.kyoto.example.jp")
    lifecycle.do_invite(ACTOR, tenants.mihon, "mihon-admin", "m@mihon.example.jp")  # no English name
    kyoto, mihon = (message.body for message in mail.outbox)
    assert "京都市 の Madoguchi 職員用管理画面" in kyoto
    assert "staff console of Kyoto City." in kyoto and "of 京都市" not in kyoto
    assert "staff console of 見本市." in mihon  # the Japanese name when there is no English one


def test_an_invitation_expires(tenants: Tenants, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from django.utils import timezone

    from booking.access import invitations

    invitation = lifecycle.do_invite(ACTOR, tenants.mihon, "late-admin", "late@mihon.example.jp")
    expires_on = timezone.localdate(invitation.expires_at)  # Tokyo's day: UTC's differs from 15:00 UTC
    assert expires_on == timezone.localdate() + dt.timedelta(days=invitations.INVITATION_DAYS)
    path = path_of(link_in(mail.outbox[0]))
    real_now = invitations.tokens._now
    monkeypatch.setattr(
        invitations.tokens,
        "_now",
        lambda: real_now() + dt.timedelta(days=invitations.INVITATION_DAYS, hours=1),
    )
    response = Client(HTTP_HOST=MIHON_HOST).get(path)
    assert response.status_code == 410 and "期限が過ぎて" in response.content.decode()


def test_an_invitation_is_useless_on_another_municipalitys_host(tenants: Tenants) -> None:
    lifecycle.do_invite(ACTOR, tenants.mihon, "same-name", "a@example.jp")
    lifecycle.do_invite(ACTOR, tenants.kyoto, "same-name", "a@example.jp")
    mihon_path = path_of(link_in(mail.outbox[0]))
    kyoto_path = path_of(link_in(mail.outbox[1]))
    # Kyoto's link on Mihon's host and the other way round: refused, whatever the account's id
    assert Client(HTTP_HOST=KYOTO_HOST).get(mihon_path).status_code == 410
    assert Client(HTTP_HOST=MIHON_HOST).get(kyoto_path).status_code == 410
    assert Client(HTTP_HOST=MIHON_HOST).get(mihon_path).status_code == 200


def test_an_administrator_with_a_password_is_not_invited_again(tenants: Tenants) -> None:
    lifecycle.do_invite(ACTOR, tenants.mihon, "settled", "s@example.jp")
    Client(HTTP_HOST=MIHON_HOST).post(
        path_of(link_in(mail.outbox[0])), {"new": "Settled-2026!x", "again": "Settled-2026!x"}
    )
    with pytest.raises(ProvisioningError, match="設定済み"):
        lifecycle.do_invite(ACTOR, tenants.mihon, "settled", "s@example.jp")
    assert len(mail.outbox) == 1


# --- domains ---


def test_domains_add_make_primary_remove(ops: Client, tenants: Tenants) -> None:
    assert (
        ops.post("/municipalities/mihon/domains/", {"domain": "Yoyaku.Mihon.example.JP"}).status_code == 302
    )
    assert Client(HTTP_HOST="yoyaku.mihon.example.jp").get("/").status_code == 200
    ops.post(
        "/municipalities/mihon/domains/change/", {"domain": "yoyaku.mihon.example.jp", "action": "primary"}
    )
    assert Domain.objects.get(domain="yoyaku.mihon.example.jp").is_primary
    assert not Domain.objects.get(domain=MIHON_HOST).is_primary
    ops.post(
        "/municipalities/mihon/domains/change/", {"domain": "yoyaku.mihon.example.jp", "action": "remove"}
    )
    assert Domain.objects.get(domain=MIHON_HOST).is_primary  # the remaining one becomes primary
    assert Client(HTTP_HOST="yoyaku.mihon.example.jp").get("/").status_code == 404
    assert {"tenant.domain_add", "tenant.domain_primary", "tenant.domain_remove"} <= set(actions())


@pytest.mark.parametrize(
    ("url", "data", "message"),
    [
        ("/municipalities/mihon/domains/", {"domain": KYOTO_HOST}, "既に kyoto で使われています"),
        ("/municipalities/mihon/domains/", {"domain": "localhost"}, "既に public で使われています"),
        ("/municipalities/mihon/domains/", {"domain": "-bad-.jp"}, "ドメイン名が正しくありません"),
        (
            "/municipalities/mihon/domains/change/",
            {"domain": MIHON_HOST, "action": "remove"},
            "最後のドメイン",
        ),
        (
            "/municipalities/mihon/domains/change/",
            {"domain": KYOTO_HOST, "action": "remove"},
            "この自治体のものではありません",
        ),
    ],
)
def test_bad_domain_changes_are_refused(ops: Client, url: str, data: dict[str, str], message: str) -> None:
    before = sorted(Domain.objects.values_list("domain", "tenant__schema_name", "is_primary"))
    response = ops.post(url, data)
    assert response.status_code == 400 and message in response.content.decode()
    assert sorted(Domain.objects.values_list("domain", "tenant__schema_name", "is_primary")) == before


# --- suspension ---


def test_a_suspended_municipality_says_so_everywhere_and_the_other_is_untouched(ops: Client) -> None:
    empty = ops.post("/municipalities/mihon/suspension/", {"reason": "  ", "action": "suspend"})
    assert empty.status_code == 400 and not Municipality.objects.get(schema_name="mihon").suspended
    ops.post("/municipalities/mihon/suspension/", {"reason": "契約更新の手続き中", "action": "suspend"})
    mihon = Municipality.objects.get(schema_name="mihon")
    assert mihon.suspended and mihon.suspended_by == "ops" and mihon.suspension_reason == "契約更新の手続き中"
    client = Client(HTTP_HOST=MIHON_HOST)
    for path in ("/", "/staff/login/", "/staff/callcenter/", "/staff/caller/", "/login/"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert "利用停止中" in response.content.decode()
    api = client.get("/api/v1/services/")
    assert api.status_code == 503 and api.json()["code"] == "suspended"
    english = Client(HTTP_HOST=MIHON_HOST)
    english.cookies["django_language"] = "en"
    assert "suspended" in english.get("/").content.decode()
    assert Client(HTTP_HOST=KYOTO_HOST).get("/").status_code == 200
    assert "利用停止中" in ops.get("/").content.decode()
    ops.post("/municipalities/mihon/suspension/", {"action": "resume"})
    assert client.get("/").status_code == 200
    assert ops.post("/municipalities/mihon/suspension/", {"action": "resume"}).status_code == 400
    assert actions()[-2:] == ["tenant.suspend", "tenant.resume"]


# --- full export on demand ---


def test_a_full_export_on_demand_is_downloadable(
    ops: Client, local_storage: Path, eager_celery: None, tenants: Tenants
) -> None:
    assert ops.post("/municipalities/mihon/exports/").status_code == 302
    with schema_context("mihon"):
        job = ExportJob.objects.get()
        assert job.status == ExportJob.Status.DONE and job.requested_by == "vendor:ops"
    page = ops.get("/municipalities/mihon/").content.decode()
    assert f"/municipalities/mihon/exports/{job.pk}/download/" in page
    download = ops.get(f"/municipalities/mihon/exports/{job.pk}/download/")
    assert download.status_code == 200
    body = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert "places.csv" in archive.namelist()
    assert {"tenant.export", "tenant.export_download"} <= set(actions())
    with schema_context("mihon"):
        assert OperationLogEntry.objects.filter(action="export.download", username="vendor:ops").exists()
    assert ops.get("/municipalities/mihon/exports/999999/download/").status_code == 400
    # Kyoto's export number is not reachable through Mihon's page
    assert ops.get(f"/municipalities/kyoto/exports/{job.pk}/download/").status_code == 400


# --- offboarding ---


def _uji_with_files(tenants: Tenants) -> None:
    from booking.engine.services import do_book
    from integrations.storage import export_storage

    lifecycle.do_provision(ACTOR, "uji", name="宇治市", domain="uji.localhost", preset="kyoto")
    with schema_context("uji"):
        card = factories.issue_card("ウジ タロウ").card
        do_book(card, factories.place(), factories.card_issuance(), factories.next_free_slot().starts_at)
    store = export_storage()
    store.save_stream("uji/card-imports/a.dat", [b"J-LIS data"])
    store.save_stream("uji/notices/20261201T100000-1.pdf", [b"%PDF letters"])
    store.save_stream("ujitawara/exports/keep.zip", [b"another town's"])  # a name that merely starts alike


def test_offboarding_from_the_console_destroys_everything_and_certifies_it(
    ops: Client, local_storage: Path, tenants: Tenants, eager_celery: None
) -> None:
    _uji_with_files(tenants)
    wrong = ops.post("/municipalities/uji/offboard/", {"confirm": "kyoto", "asked_by": "宇治市 情報課"})
    assert wrong.status_code == 400 and "スキーマ名 uji をそのまま入力" in wrong.content.decode()
    assert schema_exists("uji") and (local_storage / "uji/notices/20261201T100000-1.pdf").exists()

    response = ops.post(
        "/municipalities/uji/offboard/", {"confirm": "uji", "asked_by": "宇治市 情報課 山田（文書 R8-123）"}
    )
    record = OffboardingRecord.objects.get(schema_name="uji")
    assert response.status_code == 302 and response["Location"] == f"/offboarded/{record.pk}/"
    assert not schema_exists("uji") and not Municipality.objects.filter(schema_name="uji").exists()
    assert Client(HTTP_HOST="uji.localhost").get("/").status_code == 404
    # every stored file of the municipality is gone; the other town's file stays
    assert not (local_storage / "uji").exists() or not any((local_storage / "uji").rglob("*.*"))
    assert (local_storage / "ujitawara/exports/keep.zip").exists()
    keys = {item["key"] for item in record.files}
    assert {"uji/card-imports/a.dat", "uji/notices/20261201T100000-1.pdf"} <= keys
    assert any(key.startswith("uji/exports/") for key in keys)  # the final export's own first copy
    rows = {item["table"]: item["rows"] for item in record.tables}
    assert rows["booking_booking"] == 1 and rows["booking_card"] == 1 and rows["booking_place"] == 21
    # the handed-over export is whole and its checksum right
    handed = (local_storage / record.export_key).read_bytes()
    assert (
        record.export_key.startswith("_offboarded/uji/")
        and hashlib.sha256(handed).hexdigest() == record.export_sha256
    )
    assert "ウジ タロウ" in zipfile.ZipFile(io.BytesIO(handed)).read("cards.csv").decode("utf-8-sig")
    assert record.asked_by.startswith("宇治市 情報課") and record.requested_by == "ops"
    page = ops.get(f"/offboarded/{record.pk}/").content.decode()
    assert (
        "booking_booking" in page
        and "uji/notices/20261201T100000-1.pdf" in page
        and record.export_sha256 in page
    )
    text = ops.get(f"/offboarded/{record.pk}/certificate.txt")
    assert text["Content-Type"].startswith("text/plain") and record.export_sha256 in text.content.decode()
    assert {"tenant.suspend", "tenant.offboard_request", "tenant.offboard"} <= set(actions())
    assert record.status == OffboardingRecord.Status.DONE
    # Kyoto is untouched
    assert Client(HTTP_HOST=KYOTO_HOST).get("/").status_code == 200


def test_offboarding_destroys_the_objects_in_s3(
    s3: Any,  # noqa: F811 - the fixture
    tenants: Tenants,
) -> None:
    _uji_with_files(tenants)
    prefix = "madoguchi/uji/"
    listed = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix)
    assert listed.get("KeyCount", 0) == 2
    record = offboarding.do_offboard(ACTOR, "uji", confirm="uji", asked_by="宇治市")
    assert s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix).get("KeyCount", 0) == 0
    assert len(record.files) == 3  # the two files and the final export's first copy
    handed = s3.client.get_object(Bucket=s3.bucket, Key=f"madoguchi/{record.export_key}")["Body"].read()
    assert hashlib.sha256(handed).hexdigest() == record.export_sha256
    assert s3.exists("ujitawara/exports/keep.zip")


# --- no other way to delete a municipality; the pages are the operators' only ---


def test_the_admin_refuses_to_delete_municipalities_and_domains(ops: Client, tenants: Tenants) -> None:
    kyoto = tenants.kyoto
    domain = Domain.objects.get(domain=MIHON_HOST)
    assert ops.get(f"/admin/tenants/municipality/{kyoto.pk}/delete/").status_code == 403
    assert ops.post(f"/admin/tenants/municipality/{kyoto.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ops.post(f"/admin/tenants/domain/{domain.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = ops.post(
        "/admin/tenants/municipality/",
        {"action": "delete_selected", "_selected_action": [kyoto.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    changelist = ops.get("/admin/tenants/municipality/").content.decode()
    assert "delete_selected" not in changelist
    change = ops.post(f"/admin/tenants/municipality/{kyoto.pk}/change/", {"name": "改名"})
    assert change.status_code == 403
    assert Municipality.objects.get(pk=kyoto.pk).name == "京都市"
    assert Domain.objects.filter(pk=domain.pk).exists() and schema_exists("kyoto")


@pytest.mark.parametrize(
    "path",
    [
        "/municipalities/new/",
        "/municipalities/mihon/",
        "/municipalities/mihon/offboard/",
        "/offboarded/",
    ],
)
def test_the_pages_are_for_signed_in_operators_on_the_console_host_only(tenants: Tenants, path: str) -> None:
    signed_out = Client(HTTP_HOST=CONSOLE_HOST).get(path)
    assert signed_out.status_code == 302 and "/admin/login/" in signed_out["Location"]
    posted = Client(HTTP_HOST=CONSOLE_HOST).post("/municipalities/mihon/suspension/", {"reason": "x"})
    assert posted.status_code == 302 and not Municipality.objects.get(schema_name="mihon").suspended
    # on a municipality's host these addresses are not the console's
    assert Client(HTTP_HOST=KYOTO_HOST).get(path).status_code == 404


def test_an_unknown_or_the_public_schema_is_not_a_municipality_page(ops: Client) -> None:
    assert ops.get("/municipalities/public/").status_code == 404
    assert ops.get("/municipalities/osaka/").status_code == 404
    assert (
        ops.post("/municipalities/public/offboard/", {"confirm": "public", "asked_by": "x"}).status_code
        == 404
    )


def test_a_failed_offboarding_changes_nothing_and_can_run_again(
    ops: Client, local_storage: Path, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    _uji_with_files(tenants)
    record = offboarding.do_request_offboarding(ACTOR, "uji", confirm="uji", asked_by="宇治市", queue=False)
    assert Municipality.objects.get(schema_name="uji").suspended
    again = ops.post("/municipalities/uji/offboard/", {"confirm": "uji", "asked_by": "宇治市"})
    assert again.status_code == 400 and "既に受け付けています" in again.content.decode()

    def broken(*args: Any) -> Any:
        raise ProvisioningError("保存先に接続できません")

    working = offboarding._copy_with_digest
    monkeypatch.setattr(offboarding, "_copy_with_digest", broken)
    failed = offboarding.do_run_offboarding(record.pk)
    assert failed.status == OffboardingRecord.Status.FAILED and "接続できません" in failed.error
    assert schema_exists("uji") and (local_storage / "uji/notices/20261201T100000-1.pdf").exists()
    page = ops.get(f"/offboarded/{record.pk}/").content.decode()
    assert "失敗" in page and "接続できません" in page
    assert ops.get(f"/offboarded/{record.pk}/certificate.txt").status_code == 404
    # the same record runs again (a retried message does nothing twice while it runs)
    monkeypatch.setattr(offboarding, "_copy_with_digest", working)
    monkeypatch.setattr(offboarding, "_queue", lambda pk: offboarding.do_run_offboarding(pk))
    assert ops.post(f"/offboarded/{record.pk}/retry/").status_code == 302
    record.refresh_from_db()
    assert record.status == OffboardingRecord.Status.DONE and not schema_exists("uji")
    assert ops.post(f"/offboarded/{record.pk}/retry/").status_code == 400  # done: nothing to run
    assert {"tenant.offboard_failed", "tenant.offboard_retry", "tenant.offboard"} <= set(actions())


def test_a_municipality_being_offboarded_is_not_resumed_nor_exported(
    ops: Client, local_storage: Path, tenants: Tenants
) -> None:
    """Writes after the final export would be destroyed unexported, and an export made then is orphaned."""
    lifecycle.do_provision(ACTOR, "uji", name="宇治市", domain="uji.localhost", preset="kyoto")
    offboarding.do_request_offboarding(ACTOR, "uji", confirm="uji", asked_by="宇治市", queue=False)
    resumed = ops.post("/municipalities/uji/suspension/", {"action": "resume"})
    assert resumed.status_code == 400 and "解約・データ削除の処理中" in resumed.content.decode()
    assert Municipality.objects.get(schema_name="uji").suspended
    exported = ops.post("/municipalities/uji/exports/")
    assert exported.status_code == 400 and "解約・データ削除の処理中" in exported.content.decode()
    with schema_context("uji"):
        assert not ExportJob.objects.exists()
    assert "tenant.resume" not in actions() and "tenant.export" not in actions()


def test_a_retry_never_reopens_a_done_certificate_nor_destroys_a_resumed_municipality(
    ops: Client, local_storage: Path, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    _uji_with_files(tenants)
    record = offboarding.do_request_offboarding(ACTOR, "uji", confirm="uji", asked_by="宇治市", queue=False)
    monkeypatch.setattr(
        offboarding, "_copy_with_digest", lambda *a: (_ for _ in ()).throw(ProvisioningError("x"))
    )
    assert offboarding.do_run_offboarding(record.pk).status == OffboardingRecord.Status.FAILED
    # the operator gave up and resumed the municipality: the old record does not destroy it
    lifecycle.do_resume(ACTOR, Municipality.objects.get(schema_name="uji"))
    queued: list[int] = []
    monkeypatch.setattr(offboarding, "_queue", queued.append)
    refused = ops.post(f"/offboarded/{record.pk}/retry/")
    assert refused.status_code == 400 and "利用を再開している" in refused.content.decode()
    assert (
        not queued and OffboardingRecord.objects.get(pk=record.pk).status == OffboardingRecord.Status.FAILED
    )
    # a record judged on a stale copy: done meanwhile, it stays done
    OffboardingRecord.objects.filter(pk=record.pk).update(status=OffboardingRecord.Status.DONE)
    with pytest.raises(ProvisioningError):
        offboarding.do_retry_offboarding(ACTOR, record)  # `record` still says "failed"
    assert not queued and OffboardingRecord.objects.get(pk=record.pk).status == OffboardingRecord.Status.DONE
    assert schema_exists("uji")
    # a failed record superseded by a later request (the name may be a new municipality's by now)
    OffboardingRecord.objects.filter(pk=record.pk).update(status=OffboardingRecord.Status.FAILED)
    lifecycle.do_suspend(ACTOR, Municipality.objects.get(schema_name="uji"), "別の理由")
    later = OffboardingRecord.objects.create(
        schema_name="uji", name="宇治市", status=OffboardingRecord.Status.FAILED, requested_by="ops"
    )
    with pytest.raises(ProvisioningError, match=f"記録 {later.pk}"):
        offboarding.do_retry_offboarding(ACTOR, record)
    assert not queued and schema_exists("uji")


def test_a_second_provisioning_waits_for_the_first(tenants: Tenants) -> None:
    """A double-clicked form or two operators: the second waits (then finds it made) instead of a 500."""
    import psycopg
    from django.db import OperationalError, connection, transaction

    db = connection.settings_dict
    other = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"],
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(hashtext(%s))", [lifecycle.PROVISION_LOCK])  # the first one
        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            lifecycle.do_provision(ACTOR, "uji", name="宇治市", domain="uji.localhost", preset="kyoto")
    finally:
        other.close()
    assert not Municipality.objects.filter(schema_name="uji").exists()


def test_an_address_the_invitation_would_refuse_is_refused_before_anything_is_made(tenants: Tenants) -> None:
    """Else the municipality would be made, the invitation refused, and the creation left out of the log."""
    before = actions()
    with pytest.raises(ProvisioningError, match="メールアドレスの形式"):
        lifecycle.do_provision(
            ACTOR,
            "uji",
            name="宇治市",
            domain="uji.localhost",
            preset="kyoto",
            admin_username="uji-admin",
            admin_email="admin@city..uji.jp",
        )
    assert not Municipality.objects.filter(schema_name="uji").exists() and actions() == before


def test_no_other_delete_removes_a_municipality(tenants: Tenants) -> None:
    """django-tenants' own `delete_tenant` command would drop the schema and leave the stored files, with no
    final export and no certificate: a municipality goes by offboarding only."""
    from django.core.management import call_command

    with pytest.raises(PermissionError, match="offboarding"):
        call_command("delete_tenant", "--schema", "mihon", "--noinput")
    with pytest.raises(PermissionError):
        Municipality.objects.get(schema_name="mihon").delete()
    assert schema_exists("mihon") and Municipality.objects.filter(schema_name="mihon").exists()


def test_the_same_domain_added_twice_at_once_is_refused_not_a_500(tenants: Tenants) -> None:
    """Two operators (or a double click) add one host at once: the second is told; nothing is half-made."""
    import threading

    import psycopg
    from django.db import connection

    db = connection.settings_dict
    other = psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"]
    )
    try:
        # the first add, not yet committed: invisible to the second's lock, held by the unique index
        other.execute(
            "INSERT INTO tenants_domain (domain, tenant_id, is_primary) VALUES (%s, %s, false)",
            ["same.localhost", tenants.mihon.pk],
        )
        threading.Timer(0.5, other.commit).start()
        before = actions()
        with pytest.raises(ProvisioningError, match="same.localhost"):
            lifecycle.do_add_domain(ACTOR, tenants.kyoto, "same.localhost")
        assert not Domain.objects.filter(tenant=tenants.kyoto, domain="same.localhost").exists()
        assert actions() == before
    finally:
        other.execute("DELETE FROM tenants_domain WHERE domain = %s", ["same.localhost"])
        other.commit()
        other.close()


def test_the_console_names_municipalities_in_the_pages_language(ops: Client, tenants: Tenants) -> None:
    """English pages show the English name (Kyoto City), and a Japanese name without one marked lang="ja";
    Japanese pages the Japanese name."""
    month = timezone.localdate().strftime("%Y-%m")
    pages = ["/", "/municipalities/kyoto/", "/municipalities/kyoto/offboard/", "/waiting-room/"]
    pages += ["/waiting-room/kyoto/", "/availability/", f"/availability/kyoto/{month}/"]
    ops.cookies["django_language"] = "en"
    for path in pages:
        response = ops.get(path)
        page = response.content.decode().replace('<dd><span lang="ja">京都市</span></dd>', "")  # its own row
        assert response.status_code == 200 and "Kyoto City" in page and "京都市" not in page, path
    assert '<span lang="ja">見本市</span>' in ops.get("/").content.decode()  # no English name: marked
    waiting = ops.get("/waiting-room/kyoto/").content.decode()
    assert "<title>Waiting room of Kyoto City" in waiting and "<h1>Waiting room of Kyoto City</h1>" in waiting
    ops.cookies["django_language"] = "ja"
    page = ops.get("/municipalities/kyoto/").content.decode()
    assert "<h1>京都市 (kyoto)</h1>" in page and "Kyoto City" in page  # the English name in its own row
    assert "<h1>京都市の待合室</h1>" in ops.get("/waiting-room/kyoto/").content.decode()
