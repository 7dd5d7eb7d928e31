"""Configuration: settings read from the environment, and the Airflow environment the night runs in."""
