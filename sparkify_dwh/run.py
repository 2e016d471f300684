"""A run: its record, and the reject policy ([ETL] MAX_REJECTS) enforced in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sparkify_dwh import settings, staging
from sparkify_dwh.errors import DwhError
from sparkify_dwh.settings import Settings


@dataclass
class Run:
    run_id: int
    started: datetime
    target: str
    planned: dict[str, tuple[int, int]] = field(default_factory=dict)  # source -> (objects, bytes)
    staged: dict[str, staging.StageCounts] = field(default_factory=dict)
    rejects: staging.RejectSpool = field(default_factory=staging.RejectSpool)
    rows_before: dict[str, int] = field(default_factory=dict)
    rows_after: dict[str, int] = field(default_factory=dict)
    checks: str | None = None  # passed | failed, when [ETL] RUN_CHECKS ran them


class RejectLimitExceeded(DwhError):
    """More records were rejected than MAX_REJECTS allows."""


def enforce_reject_limit(cfg: Settings, run: Run) -> int:
    """Fail the run past MAX_REJECTS; return how many rejects it allows."""
    records = sum(c.rows + c.rejected for c in run.staged.values())
    allowed = settings.allowed_rejects(cfg, records)
    rejected = run.rejects.count
    if rejected > allowed:
        raise RejectLimitExceeded(
            f"{rejected:,} of {records:,} records rejected, more than MAX_REJECTS = "
            f"{cfg.etl.max_rejects} allows; nothing was loaded. First: "
            + "; ".join(run.rejects.first)
        )
    return allowed
