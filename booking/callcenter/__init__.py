"""The call center (CC-, BK-10, BK-11): identifying a caller, the script read out after a booking, the
call log, phone-only visits. Operators book through the citizen flow mounted a second time
(`booking.citizen.web`)."""
