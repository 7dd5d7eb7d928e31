"""Airflow Assets linking the three DAGs; defined once here, imported by producers and consumers."""

from __future__ import annotations

from airflow.sdk import Asset

#: Emitted by `credit_ingest` when the night's feeds are landed and gated.
RAW_LANDED = Asset(name="credit_raw_landed", uri="credit-dw://warehouse/raw", group="credit-warehouse")

#: Emitted by `credit_transform` when the dbt marts are built for the night.
MARTS_BUILT = Asset(name="credit_marts_built", uri="credit-dw://warehouse/marts", group="credit-warehouse")
