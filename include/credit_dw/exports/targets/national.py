"""全国信用信息共享平台 (`national`): what the national platform receives each night.

Today: the subjects whose registration changed that night ("one entry, many exits" [000 §2.2]:
one curated table feeds every exit), from `dim_subject`, ordered by key so a rerun of the night
yields the same bytes. Natural persons' data is not part of this file; the legal representative's
name is public registry information (catalog `person_names_allowed`).
"""

from __future__ import annotations

from datetime import date

import psycopg

SUBJECT_COLUMNS = (
    "subject_id", "uscc", "subject_name", "subject_type", "legal_representative",
    "registration_division_code", "jurisdiction_code", "registered_on", "registration_status",
    "source_updated_at",
)


def tables(conn: psycopg.Connection, logical_date: date) -> dict[str, list[dict]]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        subjects = cur.execute(
            f"select {', '.join(SUBJECT_COLUMNS)} from marts.dim_subject "
            "where last_changed_on = %s order by subject_id",
            (logical_date,),
        ).fetchall()
    return {"subjects": subjects}
