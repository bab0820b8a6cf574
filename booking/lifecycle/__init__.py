"""The card's life in the municipality (AD-03, AD-08, BK-13): from J-LIS data to the hand-over at the counter.

`states` names the states and the legal moves between them (the database enforces the same table);
`models` holds the history and the background jobs; `services` makes the moves.
"""
