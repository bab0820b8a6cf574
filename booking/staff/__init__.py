"""The staff console's shell: its URLs, home, sign-in, administration (accounts, networks, the operation
log), the bookings list and the staff API. The products hang their screens into `urls.py`."""
