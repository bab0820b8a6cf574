"""What each staff role may do (SO-10 b). Every staff view and API endpoint names the capability it needs,
and the server checks it on every request."""

from __future__ import annotations

from enum import StrEnum

from booking.models import StaffRole


class Can(StrEnum):
    VIEW_BOOKINGS = "view_bookings"
    EDIT_BOOKINGS = "edit_bookings"
    EXPORT = "export"
    EDIT_CARDS = "edit_cards"
    EDIT_SETTINGS = "edit_settings"
    MANAGE_STAFF = "manage_staff"
    VIEW_OPLOG = "view_oplog"
    CALL_CENTER = "call_center"
    FULL_EXPORT = "full_export"
    # J-LIS data in and notice letters out: the letters carry passwords, so administrators only.
    IMPORT_CARDS = "import_cards"
    PRINT_NOTICES = "print_notices"
    # BK-08: the monthly availability report of our service, which the contract has us give the municipality
    VIEW_AVAILABILITY = "view_availability"


ROLE_CAPABILITIES: dict[str, frozenset[Can]] = {
    StaffRole.ADMINISTRATOR: frozenset(Can),
    StaffRole.COUNTER: frozenset({Can.VIEW_BOOKINGS, Can.EDIT_BOOKINGS, Can.EXPORT, Can.EDIT_CARDS}),
    StaffRole.OPERATOR: frozenset({Can.VIEW_BOOKINGS, Can.EDIT_BOOKINGS, Can.CALL_CENTER}),
    StaffRole.VIEWER: frozenset({Can.VIEW_BOOKINGS}),
}


def allows(role: str, capability: Can) -> bool:
    return capability in ROLE_CAPABILITIES.get(role, frozenset())
