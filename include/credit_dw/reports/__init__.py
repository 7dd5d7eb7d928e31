"""Reports: the night summary, alerts, and the daily quality report."""
