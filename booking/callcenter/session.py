"""The caller an operator is serving, kept in the operator's session.

The call center's identify step (CC-01) puts the caller's card here; the citizen's flow mounted for operators
(namespace "caller", `booking.citizen.web.party`) books for that card; ending the call or reading out the
script takes it away. The key lives with the call center, the lower of the two, so that the citizen's flow
may read it without the call center ever importing the citizen's code.
"""

from __future__ import annotations

CALLER_CARD = "caller_card"
# The language the caller speaks, as the operator chose it on identifying them: the booking's mails use it.
CALLER_LANGUAGE = "caller_language"
