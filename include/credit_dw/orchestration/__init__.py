"""Orchestration: Airflow assets, the night of a DAG run, and the local runner behind `credit-dw run`."""
