"""The administrator's settings (AD-04, AD-07, BK-12), one module per topic: `rule_settings` (booking window,
deadline, contact fields, card rules), `texts` (screen and mail texts), `places`, `patterns` (opening
patterns), `closed_days`; `changes` holds what they share. Each `do_*` validates, writes in one transaction
and records what changed (old → new) in the operation log inside that transaction.

Changes take effect at once and never silently drop existing bookings: an opening pattern that would
leave a confirmed booking at a time no longer offered, or a slot with more people than its new capacity,
is refused with the list of what is in the way; a closed day on a booked day is refused unless staff say
they will contact the people affected (and then they are listed); a place with bookings is never deleted.

The checks are also what the forms show (`*_problems`), so a form and its service never disagree.
"""
