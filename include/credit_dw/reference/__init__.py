"""Reference data the warehouse keeps as dbt seeds (top-level `seeds/`), and how it is rebuilt."""
