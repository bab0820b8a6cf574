"""Control-plane data of our own operations (public schema), one module per topic."""

from console.models.access import OperatorSignIn, VendorLogEntry
from console.models.operations import Heartbeat, PlannedStop

__all__ = ["Heartbeat", "OperatorSignIn", "PlannedStop", "VendorLogEntry"]
