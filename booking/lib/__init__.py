"""The ground floor's toolbox: Japanese text, dates, kana, digits and phone numbers in one place, and private
output files. Imports nothing else of booking.

- `japanese`: widths (NFKC), the dashes and spaces between digit groups, typed digits, kana;
- `digits`: whole numbers and record ids in ASCII digits (never `str.isdigit()`);
- `phone`: Japanese telephone numbers as typed;
- `dates`: Asia/Tokyo, the plausible years, date forms read and the Japanese written form;
- `private_files`: owner-only output files, whole or not at all.
"""
