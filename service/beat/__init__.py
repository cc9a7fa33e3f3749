"""The beat (``ticker-scheduler``): reconciles the database into desired state and supervises jobs.

``plan`` and ``shards`` are pure; ``reconcile``/``supervise`` do the I/O around
them; ``lock`` keeps one beat active; ``runner`` runs passes safely; ``main``
wires it all to APScheduler.
"""
