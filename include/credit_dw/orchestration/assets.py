"""Airflow Assets linking the three DAGs; defined once here, imported by producers and consumers."""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

#: Emitted by `credit_ingest` when the night's feeds are landed and gated.
RAW_LANDED = Asset(name="credit_raw_landed", uri="credit-dw://warehouse/raw", group="credit-warehouse")

#: Emitted by `credit_transform` when the dbt marts are built for the night.
MARTS_BUILT = Asset(name="credit_marts_built", uri="credit-dw://warehouse/marts", group="credit-warehouse")

#: Each feed's own Asset, emitted through this alias by the feed's validate task once its batch
#: is gated (extra: logical_date, status, row counts). Schedule on `feed_asset("<source_id>")`
#: to react to one feed only.
FEED_LANDED = AssetAlias(name="credit_feed_landed", group="credit-warehouse")


def feed_asset(source_id: str) -> Asset:
    return Asset(name=f"credit_raw_{source_id}", uri=f"credit-dw://warehouse/raw/{source_id}", group="credit-warehouse")
