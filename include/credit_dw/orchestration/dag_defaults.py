"""What the three nightly DAG files share: their default_args and how a night is scheduled.

Imported at the top of every file in `dags/`, so it imports no more than those files did before
(settings, the failure alert, pendulum): parsing a DAG file stays cheap.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum

from credit_dw.config import settings
from credit_dw.reports.alerts import alert_on_task_failure

OWNER = "credit-data-engineering"
RETRIES = 2

#: `@dag(...)` arguments of the cron-scheduled DAG (credit_ingest): no start_date, so a scheduler
#: that first sees it waits for the next 01:30 instead of running the latest night at once; none is
#: caught up by itself; one run at a time.
ON_DEMAND_OR_NIGHTLY: dict[str, Any] = {
    "catchup": False,
    "max_active_runs": 1,
}

#: `@dag(...)` arguments of the Asset-scheduled DAGs: any night may be backfilled (from 2014,
#: Beijing time), none is caught up by itself, and one run at a time.
NIGHTLY: dict[str, Any] = {
    **ON_DEMAND_OR_NIGHTLY,
    "start_date": pendulum.datetime(2014, 1, 1, tz="Asia/Shanghai"),
}


def default_args(retry_delay_seconds: int) -> dict[str, Any]:
    """Every task's owner, retries and failure alert; the retry delay is the DAG's own
    (`CREDIT_DW_RETRY_DELAY_SECONDS` overrides it, see `settings.retry_delay_seconds`)."""
    return {
        "owner": OWNER,
        "retries": RETRIES,
        "on_failure_callback": alert_on_task_failure,
        "retry_delay": timedelta(seconds=settings.retry_delay_seconds(retry_delay_seconds)),
    }
