"""Transformation: running dbt over the warehouse, and the data dictionary generated from its manifest."""
