"""The virtual waiting room per municipality (issue 12, item 3): limits and events set by our operators
(`services`, pages in `views`), the line in Redis (`redis_line`), the limits in force (`rules`) and the gate
in front of the citizen lane (`gate`). docs/architecture.md, "A fair waiting room"."""
