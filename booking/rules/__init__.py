"""Pure rules, no database: which slots a place offers on a day (`schedule`), the booking window and deadlines
(`windows`), the card's states and legal moves (`card_states`). Models are named only for type hints."""
