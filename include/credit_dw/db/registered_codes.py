"""meta.registered_codes: the USCCs that registering feeds' accepted rows carry.

The quality gate (`ingest.gate`) calls `register_codes` for every batch it validates; other feeds'
suites look codes up in the table (sql/25_registered_codes.sql). `backfill_registered_codes` fills
the table once for warehouses whose registering batches were validated before it existed, with
the same insert; `db.bootstrap` calls it. Both live here, below the gate, so that bootstrapping
the database needs nothing from the ingest layer.
"""

from __future__ import annotations

from credit_dw.catalog import SourceSpec, get_source, registering_source_ids


def register_codes(conn, spec: SourceSpec, batch_id: str, status: str) -> None:
    """A registering feed's (catalog `registers_codes: <field>`) accepted codes go to
    meta.registered_codes, where other feeds' suites look codes up. Replaced per batch, so a rerun
    or a batch rejected on rerun leaves exactly its accepted codes."""
    field = spec.extra.get("registers_codes")
    if not field:
        return
    if field not in spec.fields:
        raise ValueError(f"catalog: {spec.source_id}.registers_codes names {field!r}, not one of its fields")
    conn.execute("delete from meta.registered_codes where batch_id = %s", (batch_id,))
    if status != "accepted":
        return
    # The accepted rows as a set difference, not `not exists` against meta.row_issues: the issues
    # were written in this same transaction, so the planner's statistics do not know them, and at
    # 1,000,000 rows its nested-loop anti-join ran for over 13 minutes (the validation benchmark).
    conn.execute(
        f"""insert into meta.registered_codes (uscc, batch_id, source_id)
            select distinct credit.normalize_code(r.{field}), r._batch_id, r._source_id
            from {spec.raw_relation} as r
            inner join (
                select _row_number from {spec.raw_relation} where _batch_id = %(batch)s
                except
                select row_number from meta.row_issues where batch_id = %(batch)s and severity = 'critical'
            ) as accepted on accepted._row_number = r._row_number
            where r._batch_id = %(batch)s
              and credit.is_valid_uscc(credit.normalize_code(r.{field}))""",
        {"batch": batch_id},
    )


def backfill_registered_codes(conn) -> int:
    """Record the accepted codes of registering batches validated before meta.registered_codes
    existed, with the same insert the gate uses (`register_codes`); only while the table is empty (bootstrap runs every
    night). Returns the batches recorded."""
    if conn.execute("select exists (select from meta.registered_codes)").fetchone()[0]:
        return 0
    recorded = 0
    for source_id in registering_source_ids():
        spec = get_source(source_id)
        if conn.execute("select to_regclass(%s)", (spec.raw_relation,)).fetchone()[0] is None:
            continue  # the feed never landed here
        batches = conn.execute(
            "select batch_id from meta.load_batches where source_id = %s and status = 'accepted' order by batch_id",
            (source_id,)).fetchall()
        for (batch_id,) in batches:
            register_codes(conn, spec, batch_id, "accepted")
            recorded += 1
    return recorded
