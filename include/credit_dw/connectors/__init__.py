"""Connectors: one module per kind of source (sql, http, files), each writing a night's batch into a landing file."""
