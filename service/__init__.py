"""ticker-service: live exchange tickers in Redis, supervised by a database-driven beat."""
