"""Cards as the engine needs them: reservation numbers and HMAC'd passwords (`credentials`) and the one way a
card changes state, locked and recorded (`moves`). The lifecycle product builds its screens on these."""
