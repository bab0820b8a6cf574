"""The operation log (SO-14, SO-06): every write records who did what, in its own transaction, in a
gapless HMAC chain that `verify_oplog` checks; a daily task purges what is past retention."""
