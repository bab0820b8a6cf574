"""Who may do what on the staff surfaces (SO-10): staff accounts and sign-in (`accounts`), roles and
their capabilities (`permissions`), the one access check every staff page and staff API endpoint passes
(`gate`), the bearer-token parser both APIs use (`bearer`), failure counting (`throttle`) and password
rules (`passwords`)."""
