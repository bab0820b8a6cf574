"""English versions of the municipality's citizen texts and mail texts, and the language a booking was made in
(issue 15): mails about a booking are written in the language the person used. Existing bookings were all
made in Japanese, hence the default."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0017_session_limits"),
    ]

    operations = [
        migrations.AddField(
            model_name="booking",
            name="language",
            field=models.CharField(
                choices=[("ja", "日本語"), ("en", "英語")],
                db_default="ja",
                default="ja",
                max_length=2,
                verbose_name="言語",
            ),
        ),
        migrations.AddField(
            model_name="bookingsettings",
            name="confirmation_mail_text_en",
            field=models.TextField(
                blank=True, db_default="", default="", verbose_name="予約確認メールの本文（英語）"
            ),
        ),
        migrations.AddField(
            model_name="bookingsettings",
            name="reminder_mail_text_en",
            field=models.TextField(
                blank=True, db_default="", default="", verbose_name="前日リマインドメールの本文（英語）"
            ),
        ),
        migrations.AddField(
            model_name="bookingsettings",
            name="text_bring_en",
            field=models.TextField(blank=True, db_default="", default="", verbose_name="持ち物（英語）"),
        ),
        migrations.AddField(
            model_name="bookingsettings",
            name="text_done_en",
            field=models.TextField(
                blank=True, db_default="", default="", verbose_name="予約完了画面の案内（英語）"
            ),
        ),
        migrations.AddField(
            model_name="bookingsettings",
            name="text_top_en",
            field=models.TextField(
                blank=True, db_default="", default="", verbose_name="トップページの説明（英語）"
            ),
        ),
        migrations.AddConstraint(
            model_name="booking",
            constraint=models.CheckConstraint(
                condition=models.Q(("language__in", ["ja", "en"])), name="booking_language_known"
            ),
        ),
    ]
