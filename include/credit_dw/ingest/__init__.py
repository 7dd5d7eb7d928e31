"""Ingestion of one feed's night: the ledger, landing, the quality gate, returns to senders, the per-feed pipeline."""
