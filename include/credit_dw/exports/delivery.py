"""One delivery of one target for one night, into `$CREDIT_DW_HOME/outbox/<target>/<date>/`, or
`<remote_root>/<target>/<date>/` on the receiver's SFTP server when the target's SFTP connection
is configured (`credit_dw.exports.destination`, `credit_dw.exports.sftp`).

Order of writing, so that a receiver who sees `_SUCCESS` sees a complete delivery:

1. temporary files a killed run left behind are removed; an unrecorded delivery's stale
   `_SUCCESS` is removed before anything is replaced;
2. every data file (UTF-8 CSV, and XLSX for a target whose `formats` name it), each under a
   temporary name in the directory, then renamed (on
   SFTP: read back, size and sha256, before the rename);
3. the manifest (`datapackage.json`);
4. `_SUCCESS`, last (then an earlier failed attempt's `_NOT_PRODUCED` or `_HELD` note is removed);
5. the directory is listed and every file's size checked against what was sent;
6. the ledger row (`meta.export_deliveries`, one per target and night).

A file already there with the very bytes to be written is left as it is (not rewritten: its
mtime does not move). A rerun of a recorded night regenerates the files and compares them with
the recorded hashes: identical (the normal case) → missing or damaged files are written again
byte for byte, the recorded manifest is restored, and no second delivery is recorded; different
→ `DeliveryConflict`, nothing is touched: a correction after delivery is a new increment, never a
rewrite of a delivered file. Every scheduled delivery is written even when it has no rows
(header-only files with their manifest), so a receiver can tell "no changes" from "not produced".

Held, not sent: before a night is first delivered, each snapshot file (`kind: snapshot` in the
catalog) is compared with the same file of the last night delivered before it (`meta.export_files`).
It is held when it is empty and that one was not, or when its rows fall below the file's
`hold_if_shrinks_below` share of that night's (default 0.5): then nothing is written but `_HELD`
(one line, Chinese and English: the file, both counts, the threshold, how to release), nothing is
recorded and `DeliveryHeld` is raised, so the task fails and is alerted. An increment is never
held (a night without changes is delivered empty). `deliver(..., release=True)` (the operator's
`credit-dw export release --target T --date D`) delivers it anyway; a rerun of a delivered night is
never held.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath

from credit_dw.catalog.exports import ExportSpec, FileSpec
from credit_dw.config import settings
from credit_dw.db.connect import connect
from credit_dw.exports import ledger, manifest, writer
from credit_dw.exports.destination import Destination, open_destination


class DeliveryConflict(RuntimeError):
    """A rerun produced files that differ from the ones already delivered for the night."""


class DeliveryNotVerified(RuntimeError):
    """After writing, the destination does not list a file with the size that was sent."""


class DeliveryHeld(RuntimeError):
    """A snapshot file would be empty, or shrink sharply, against the last delivered night: held."""


@dataclass(frozen=True)
class Shrinkage:
    """A snapshot file held: its rows tonight and on the last delivered night."""

    file: str
    rows: int
    previous_rows: int
    previous_night: date
    threshold: float

    def english(self) -> str:
        if self.rows == 0:
            return (f"{self.file} is empty against {self.previous_rows} rows on {self.previous_night}")
        return (f"{self.file} has {self.rows} rows against {self.previous_rows} on {self.previous_night} "
                f"({self.rows / self.previous_rows:.1%} < {self.threshold:.0%})")

    def chinese(self) -> str:
        if self.rows == 0:
            return f"{self.file} 为空（{self.previous_night} 已交付 {self.previous_rows} 行）"
        return (f"{self.file} 仅 {self.rows} 行（{self.previous_night} 已交付 {self.previous_rows} 行，"
                f"降至 {self.rows / self.previous_rows:.1%}，低于 {self.threshold:.0%}）")


def shrinkages(spec: ExportSpec, logical_date: date, counts: Mapping[str, int]) -> list[Shrinkage]:
    """The snapshot files of `spec` that would be held for `logical_date` (`counts`: rows per file
    name of the spec), against the last night delivered before it; [] when none was."""
    snapshots = [f for f in spec.files if f.kind == "snapshot" and f.hold_if_shrinks_below is not None]
    if not snapshots:
        return []
    with connect() as conn:
        last = ledger.last_delivered_rows(conn, spec.target, logical_date)
    if last is None:
        return []
    previous_night, previous_rows = last
    held = []
    for file_spec in snapshots:
        before = previous_rows.get(file_spec.file_name(previous_night.isoformat()))
        if not before:  # not delivered then, or empty then: nothing to shrink from
            continue
        now = counts[file_spec.name]
        if now == 0 or now < file_spec.hold_if_shrinks_below * before:
            held.append(Shrinkage(file_spec.name, now, before, previous_night, file_spec.hold_if_shrinks_below))
    return held


def held_note(spec: ExportSpec, logical_date: date, held: Sequence[Shrinkage]) -> str:
    """The one line of `_HELD` (Chinese, then English)."""
    day = logical_date.isoformat()
    return (f"暂缓发送：{spec.target} {day} 的快照文件 {'；'.join(h.chinese() for h in held)}，待人工核实后放行"
            f"（credit-dw export release --target {spec.target} --date {day}）。 / "
            f"HELD, not sent: export {spec.target} {day}: {'; '.join(h.english() for h in held)}; an operator "
            f"releases it once checked (credit-dw export release --target {spec.target} --date {day})\n")


@dataclass(frozen=True)
class Delivery:
    target: str
    logical_date: date
    directory: PurePath  # the night's directory at its destination (local Path, or the remote path)
    files: tuple[manifest.WrittenFile, ...]
    manifest_file: PurePath
    newly_recorded: bool  # False when the night had been delivered before (a rerun)
    location: str = ""  # the outbox path, or sftp://user@host:port/<remote directory>

    @property
    def row_count(self) -> int:
        return sum(f.rows for f in self.files if f.format == "csv")  # an XLSX file repeats its CSV's rows


def _rows_by_operation(spec: FileSpec, rows: Sequence[Sequence[object]]) -> dict[str, int]:
    if spec.operation_header is not None:
        index = spec.headers.index(spec.operation_header)
        return dict(Counter(writer.format_value(row[index]) for row in rows))
    return {spec.operation or "rows": len(rows)} if rows else {}


def deliver(spec: ExportSpec, logical_date: date,
            tables: Mapping[str, Sequence[Sequence[object]] | writer.ServerCut], *,
            release: bool = False) -> Delivery:
    """Write `tables` (file name in the spec → rows in the spec's column order, or the CSV file the
    server cut: `writer.ServerCut`, the same bytes) as the night's delivery.

    A night not delivered yet whose snapshot files shrink sharply is held (`DeliveryHeld`, `_HELD`)
    unless `release` (see the module)."""
    day = logical_date.isoformat()
    missing = [f.name for f in spec.files if f.name not in tables]
    if missing:
        raise ValueError(f"export {spec.target} {day}: the target produced no rows for files {missing}")
    payloads: list[tuple[manifest.WrittenFile, bytes]] = []
    for file_spec in spec.files:
        rows = tables[file_spec.name]
        if isinstance(rows, writer.ServerCut):  # the CSV the server cut (run._export): its bytes as they are
            if spec.formats != ("csv",):
                raise ValueError(f"export {spec.target}: a server-cut file has no rows for its {spec.formats} files")
            payloads.append((manifest.WrittenFile(
                spec=file_spec, path=file_spec.file_name(day), bytes=len(rows.payload),
                sha256=hashlib.sha256(rows.payload).hexdigest(), rows=rows.rows,
                rows_by_operation=rows.rows_by_operation), rows.payload))
            continue
        by_operation = _rows_by_operation(file_spec, rows)
        for file_format in spec.formats:  # csv, then xlsx when the receiver wants spreadsheets
            payload = (writer.csv_bytes(file_spec.headers, rows) if file_format == "csv" else
                       writer.xlsx_bytes(file_spec.title, file_spec.headers, [c.type for c in file_spec.columns],
                                         rows, logical_date))
            payloads.append((manifest.WrittenFile(
                spec=file_spec, path=file_spec.file_name(day, file_format), bytes=len(payload),
                sha256=hashlib.sha256(payload).hexdigest(), rows=len(rows), rows_by_operation=by_operation,
                format=file_format), payload))

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
        held = shrinkages(spec, logical_date, {f.name: len(tables[f.name]) for f in spec.files})
        if held and not release:
            note = held_note(spec, logical_date, held)
            with open_destination(spec.target, day) as destination:
                destination.makedirs()
                destination.remove(manifest.SUCCESS_NAME)  # a killed, unrecorded run's
                destination.remove(manifest.NOT_PRODUCED_NAME)
                destination.put(manifest.HELD_NAME, note.encode("utf-8"))
            raise DeliveryHeld(note.strip())
        package = manifest.descriptor(spec, logical_date, [w for w, _ in payloads], revision)
        manifest_bytes = manifest.descriptor_bytes(package)

    with open_destination(spec.target, day) as destination:
        _write(destination, payloads, manifest_bytes, recorded_before=previous is not None)
        directory, location = destination.directory, destination.location

    newly = False
    if previous is None:
        with connect() as conn:
            newly = ledger.record(
                conn, target=spec.target, logical_date=logical_date, layout_version=spec.layout_version,
                git_revision=revision,
                files=[(w.path, w.rows, w.sha256) for w, _ in payloads],
                manifest=manifest_bytes.decode("utf-8"),
                manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest())
    return Delivery(spec.target, logical_date, directory, tuple(w for w, _ in payloads),
                    directory / manifest.MANIFEST_NAME, newly, location)


def _write(destination: Destination, payloads: Sequence[tuple[manifest.WrittenFile, bytes]],
           manifest_bytes: bytes, *, recorded_before: bool) -> None:
    """Steps 1–5 of the module's order; a file already holding the bytes is left untouched."""
    destination.makedirs()
    destination.clear_leftovers()
    if not recorded_before:
        destination.remove(manifest.SUCCESS_NAME)
    expected: dict[str, int] = {}
    for name, payload in [*((w.path, p) for w, p in payloads), (manifest.MANIFEST_NAME, manifest_bytes)]:
        if destination.digest(name) != (len(payload), hashlib.sha256(payload).hexdigest()):
            destination.put(name, payload)
        expected[name] = len(payload)
    if not destination.exists(manifest.SUCCESS_NAME):
        destination.put(manifest.SUCCESS_NAME, b"")
    expected[manifest.SUCCESS_NAME] = 0
    destination.remove(manifest.NOT_PRODUCED_NAME)  # an earlier failed attempt's note
    destination.remove(manifest.HELD_NAME)  # a held attempt's note, now released
    listed = destination.sizes()
    wrong = sorted(name for name, size in expected.items() if listed.get(name) != size)
    if wrong:
        raise DeliveryNotVerified(
            f"{destination.location}: after writing, {', '.join(wrong)} not listed with the size sent "
            f"({', '.join(f'{n}: {listed.get(n)} != {expected[n]}' for n in wrong)}); no delivery recorded")


def verified_delivery(spec: ExportSpec, logical_date: date) -> Delivery | None:
    """The night's recorded delivery when its files, manifest and `_SUCCESS` are at its destination
    exactly as recorded (read back and hashed); None otherwise. Lets a rerun of a delivered night
    succeed without recutting it when the marts have moved on to a later night (they can no longer
    reproduce it)."""
    with connect() as conn:
        previous = ledger.recorded(conn, spec.target, logical_date)
    if previous is None:
        return None
    manifest_bytes = previous.manifest.encode("utf-8")
    with open_destination(spec.target, logical_date.isoformat()) as destination:
        if not destination.exists(manifest.SUCCESS_NAME):
            return None
        if destination.digest(manifest.MANIFEST_NAME) != (len(manifest_bytes),
                                                          hashlib.sha256(manifest_bytes).hexdigest()):
            return None
        for name, sha256 in previous.file_hashes.items():
            found = destination.digest(name)
            if found is None or found[1] != sha256:
                return None
        directory, location = destination.directory, destination.location
    by_name = {f.name: f for f in spec.files}
    resources = json.loads(previous.manifest)["resources"]
    files = tuple(
        manifest.WrittenFile(spec=by_name[name], path=r["path"], bytes=r["bytes"],
                             sha256=r["hash"].removeprefix("sha256:"), rows=r["rows"],
                             rows_by_operation=r["rows_by_operation"], format=r.get("format", "csv"))
        for r in resources
        if (name := r["name"].removesuffix("-xlsx")) in by_name)
    return Delivery(spec.target, logical_date, directory, files, directory / manifest.MANIFEST_NAME,
                    newly_recorded=False, location=location)
