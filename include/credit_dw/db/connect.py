"""Connections to the warehouse (psycopg, from the configured URL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from credit_dw.config import settings


@contextmanager
def connect(url: str | None = None, autocommit: bool = False) -> Iterator[psycopg.Connection]:  # noqa: F821
    import psycopg

    with psycopg.connect(settings.libpq_url(url), autocommit=autocommit) as conn:
        yield conn
