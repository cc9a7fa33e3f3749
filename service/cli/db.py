"""``ticker-service db upgrade|downgrade|current``: the schema, migrated with Alembic."""

from __future__ import annotations

import argparse
from typing import Any

from service.db import migrate
from service.settings import Settings, redact_url


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="migrate the database schema")
    actions = parser.add_subparsers(dest="db_action", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="migrate to the newest schema (safe to repeat)")
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    upgrade.set_defaults(func=run_upgrade)
    downgrade = actions.add_parser("downgrade", help="migrate down to REVISION ('base': drop all)")
    downgrade.add_argument("revision", help="target revision, e.g. base")
    downgrade.set_defaults(func=run_downgrade)
    current = actions.add_parser("current", help="print the revision; exit 1 unless at head")
    current.set_defaults(func=run_current)


def run_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    migrate.upgrade(settings.database_url, args.revision)
    revision = migrate.revision_at(settings.database_url)
    print(f"database {redact_url(settings.database_url)} is at revision {revision}")
    return 0


def run_downgrade(args: argparse.Namespace, settings: Settings) -> int:
    migrate.downgrade(settings.database_url, args.revision)
    revision = migrate.revision_at(settings.database_url) or "base (no tables)"
    print(f"database {redact_url(settings.database_url)} is at revision {revision}")
    return 0


def run_current(args: argparse.Namespace, settings: Settings) -> int:
    revision = migrate.revision_at(settings.database_url)
    head = migrate.head_revision()
    where = redact_url(settings.database_url)
    if revision is None:
        print(f"database {where} was never migrated: run `ticker-service db upgrade`")
        return 1
    if revision != head:
        print(f"database {where} is at revision {revision}; head is {head}")
        return 1
    print(f"database {where} is at revision {revision} (head)")
    return 0
