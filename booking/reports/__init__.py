"""Call-center reports (CC-05, Kyoto's spec 3⑵シ): a daily report mailed after each operating day, and a
monthly report (CSV, and an HTML page with a chart of daily volumes) on screen and by mail.

The numbers come only from records the system already keeps: the call log (one row per call taken) and
the bookings' history (one event per booking, change and cancellation, with its channel). A report
therefore always agrees with the lists staff see, and holds no personal data.

The modules, each using only those above it:

- `days`: the call center's operating days, when a report is due, the dates and months a page asks for;
- `queries`: a day's and a month's figures (reads only);
- `formatting`: how reports write dates and titles, and the monthly CSV;
- `chart`: the monthly chart, inline SVG for the page and the mail alike;
- `mail`: the mails' subjects and bodies;
- `services`: sending each report once (`do_send_*`), called by `tasks` (`booking.send_daily_report`,
  `booking.send_monthly_report`);
- `views`: the pages and the CSV download.
"""
