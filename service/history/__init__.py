"""Market history: 1-minute candles and public trades in the database, and what is complete.

``records`` holds the typed records every part shares (the store, the ledger,
the backfill, the CLI); the store and the backfill are built on them.
"""
