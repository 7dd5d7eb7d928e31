"""Exporting one target for one night: its spec from the catalog, its content from its target
module, its delivery through `credit_dw.exports.delivery` (to the local outbox, or over SFTP when
the target's connection is configured: `credit_dw.exports.destination`).

A past night is delivered only from marts built as of that night: each mart the spec names in
`as_of_checked` must carry `as_of_on` = the night, else `NotBuiltForNight` says so (rebuild the
night first: `credit-dw run --date D`). Today's marts are never written under a past date. A night
delivered before whose files are intact is then verified against the ledger instead of recut.
"""

from __future__ import annotations

import importlib
import logging
from datetime import date

import psycopg

from credit_dw.catalog.exports import ExportSpec, get_export
from credit_dw.db.connect import connect
from credit_dw.exports import manifest, writer
from credit_dw.exports.delivery import Delivery, DeliveryHeld, deliver, verified_delivery
from credit_dw.exports.destination import open_destination

log = logging.getLogger(__name__)


class NotBuiltForNight(RuntimeError):
    """The marts an export reads hold another night's state."""


def check_as_of(conn: psycopg.Connection, spec: ExportSpec, logical_date: date) -> None:
    for model in spec.as_of_checked:
        found = [d for (d,) in conn.execute(f"select distinct as_of_on from marts.{model}").fetchall()]
        if found and found != [logical_date]:
            raise NotBuiltForNight(
                f"export {spec.target} {logical_date}: marts.{model} holds the state as of "
                f"{', '.join(str(d) for d in found)}, not of {logical_date}; rebuild that night's marts "
                f"(credit-dw run --date {logical_date}) before exporting it")


def export(target: str, logical_date: date, *, release: bool = False) -> Delivery:
    """Cut, write and record `target`'s delivery for `logical_date` (idempotent: see delivery).

    A night whose snapshot files would be empty or shrink sharply against the last delivered night
    is held: `_HELD` says why where the receiver looks, nothing is recorded and `DeliveryHeld` is
    raised (the task fails and alerts). `release=True` (`credit-dw export release`) delivers it
    anyway, after an operator has checked that the shrinkage is real.

    When it fails and the night has no delivery yet, `_NOT_PRODUCED` in the night's directory (at
    its destination: the outbox, or the SFTP server) says why, so the receiver can tell "not
    produced" from "not yet" or "no changes" (an empty delivery). When the destination itself cannot
    be reached (the SFTP server is down or refuses us) the note cannot be left: the error is logged
    and the task fails, which alerts.
    """
    try:
        return _export(target, logical_date, release=release)
    except DeliveryHeld:
        raise  # `_HELD` is the receiver's note
    except Exception as exc:
        reason = f"export {target} {logical_date} was not produced: {type(exc).__name__}: {exc}\n"
        try:
            with open_destination(target, logical_date.isoformat()) as destination:
                if not destination.exists(manifest.SUCCESS_NAME):
                    destination.makedirs()
                    destination.put(manifest.NOT_PRODUCED_NAME, reason.encode("utf-8"))
        except Exception:
            log.exception("export %s %s: could not leave %s at the destination", target, logical_date,
                          manifest.NOT_PRODUCED_NAME)
        raise


def _server_cuts(conn: psycopg.Connection, spec: ExportSpec, module, logical_date: date) -> dict | None:
    """The target's CSV files cut by the server (`writer.server_cut`: one COPY per file, the Python
    writer's very bytes, 3 to 4 times its throughput: docs/benchmarks.md "Export throughput") when
    its module declares `queries(logical_date)` and it receives CSV only; None otherwise (or when a
    column's type has no COPY rendering), and the rows are fetched and written in Python."""
    queries = getattr(module, "queries", None)
    if queries is None or spec.part is not None or spec.formats != ("csv",):
        return None
    declared = queries(logical_date)
    cuts = {}
    for file_spec in spec.files:
        if file_spec.name not in declared:
            raise ValueError(f"export {spec.target}: module {spec.module} declares no {file_spec.name!r} query")
        query, params = declared[file_spec.name]
        operation_key = (file_spec.keys[file_spec.headers.index(file_spec.operation_header)]
                         if file_spec.operation_header is not None else None)
        try:
            cuts[file_spec.name] = writer.server_cut(conn, query, params, file_spec.keys, file_spec.headers,
                                                     operation_key=operation_key, operation=file_spec.operation)
        except writer.NotCopyable as exc:
            log.info("export %s: %s; the rows are written in Python", spec.target, exc)
            return None
    return cuts


def _export(target: str, logical_date: date, *, release: bool = False) -> Delivery:
    spec = get_export(target)
    module = importlib.import_module(f"credit_dw.exports.targets.{spec.module}")
    with connect() as conn:
        conn.execute("set time zone 'Asia/Shanghai'")
        try:
            check_as_of(conn, spec, logical_date)
        except NotBuiltForNight:
            delivered = verified_delivery(spec, logical_date)
            if delivered is None:
                raise
            log.warning("export %s %s: delivered before and intact on disk; the marts now hold another "
                        "night's state, so it is verified, not recut", target, logical_date)
            return delivered
        cut_on_server = _server_cuts(conn, spec, module, logical_date)
        if cut_on_server is not None:
            tables = cut_on_server
        else:
            # A fanned-out target (city/<code>) cuts its part only; the others take the night alone.
            produced = (module.tables(conn, logical_date) if spec.part is None
                        else module.tables(conn, logical_date, spec.part))
    if cut_on_server is None:
        tables = {}
        for file_spec in spec.files:
            rows = produced.get(file_spec.name)
            if rows is None:
                raise ValueError(f"export {target}: module {spec.module} produced no {file_spec.name!r} table")
            tables[file_spec.name] = [tuple(row[key] for key in file_spec.keys) for row in rows]
    if release:
        log.warning("export %s %s: released by an operator; delivered even if its snapshots shrank", target,
                    logical_date)
    return deliver(spec, logical_date, tables, release=release)
