"""The municipality's booking rules: window, deadline, hold, contact fields, texts (one row)."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _


class FieldRequirement(models.TextChoices):
    REQUIRED = "required", _("必須")
    OPTIONAL = "optional", _("任意")
    HIDDEN = "hidden", _("表示しない")


class BookingSettings(models.Model):
    """The tenant's booking rules and citizen-screen texts (AD-04 ②③④). One row per tenant schema."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    # ② the window: bookable from `first_days_ahead` days after today up to `bookable_until` (BK-05)
    first_days_ahead = models.PositiveSmallIntegerField("何日後から予約可能か", default=1)
    bookable_until = models.DateField("予約受付可能日（この日まで）", null=True, blank=True)
    # ② the rolling horizon: bookable up to this many days after today, whatever `bookable_until` says (the
    # earlier of the two ends the window), so that no address or API call books years ahead (issue 14 §5)
    booking_horizon_days = models.PositiveSmallIntegerField("何日先まで予約可能か", default=90, db_default=90)
    # ② change/cancel deadline, also the last moment for a new booking of a day (BK-07)
    deadline_days_before = models.PositiveSmallIntegerField("締切: 何日前", default=2)
    deadline_time = models.TimeField("締切: 時刻", default=dt.time(17, 0))
    hold_minutes = models.PositiveSmallIntegerField("選んだ時間の確保（分）", default=10)
    # ③ which contact fields a citizen sees and must fill (BK-06: nothing beyond contact)
    phone_requirement = models.CharField(
        "電話番号", max_length=10, choices=FieldRequirement.choices, default=FieldRequirement.OPTIONAL
    )
    email_requirement = models.CharField(
        "メールアドレス", max_length=10, choices=FieldRequirement.choices, default=FieldRequirement.OPTIONAL
    )
    # ④ texts on the citizen's screens and mails (plain text; shown escaped)
    text_top = models.TextField("トップページの説明", blank=True)
    text_bring = models.TextField(
        "持ち物",
        default="交付通知書（はがき）、本人確認書類（運転免許証など）、お持ちの場合は通知カード・住民基本台帳カード",
    )
    text_done = models.TextField("予約完了画面の案内", blank=True)
    confirmation_mail_text = models.TextField(
        "予約確認メールの本文",
        default="{place}でのマイナンバーカード交付のご予約を承りました。\n日時: {date} {time}\n"
        "場所: {place}（{address}）\n持ち物: {bring}\n変更・取消は{deadline}までに予約サイトから行えます。",
    )
    callcenter_script = models.TextField(
        "コールセンターの読み上げ項目（1行に1項目）",
        default="ご予約日: {date}\n時間: {time}\n場所: {place}（{address}）\n持ち物: {bring}\n"
        "変更・取消の締切: {deadline}",
    )
    report_emails = models.TextField("日報・月報の送付先（1行に1件）", blank=True)
    reminder_mail_text = models.TextField(
        "前日リマインドメールの本文",
        default="明日はマイナンバーカード交付のご予約日です。\n日時: {date} {time}\n"
        "場所: {place}（{address}）\n持ち物: {bring}",
    )
    # English versions of the citizen texts and mails (issue 15): shown on English pages and in mails to
    # people who booked in English; empty means the Japanese text is used (lang="ja" on an English page).
    text_top_en = models.TextField("トップページの説明（英語）", blank=True, default="", db_default="")
    text_bring_en = models.TextField("持ち物（英語）", blank=True, default="", db_default="")
    text_done_en = models.TextField("予約完了画面の案内（英語）", blank=True, default="", db_default="")
    confirmation_mail_text_en = models.TextField(
        "予約確認メールの本文（英語）", blank=True, default="", db_default=""
    )
    reminder_mail_text_en = models.TextField(
        "前日リマインドメールの本文（英語）", blank=True, default="", db_default=""
    )
    # The call center residents are told to phone (issue 14 §5): stored as digits (booking.lib.phone), shown
    # with hyphens; empty: messages say "the call center" with no number.
    callcenter_phone = models.CharField(
        "コールセンターの電話番号", max_length=11, blank=True, default="", db_default=""
    )
    callcenter_hours = models.CharField(
        "コールセンターの受付時間", max_length=100, blank=True, default="", db_default=""
    )
    callcenter_hours_en = models.CharField(
        "コールセンターの受付時間（英語）", max_length=100, blank=True, default="", db_default=""
    )
    # BK-13: the transfer list of a counter's day is cut this many days before, at this time
    transfer_cutoff_days_before = models.PositiveSmallIntegerField("移送リストの締め: 何日前", default=1)
    transfer_cutoff_time = models.TimeField("移送リストの締め: 時刻", default=dt.time(12, 0))
    # AD-08: a card waiting longer than this in a step before its booking is listed for staff to chase
    card_waiting_days = models.PositiveSmallIntegerField("滞留とみなす日数", default=30)

    class Meta:
        verbose_name = "予約設定"

    def __str__(self) -> str:
        return "予約設定"
