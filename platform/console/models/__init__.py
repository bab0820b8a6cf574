"""Control-plane data of our own operations (public schema), one module per topic."""

from console.models.access import OperatorSignIn, VendorLogEntry
from console.models.availability import AvailabilityReportMail, Outage, ProbeAccount, ProbeSample
from console.models.operations import Heartbeat, PlannedStop
from console.models.waiting_room import QueueEvent, WaitingRoom

__all__ = [
    "AvailabilityReportMail",
    "Heartbeat",
    "OperatorSignIn",
    "Outage",
    "PlannedStop",
    "ProbeAccount",
    "ProbeSample",
    "QueueEvent",
    "VendorLogEntry",
    "WaitingRoom",
]
