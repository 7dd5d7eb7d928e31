"""A delivery's manifest: a Frictionless Data Package descriptor (`datapackage.json`).

Receivers validate a delivery with a standard tool (`frictionless validate datapackage.json`
checks every file's sha256, size, headers and field types against it). Besides the standard
properties the descriptor carries the target, the logical date, the layout version, the
producing git revision, and per file its row count and rows per operation (new / changed /
withdrawn, current / 异议, ...). Keys are written in a fixed order and nothing depends on the
clock, so the same night yields the same bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

from credit_dw.catalog.exports import ExportSpec, FileSpec

PROFILE = "tabular-data-package"
MANIFEST_NAME = "datapackage.json"
SUCCESS_NAME = "_SUCCESS"
#: Left instead of a delivery when a night's export failed: the reason, where the receiver looks.
NOT_PRODUCED_NAME = "_NOT_PRODUCED"
#: Left instead of a delivery when a snapshot file would be empty or shrink sharply against the
#: last delivered night: the reason and both counts, until an operator releases it.
HELD_NAME = "_HELD"
XLSX_MEDIATYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class WrittenFile:
    """One file of a delivery: its spec, name on disk, size, hash and row counts."""

    spec: FileSpec
    path: str
    bytes: int
    sha256: str
    rows: int
    rows_by_operation: dict[str, int]
    format: str = "csv"  # or "xlsx": the same rows as the CSV, for a receiver that wants spreadsheets


def _package_name(target: str, logical_date: date) -> str:
    # Frictionless names are lower-case letters, digits and - _ . (a `city/1301` target becomes city-1301).
    return re.sub(r"[^a-z0-9._-]+", "-", f"{target}-{logical_date.isoformat()}".lower())


def _resource(written: WrittenFile) -> dict:
    if written.format == "xlsx":
        return {
            "name": f"{written.spec.name}-xlsx",
            "title": f"{written.spec.title}（XLSX）",
            "path": written.path,
            "profile": "tabular-data-resource",
            "format": "xlsx",
            "mediatype": XLSX_MEDIATYPE,
            "bytes": written.bytes,
            "hash": f"sha256:{written.sha256}",
            "rows": written.rows,
            "rows_by_operation": dict(sorted(written.rows_by_operation.items())),
            "schema": _schema(written),
        }
    return {
        "name": written.spec.name,
        "title": written.spec.title,
        "path": written.path,
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "bytes": written.bytes,
        "hash": f"sha256:{written.sha256}",
        "rows": written.rows,
        "rows_by_operation": dict(sorted(written.rows_by_operation.items())),
        "dialect": {"delimiter": ",", "lineTerminator": "\n", "quoteChar": "\"", "doubleQuote": True,
                    "header": True},
        "schema": _schema(written),
    }


def _schema(written: WrittenFile) -> dict:
    return {"fields": [{"name": c.header, "type": c.type} for c in written.spec.columns], "missingValues": [""]}


def descriptor(spec: ExportSpec, logical_date: date, files: list[WrittenFile], git_revision: str) -> dict:
    return {
        "profile": PROFILE,
        "name": _package_name(spec.target, logical_date),
        "title": f"{spec.title} {logical_date.isoformat()}",
        "target": spec.target,
        "logical_date": logical_date.isoformat(),
        "layout_version": spec.layout_version,
        "git_revision": git_revision,
        "resources": [_resource(f) for f in files],
    }


def descriptor_bytes(package: dict) -> bytes:
    """The descriptor as written: checked against the Data Package profile first (frictionless)."""
    from frictionless import Package

    report = Package.validate_descriptor(package)
    if not report.valid:
        problems = "; ".join(str(m[0]) for m in report.flatten(["message"]))
        raise ValueError(f"the manifest of {package['name']} is not a valid Data Package: {problems}")
    return (json.dumps(package, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
