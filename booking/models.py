"""The booking domain. Every table here lives in a tenant's own schema."""

from __future__ import annotations

import datetime as dt

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from booking.lifecycle.states import CardState


class Weekday(models.IntegerChoices):
    """Python's numbering (date.weekday()): Monday is 0."""

    MON = 0, _("月")
    TUE = 1, _("火")
    WED = 2, _("水")
    THU = 3, _("木")
    FRI = 4, _("金")
    SAT = 5, _("土")
    SUN = 6, _("日")


SLOT_MINUTES_CHOICES = [(60, "60分"), (30, "30分"), (20, "20分"), (15, "15分"), (10, "10分")]


class LocalisedNameMixin:
    """`label` is the name in the request's language: the English name where there is one."""

    name: str
    name_en: str

    @property
    def label(self) -> str:
        if self.name_en and (get_language() or "ja").startswith("en"):
            return self.name_en
        return self.name


class Service(LocalisedNameMixin, models.Model):
    """What a resident comes for (BK-11): card issuance, or an e-certificate service booked by phone."""

    code = models.SlugField("コード", max_length=40, unique=True)
    name = models.CharField("名称", max_length=100)
    name_en = models.CharField("名称（英語）", max_length=100, blank=True)
    web_bookable = models.BooleanField("ウェブ予約可", default=True)
    needs_reservation_number = models.BooleanField("予約番号が必要", default=True)
    display_order = models.PositiveSmallIntegerField("表示順", default=0)

    class Meta:
        ordering = ["display_order", "code"]
        verbose_name = "サービス"

    def __str__(self) -> str:
        return self.name


class Place(LocalisedNameMixin, models.Model):
    """A counter where cards are handed over or certificates renewed (BK-12, AD-07)."""

    class Kind(models.TextChoices):
        CENTER = "center", "センター"
        CERTIFICATE_CORNER = "certificate_corner", "証明書発行コーナー"
        WARD_OFFICE = "ward_office", "区役所・支所"
        OTHER = "other", "その他"

    code = models.SlugField("コード", max_length=40, unique=True)
    name = models.CharField("名称", max_length=100)
    name_en = models.CharField("名称（英語）", max_length=150, blank=True)
    kind = models.CharField("種別", max_length=30, choices=Kind.choices, default=Kind.WARD_OFFICE)
    address = models.CharField("所在地", max_length=200)
    starts_on = models.DateField("実施開始日", null=True, blank=True)
    ends_on = models.DateField("実施終了日", null=True, blank=True)
    bookable_from = models.DateField(
        "予約受付開始日（この場所だけ遅らせる場合）",
        null=True,
        blank=True,
        help_text="空欄なら予約設定のとおり",
    )
    bookable_until = models.DateField(
        "予約受付可能日（この場所だけ変える場合）", null=True, blank=True, help_text="空欄なら予約設定の日付"
    )
    display_order = models.PositiveSmallIntegerField("表示順", default=0)

    class Meta:
        ordering = ["display_order", "code"]
        verbose_name = "交付場所"
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True)
                | Q(ends_on__isnull=True)
                | Q(ends_on__gte=F("starts_on")),
                name="place_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.name


class OpeningPattern(models.Model):
    """When a place offers a service: weekdays, hours, last reception, slot length and capacity (AD-04 ①)."""

    place = models.ForeignKey(Place, on_delete=models.CASCADE, related_name="opening_patterns")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="opening_patterns")
    weekdays = ArrayField(models.PositiveSmallIntegerField(choices=Weekday.choices), verbose_name="曜日")
    opens_at = models.TimeField("開始時刻")
    closes_at = models.TimeField("終了時刻")
    last_reception_at = models.TimeField("最終受付")
    slot_minutes = models.PositiveSmallIntegerField("1枠の長さ（分）", choices=SLOT_MINUTES_CHOICES)
    capacity = models.PositiveSmallIntegerField("1枠の予約可能人数")

    class Meta:
        ordering = ["place", "service", "opens_at"]
        verbose_name = "受付パターン"
        constraints = [
            models.CheckConstraint(
                condition=Q(opens_at__lt=F("closes_at")), name="pattern_opens_before_close"
            ),
            models.CheckConstraint(
                condition=Q(last_reception_at__gte=F("opens_at")) & Q(last_reception_at__lt=F("closes_at")),
                name="pattern_last_reception_within_hours",
            ),
            models.CheckConstraint(
                condition=Q(slot_minutes__in=[60, 30, 20, 15, 10]), name="pattern_slot_minutes"
            ),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="pattern_capacity_positive"),
            models.CheckConstraint(
                condition=Q(weekdays__contained_by=[0, 1, 2, 3, 4, 5, 6]) & ~Q(weekdays=[]),
                name="pattern_weekdays_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.place} / {self.service} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


class ClosedDay(models.Model):
    """A day the tenant closes one place or all of them (maintenance and the like), beyond holidays."""

    date = models.DateField("日付")
    place = models.ForeignKey(
        Place,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="closed_days",
        help_text="空欄なら全ての交付場所",
    )
    reason = models.CharField("理由", max_length=200, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = "休止日"
        constraints = [
            models.UniqueConstraint(fields=["date", "place"], name="closed_day_unique_per_place"),
            models.UniqueConstraint(
                fields=["date"], condition=Q(place__isnull=True), name="closed_day_unique_all"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.place or '全て'}"


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
    # BK-13: the transfer list of a counter's day is cut this many days before, at this time
    transfer_cutoff_days_before = models.PositiveSmallIntegerField("移送リストの締め: 何日前", default=1)
    transfer_cutoff_time = models.TimeField("移送リストの締め: 時刻", default=dt.time(12, 0))
    # AD-08: a card waiting longer than this in a step before its booking is listed for staff to chase
    card_waiting_days = models.PositiveSmallIntegerField("滞留とみなす日数", default=30)

    class Meta:
        verbose_name = "予約設定"

    def __str__(self) -> str:
        return "予約設定"


class Card(models.Model):
    """A My Number Card application, with the reservation number and password the tenant issued.

    BK-03, BK-06: no more personal data than the letter and the booking need.

    The password is kept only as a keyed hash (HMAC-SHA256 with a server secret): it is a random,
    machine-made secret, so a fast keyed hash is safe and keeps a login at microseconds.
    """

    application_id = models.CharField("申請書ID", max_length=23, unique=True)
    reservation_number = models.CharField("予約番号", max_length=12, unique=True)
    password_digest = models.CharField(max_length=64)
    name = models.CharField("氏名", max_length=100)
    name_kana = models.CharField("氏名（カナ）", max_length=100)
    birth_date = models.DateField("生年月日")
    postal_code = models.CharField("郵便番号", max_length=8)
    address = models.CharField("住所", max_length=200)
    imported_at = models.DateTimeField("取込日時", auto_now_add=True)
    # The card's progress (AD-03); moves only along booking.lifecycle.states.LEGAL_MOVES (a trigger checks).
    state = models.CharField(
        "状態", max_length=12, choices=CardState.choices, default=CardState.RECEIVED, db_default="received"
    )
    state_changed_at = models.DateTimeField("状態の変更日時", db_default=Now())
    notice_sent_on = models.DateField("通知書送付日", null=True, blank=True)
    # Where the card is: None in the back office, else the counter it was moved to (BK-13).
    at_place = models.ForeignKey(
        "Place", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="保管場所"
    )
    import_job = models.ForeignKey(
        "CardImportJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="cards"
    )

    class Meta:
        verbose_name = "カード"
        # Prefix search on the kana name (LIKE 'ヤマダ%') whatever the database's collation.
        indexes = [
            models.Index(
                fields=["name_kana"],
                name="card_kana_prefix",
                opclasses=["varchar_pattern_ops"],
                include=["id"],
            ),
            models.Index(fields=["state", "state_changed_at"], name="card_state_since"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(application_id__regex=r"^[0-9]{23}$"), name="card_application_id_23"
            ),
            models.CheckConstraint(
                condition=Q(reservation_number__regex=r"^[0-9]{12}$"), name="card_number_12"
            ),
            models.CheckConstraint(condition=Q(state__in=CardState.values), name="card_state_known"),
        ]

    def __str__(self) -> str:
        return self.reservation_number


class Slot(models.Model):
    """One bookable time at a place for a service, made when first needed.

    `taken` counts confirmed bookings and live holds. Database triggers keep it in step with the
    booking and hold tables, and the check constraint refuses any write that would put more people in
    the slot than its capacity (BK-09): the database, not Python, keeps the invariant.
    """

    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="slots")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="slots")
    starts_at = models.DateTimeField("開始")
    ends_at = models.DateTimeField("終了")
    capacity = models.PositiveSmallIntegerField("定員")
    taken = models.PositiveSmallIntegerField("予約済み", default=0)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = "予約枠"
        indexes = [models.Index(fields=["starts_at"], name="slot_starts_at")]
        constraints = [
            models.UniqueConstraint(fields=["place", "service", "starts_at"], name="slot_unique_start"),
            models.CheckConstraint(condition=Q(taken__lte=F("capacity")), name="slot_taken_within_capacity"),
            models.CheckConstraint(condition=Q(taken__gte=0), name="slot_taken_not_negative"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="slot_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.place} {self.starts_at:%Y-%m-%d %H:%M}"


class Booking(models.Model):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("予約済み")
        CANCELLED = "cancelled", _("取消済み")

    class Channel(models.TextChoices):
        WEB = "web", _("ウェブ")
        PHONE = "phone", _("電話")

    class Outcome(models.TextChoices):
        VISITED = "visited", _("来庁（交付済み）")
        NO_SHOW = "no_show", _("来庁なし")

    # A card's booking (card issuance), or a caller's visit for a phone-only service: then only the name in
    # kana and a phone number identify it (BK-06, BK-11).
    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="bookings", null=True, blank=True)
    caller_name_kana = models.CharField("来庁者氏名（カナ）", max_length=100, blank=True, db_default="")
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="bookings")
    status = models.CharField("状態", max_length=12, choices=Status.choices, default=Status.CONFIRMED)
    channel = models.CharField("受付経路", max_length=8, choices=Channel.choices, default=Channel.WEB)
    contact_phone = models.CharField("電話番号", max_length=20, blank=True)
    contact_email = models.EmailField("メールアドレス", blank=True)
    created_at = models.DateTimeField("予約日時", auto_now_add=True)
    changed_at = models.DateTimeField("変更日時", null=True, blank=True)
    cancelled_at = models.DateTimeField("取消日時", null=True, blank=True)
    reminder_sent_at = models.DateTimeField("リマインド送信日時", null=True, blank=True)
    # At the counter: arrival, then the end of the visit (the card handed over, or nobody came).
    checked_in_at = models.DateTimeField("受付日時", null=True, blank=True)
    outcome = models.CharField(
        "来庁結果", max_length=8, choices=Outcome.choices, blank=True, default="", db_default=""
    )
    outcome_at = models.DateTimeField("来庁結果の記録日時", null=True, blank=True)
    outcome_by = models.CharField("来庁結果の記録者", max_length=150, blank=True, default="", db_default="")

    class Meta:
        ordering = ["slot__starts_at"]
        verbose_name = "予約"
        constraints = [
            # One active booking per card (BK-09).
            models.UniqueConstraint(
                fields=["card"],
                condition=Q(status="confirmed", outcome=""),
                name="booking_one_active_per_card",
            ),
            # A visit's outcome ends a confirmed booking; a cancelled one has none.
            models.CheckConstraint(
                condition=Q(outcome="") | Q(status="confirmed", outcome__in=["visited", "no_show"]),
                name="booking_outcome_of_confirmed",
            ),
            models.CheckConstraint(
                condition=Q(status="cancelled", cancelled_at__isnull=False) | Q(status="confirmed"),
                name="booking_cancelled_has_time",
            ),
            models.CheckConstraint(
                condition=Q(card__isnull=False) | (~Q(caller_name_kana="") & ~Q(contact_phone="")),
                name="booking_identifies_a_person",
            ),
        ]
        indexes = [
            models.Index(fields=["slot", "status"], name="booking_slot_status"),
            models.Index(fields=["created_at"], name="booking_created"),
            models.Index(
                fields=["caller_name_kana"],
                name="booking_caller_kana_prefix",
                opclasses=["varchar_pattern_ops"],
                condition=Q(card__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.card or self.caller_name_kana} {self.slot}"

    @property
    def name_kana(self) -> str:
        """Whom the booking is for: the card holder, or the caller of a phone-only service."""
        return self.card.name_kana if self.card else self.caller_name_kana


class CallLogEntry(models.Model):
    """One call the call center took, by kind (CC-05): one click per call."""

    class Kind(models.TextChoices):
        NEW_BOOKING = "new_booking", _("新規予約")
        CHANGE = "change", _("変更・取消")
        QUESTION = "question", _("問い合わせ")
        OTHER = "other", _("その他")

    at = models.DateTimeField("日時", db_index=True)
    kind = models.CharField("種別", max_length=12, choices=Kind.choices)
    operator = models.CharField("オペレーター", max_length=150)

    class Meta:
        ordering = ["-at"]
        verbose_name = "受電記録"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"


class Report(models.Model):
    """A daily or monthly call-center report (CC-05); one row per period, so one is never sent twice."""

    class Period(models.TextChoices):
        DAY = "day", _("日報")
        MONTH = "month", _("月報")

    period = models.CharField(max_length=5, choices=Period.choices)
    starts_on = models.DateField("対象期間の初日")
    sent_at = models.DateTimeField("送信日時", null=True, blank=True)
    attempts = models.PositiveSmallIntegerField("送信試行回数", default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-starts_on"]
        constraints = [models.UniqueConstraint(fields=["period", "starts_on"], name="report_once_per_period")]

    def __str__(self) -> str:
        return f"{self.period} {self.starts_on}"


class BookingEvent(models.Model):
    """What happened to a booking, by whom and through which channel: the history staff see (AD-08)."""

    class Kind(models.TextChoices):
        BOOKED = "booked", _("予約")
        CHANGED = "changed", _("変更")
        CANCELLED = "cancelled", _("取消")

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField("日時")
    kind = models.CharField("内容", max_length=12, choices=Kind.choices)
    channel = models.CharField("経路", max_length=8, choices=Booking.Channel.choices)
    actor = models.CharField("操作者", max_length=150, blank=True, help_text="職員のユーザーID。空欄は本人")
    from_slot = models.ForeignKey(Slot, on_delete=models.PROTECT, null=True, related_name="+")
    to_slot = models.ForeignKey(Slot, on_delete=models.PROTECT, null=True, related_name="+")

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = "予約の履歴"

    def __str__(self) -> str:
        return f"{self.booking_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class Hold(models.Model):
    """A time held for a person while they fill in and confirm (counts against capacity until it expires)."""

    card = models.OneToOneField(Card, on_delete=models.CASCADE, related_name="hold")
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="holds")
    expires_at = models.DateTimeField("期限")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "仮押さえ"
        indexes = [models.Index(fields=["expires_at"], name="hold_expires")]

    def __str__(self) -> str:
        return f"{self.card} {self.slot} until {self.expires_at:%H:%M}"


class CitizenToken(models.Model):
    """A bearer token of the citizen API; only its SHA-256 is stored."""

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="tokens")
    token_digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="citizen_token_expires")]

    def __str__(self) -> str:
        return f"token of {self.card}"


# The card lifecycle's and the staff console's tables live in this app too (one schema per tenant).
from booking.lifecycle.models import CardEvent, CardImportJob, NoticeRun, TransferConfirmation  # noqa: E402
from booking.staff.models import (  # noqa: E402
    AllowedNetwork,
    ExportJob,
    OperationLogAnchor,
    OperationLogEntry,
    StaffProfile,
    StaffRole,
    StaffSecurity,
    StaffToken,
)

__all__ = [
    "AllowedNetwork",
    "Booking",
    "BookingEvent",
    "BookingSettings",
    "Card",
    "CardEvent",
    "CardImportJob",
    "CardState",
    "NoticeRun",
    "TransferConfirmation",
    "CallLogEntry",
    "CitizenToken",
    "ExportJob",
    "ClosedDay",
    "FieldRequirement",
    "Hold",
    "OpeningPattern",
    "OperationLogAnchor",
    "OperationLogEntry",
    "Place",
    "Report",
    "Service",
    "Slot",
    "StaffProfile",
    "StaffRole",
    "StaffSecurity",
    "StaffToken",
    "Weekday",
]
