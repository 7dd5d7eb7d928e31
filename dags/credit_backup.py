"""
# credit_backup

The warehouse's daily backup and its restore drill (docs/runbook.md, "Backups and restore"):

- **take_backup**: a full backup with Barman (pg_basebackup over the replication protocol), WAL
  archived continuously by Barman's streaming archiver (pg_receivewal on a replication slot) for
  point-in-time recovery, then the encrypted off-site copy of the backup and the new WAL
  (`CREDIT_DW_BACKUP_KEY`, into `CREDIT_DW_BACKUP_OFFSITE_DIR`). Catalogue:
  `$CREDIT_DW_HOME/backup/barman/`.
- **restore_drill**: restores that backup to a point in time T (now) into a scratch server on a
  socket of its own, and compares row counts and checksums of every table in `marts` with those
  taken at T; records the recovery point and the restore time in `meta.backup_drills`. A drill
  whose copy differs fails the run, so it is alerted.

Runs at 05:00 Beijing time, after a normal night's export; no start_date (a scheduler that first
sees it waits for the next 05:00), no catchup. `credit-dw backup run|restore-drill` do the same by hand.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from credit_dw.orchestration.dag_defaults import ON_DEMAND_OR_NIGHTLY, default_args

DEFAULT_ARGS = default_args(retry_delay_seconds=600)


@dag(
    dag_id="credit_backup",
    schedule="0 5 * * *",
    **ON_DEMAND_OR_NIGHTLY,  # no start_date, no catchup, one run at a time
    default_args=DEFAULT_ARGS,
    tags=["credit", "backup"],
    doc_md=__doc__,
)
def credit_backup():
    @task
    def take_backup() -> dict:
        from credit_dw.operations.backup import run_backup

        return run_backup().as_dict()

    @task
    def restore_drill() -> dict:
        from credit_dw.operations.backup import BackupError, restore_drill

        result = restore_drill()
        if not result.ok:
            raise BackupError(f"restore drill {result.drill_id} of backup {result.backup_id}: the restored "
                              f"marts differ from those at {result.target_time}: {result.as_dict()}")
        return result.as_dict()

    take_backup() >> restore_drill()


credit_backup()
