"""Exports: one module per target of the warehouse's outbound files."""
