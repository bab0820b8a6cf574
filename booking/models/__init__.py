"""The booking app's tables, all in each tenant's own schema: one module per topic, every model
re-exported here, so `from booking.models import X` is the one way to name a model."""

from booking.models.audit import OperationLogAnchor, OperationLogEntry
from booking.models.booking_settings import BookingSettings, FieldRequirement
from booking.models.bookings import Booking, BookingEvent, Hold, Slot
from booking.models.callcenter import CallLogEntry
from booking.models.cards import Card, CitizenToken
from booking.models.exports import ExportJob
from booking.models.idempotency import IdempotentRequest
from booking.models.lifecycle import CardEvent, CardImportJob, JobStatus, NoticeRun, TransferConfirmation
from booking.models.outbox import OutboxMail
from booking.models.places import (
    SLOT_MINUTES_CHOICES,
    ClosedDay,
    LocalisedNameMixin,
    OpeningPattern,
    Place,
    Service,
    Weekday,
)
from booking.models.reports import Report
from booking.models.staff import AllowedNetwork, StaffProfile, StaffRole, StaffSecurity, StaffToken
from booking.rules.card_states import CardState

__all__ = [
    "SLOT_MINUTES_CHOICES",
    "AllowedNetwork",
    "Booking",
    "BookingEvent",
    "BookingSettings",
    "CallLogEntry",
    "Card",
    "CardEvent",
    "CardImportJob",
    "CardState",
    "CitizenToken",
    "ClosedDay",
    "ExportJob",
    "FieldRequirement",
    "Hold",
    "IdempotentRequest",
    "JobStatus",
    "LocalisedNameMixin",
    "NoticeRun",
    "OpeningPattern",
    "OperationLogAnchor",
    "OperationLogEntry",
    "OutboxMail",
    "Place",
    "Report",
    "Service",
    "Slot",
    "StaffProfile",
    "StaffRole",
    "StaffSecurity",
    "StaffToken",
    "TransferConfirmation",
    "Weekday",
]
