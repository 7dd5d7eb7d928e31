"""The warehouse database: connections, bootstrap (the DDL under sql/), the embedded server for development."""
