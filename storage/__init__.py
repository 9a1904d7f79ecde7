"""SQLite storage: the database, the quota ledger and the job rows.

Implements the ``bot.records`` Protocols; imports no platform SDK.
"""

from storage.db import Database, Migration, MigrationError
from storage.jobs import SqliteJobRepository
from storage.quotas import SqliteQuotaLedger

__all__ = ["Database", "Migration", "MigrationError", "SqliteJobRepository", "SqliteQuotaLedger"]
