"""What residents use: the server-rendered booking flow (`web`, namespace `citizen`, mounted again as
`caller` for operators), the JSON API (`api`, `/api/v1/`) and the sign-in with reservation number and
password (`login`)."""
