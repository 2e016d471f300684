"""The toolkit's typed errors: each is a problem the user can fix, shown as one line at the script's edge."""

from __future__ import annotations


class DwhError(Exception):
    """A problem the user can fix. Scripts show it as one line, without a traceback."""


class ConfigError(DwhError):
    """dwh.cfg or its environment overrides are missing, malformed or inconsistent."""


class WarehouseUnreachable(DwhError):
    """The warehouse cannot be reached or refuses the login."""


class SourceError(DwhError):
    """A source (S3 prefix or folder) cannot be listed or read."""


class LockTimeout(DwhError):
    """A writer gave up waiting for its locks after [ETL] LOCK_TIMEOUT."""
