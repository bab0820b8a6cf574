"""Cards (one per resident to serve) and the citizen API's tokens."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from booking.rules.card_states import CardState


class ResidentCards(models.Manager["Card"]):
    """Cards of residents: every card but the external prober's (BK-08). The default manager, so no staff
    list, count, search, print run, transfer or report ever sees the probe card."""

    def get_queryset(self) -> models.QuerySet[Card]:
        return super().get_queryset().filter(probe=False)


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
    # The external prober's card (BK-08): it signs in like a resident's, and the engine refuses its bookings.
    probe = models.BooleanField("監視用カード", default=False, db_default=False)

    # every card, the probe card included: only citizen sign-in and the booking engine's refusal use it
    with_probe = models.Manager()
    objects = ResidentCards()  # the default (Meta.default_manager_name)

    class Meta:
        verbose_name = "カード"
        default_manager_name = "objects"
        base_manager_name = "with_probe"  # a booking's or token's card is found whatever it is
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
