"""Services, places, their opening patterns and closed days (tenant schema)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Weekday(models.IntegerChoices):
    """Python's numbering (date.weekday()): Monday is 0."""

    MON = 0, _("月")
    TUE = 1, _("火")
    WED = 2, _("水")
    THU = 3, _("木")
    FRI = 4, _("金")
    SAT = 5, _("土")
    SUN = 6, _("日")


SLOT_MINUTES_CHOICES = [(60, _("60分")), (30, _("30分")), (20, _("20分")), (15, _("15分")), (10, _("10分"))]


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
    # What to bring for this service (issue 14 §5); empty: the municipality's general text (`text_bring`)
    bring_text = models.TextField("持ち物（このサービス）", blank=True, default="", db_default="")
    bring_text_en = models.TextField("持ち物（このサービス・英語）", blank=True, default="", db_default="")

    class Meta:
        ordering = ["display_order", "code"]
        verbose_name = "サービス"

    def __str__(self) -> str:
        return self.label  # the name in the page's language wherever a template or form shows it


class Place(LocalisedNameMixin, models.Model):
    """A counter where cards are handed over or certificates renewed (BK-12, AD-07)."""

    class Kind(models.TextChoices):
        CENTER = "center", _("センター")
        CERTIFICATE_CORNER = "certificate_corner", _("証明書発行コーナー")
        WARD_OFFICE = "ward_office", _("区役所・支所")
        OTHER = "other", _("その他")

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
            ),
            # "CENTER-3F" beside "center-3f" is one place to people (migration 0027)
            models.UniqueConstraint(Upper("code"), name="place_code_unique_in_any_case"),
        ]

    def __str__(self) -> str:
        return self.label  # the name in the page's language wherever a template or form shows it


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
