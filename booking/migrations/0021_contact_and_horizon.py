"""The call center's number and hours, what to bring per service, a rolling booking horizon (issue 14 §5)."""

from typing import Any

from django.db import migrations, models

# What to bring for the services booked by phone: until now the card-issuance text (交付通知書…) was read to
# a caller booking an e-certificate renewal. Card issuance keeps the municipality's general text (blank).
# The same texts as booking/presets/*.json; a service whose text an administrator has set is left alone.
BRING = {
    "ecert_renewal": (
        "マイナンバーカード、設定済みの暗証番号"
        "（署名用電子証明書: 英数字6〜16桁、利用者証明用電子証明書: 数字4桁）。"
        "暗証番号がわからない場合は本人確認書類（運転免許証など）もお持ちください。",
        "Your My Number Card and its PINs (signature certificate: 6–16 letters and digits; user certificate: "
        "4 digits). If you do not remember a PIN, also bring an identity document "
        "(such as a driving licence).",
    ),
    "pin_reset": (
        "マイナンバーカード、本人確認書類（運転免許証など）",
        "Your My Number Card and an identity document (such as a driving licence)",
    ),
    "face_auth_switch": ("マイナンバーカード", "Your My Number Card"),
}


def fill_bring_texts(apps: Any, schema_editor: Any) -> None:
    service_model = apps.get_model("booking", "Service")
    for code, (japanese, english) in BRING.items():
        service_model.objects.filter(code=code, bring_text="").update(
            bring_text=japanese, bring_text_en=english
        )


class Migration(migrations.Migration):
    dependencies = [("booking", "0020_mail_outbox")]

    operations = [
        migrations.AddField(
            model_name="bookingsettings",
            name="booking_horizon_days",
            field=models.PositiveSmallIntegerField(
                db_default=90, default=90, verbose_name="何日先まで予約可能か"
            ),
        ),
        migrations.AddField(
            model_name="bookingsettings",
            name="callcenter_hours",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=100, verbose_name="コールセンターの受付時間"
            ),
        ),
        migrations.AddField(
            model_name="bookingsettings",
            name="callcenter_hours_en",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                max_length=100,
                verbose_name="コールセンターの受付時間（英語）",
            ),
        ),
        migrations.AddField(
            model_name="bookingsettings",
            name="callcenter_phone",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=11, verbose_name="コールセンターの電話番号"
            ),
        ),
        migrations.AddField(
            model_name="service",
            name="bring_text",
            field=models.TextField(
                blank=True, db_default="", default="", verbose_name="持ち物（このサービス）"
            ),
        ),
        migrations.AddField(
            model_name="service",
            name="bring_text_en",
            field=models.TextField(
                blank=True, db_default="", default="", verbose_name="持ち物（このサービス・英語）"
            ),
        ),
        migrations.RunPython(fill_bring_texts, migrations.RunPython.noop),
    ]
