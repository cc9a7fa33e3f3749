"""Worker-side runtime of the long-lived streaming jobs.

Nothing here imports from ``service``: this package knows ccxt, asyncio and the
contracts in ``workers.spec`` / ``workers.heartbeat``; ``service`` wires it to
Redis, the settings and Dramatiq.
"""
