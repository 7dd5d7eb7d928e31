"""One delivery of one target for one night, into `$CREDIT_DW_HOME/outbox/<target>/<date>/`.

Order of writing, so that a receiver who sees `_SUCCESS` sees a complete delivery:

1. temporary files a killed run left behind are removed; an unrecorded delivery's stale
   `_SUCCESS` is removed before anything is replaced;
2. every data file (UTF-8 CSV), each under a temporary name in the directory, then renamed;
3. the manifest (`datapackage.json`);
4. `_SUCCESS`, last (then an earlier failed attempt's `_NOT_PRODUCED` note is removed);
5. the ledger row (`meta.export_deliveries`, one per target and night).

A rerun of a recorded night regenerates the files and compares them with the recorded hashes:
identical (the normal case) → the files are written again byte for byte, the recorded manifest is
restored, and no second delivery is recorded; different → `DeliveryConflict`, nothing is
touched: a correction after delivery is a new increment, never a rewrite of a delivered file.
Every scheduled delivery is written even when it has no rows (header-only files with their
manifest), so a receiver can tell "no changes" from "not produced".
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from credit_dw.catalog.exports import ExportSpec, FileSpec
from credit_dw.config import settings
from credit_dw.db.connect import connect
from credit_dw.exports import ledger, manifest, writer


class DeliveryConflict(RuntimeError):
    """A rerun produced files that differ from the ones already delivered for the night."""


@dataclass(frozen=True)
class Delivery:
    target: str
    logical_date: date
    directory: Path
    files: tuple[manifest.WrittenFile, ...]
    manifest_file: Path
    newly_recorded: bool  # False when the night had been delivered before (a rerun)

    @property
    def row_count(self) -> int:
        return sum(f.rows for f in self.files)


def _rows_by_operation(spec: FileSpec, rows: Sequence[Sequence[object]]) -> dict[str, int]:
    if spec.operation_header is not None:
        index = spec.headers.index(spec.operation_header)
        return dict(Counter(writer.format_value(row[index]) for row in rows))
    return {spec.operation or "rows": len(rows)} if rows else {}


def deliver(spec: ExportSpec, logical_date: date, tables: Mapping[str, Sequence[Sequence[object]]]) -> Delivery:
    """Write `tables` (file name in the spec → rows in the spec's column order) as the night's delivery."""
    day = logical_date.isoformat()
    missing = [f.name for f in spec.files if f.name not in tables]
    if missing:
        raise ValueError(f"export {spec.target} {day}: the target produced no rows for files {missing}")
    payloads: list[tuple[manifest.WrittenFile, bytes]] = []
    for file_spec in spec.files:
        rows = tables[file_spec.name]
        payload = writer.csv_bytes(file_spec.headers, rows)
        payloads.append((manifest.WrittenFile(
            spec=file_spec, path=file_spec.file_name(day), bytes=len(payload),
            sha256=hashlib.sha256(payload).hexdigest(), rows=len(rows),
            rows_by_operation=_rows_by_operation(file_spec, rows)), payload))

    revision = settings.git_revision()
    with connect() as conn:
        previous = ledger.recorded(conn, spec.target, logical_date)
    if previous is not None:
        now = {w.path: w.sha256 for w, _ in payloads}
        if now != previous.file_hashes:
            changed = sorted(name for name in set(now) | set(previous.file_hashes)
                             if now.get(name) != previous.file_hashes.get(name))
            raise DeliveryConflict(
                f"export {spec.target} {day} was delivered already and a rerun now yields different "
                f"{', '.join(changed)}: a delivered file is never rewritten; deliver the correction as a "
                "new increment (or, for a past night, rebuild the marts as of that night first)")
        manifest_bytes = previous.manifest.encode("utf-8")
    else:
        package = manifest.descriptor(spec, logical_date, [w for w, _ in payloads], revision)
        manifest_bytes = manifest.descriptor_bytes(package)

    directory = settings.outbox_dir(spec.target, day)
    directory.mkdir(parents=True, exist_ok=True)
    writer.clear_leftovers(directory)
    success = directory / manifest.SUCCESS_NAME
    if previous is None:
        success.unlink(missing_ok=True)
    for written, payload in payloads:
        target_path = directory / written.path
        if not target_path.exists() or target_path.read_bytes() != payload:
            writer.write_atomically(target_path, payload)
    manifest_file = directory / manifest.MANIFEST_NAME
    if not manifest_file.exists() or manifest_file.read_bytes() != manifest_bytes:
        writer.write_atomically(manifest_file, manifest_bytes)
    if not success.exists():
        writer.write_atomically(success, b"")
    (directory / manifest.NOT_PRODUCED_NAME).unlink(missing_ok=True)  # an earlier failed attempt's note

    newly = False
    if previous is None:
        with connect() as conn:
            newly = ledger.record(
                conn, target=spec.target, logical_date=logical_date, layout_version=spec.layout_version,
                git_revision=revision,
                files=[(w.path, w.rows, w.sha256) for w, _ in payloads],
                manifest=manifest_bytes.decode("utf-8"),
                manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest())
    return Delivery(spec.target, logical_date, directory, tuple(w for w, _ in payloads), manifest_file, newly)


def verified_delivery(spec: ExportSpec, logical_date: date) -> Delivery | None:
    """The night's recorded delivery when its files, manifest and `_SUCCESS` are on disk exactly as
    recorded; None otherwise. Lets a rerun of a delivered night succeed without recutting it when
    the marts have moved on to a later night (they can no longer reproduce it)."""
    with connect() as conn:
        previous = ledger.recorded(conn, spec.target, logical_date)
    if previous is None:
        return None
    directory = settings.outbox_dir(spec.target, logical_date.isoformat())
    manifest_file = directory / manifest.MANIFEST_NAME
    if not (directory / manifest.SUCCESS_NAME).exists() or not manifest_file.exists():
        return None
    if manifest_file.read_bytes() != previous.manifest.encode("utf-8"):
        return None
    for name, sha256 in previous.file_hashes.items():
        path = directory / name
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            return None
    by_name = {f.name: f for f in spec.files}
    files = tuple(
        manifest.WrittenFile(spec=by_name[r["name"]], path=r["path"], bytes=r["bytes"],
                             sha256=r["hash"].removeprefix("sha256:"), rows=r["rows"],
                             rows_by_operation=r["rows_by_operation"])
        for r in json.loads(previous.manifest)["resources"] if r["name"] in by_name)
    return Delivery(spec.target, logical_date, directory, files, manifest_file, newly_recorded=False)
