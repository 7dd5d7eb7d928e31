"""Exports to downstream platforms ("one entry, many exits", 一口入，多口出 [000 §2.2]).

- `catalog/exports.yml` (`credit_dw.catalog.exports`) declares every target;
- `targets/<module>.py` cuts a target's content from the marts (targets are independent);
- `run.export(target, night)` checks the marts hold that night's state, then `delivery.deliver`
  writes the files (`writer`), the Data Package manifest (`manifest`), `_SUCCESS` last, and
  records the delivery once (`ledger`); a night whose snapshot files would be empty or shrink
  sharply against the last delivered night is held instead (`_HELD`, `DeliveryHeld`) until an
  operator releases it (`credit-dw export release`);
- `destination` says where: the local outbox, or the receiver's SFTP server when the target's
  Airflow connection exists (`sftp`: upload under a temporary name, read back, `posix_rename`).

docs/exports.md describes the deliveries for receivers.
"""
