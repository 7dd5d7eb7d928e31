"""The benchmarks of docs/benchmarks.md: `make bench`, i.e. `credit-dw bench` (or `python -m benchmarks`).

The command line and the order of the sections; each section is a module of its own:
`benchmarks.landing` (landing and SQL extraction), `benchmarks.validation` (the gate),
`benchmarks.transform` (minutes of dbt and Airflow runs: asked for by name), `benchmarks.export` (the
export writer against `COPY … TO STDOUT`: asked for by name), with what they share in
`benchmarks.common`. Each measured run is a fresh child process, `python -m benchmarks.bench --child …`.

Everything runs against a fresh embedded PostgreSQL in a temporary `CREDIT_DW_HOME`, which is
stopped and deleted at the end: the benchmark never touches the user's warehouse. Before each
timed section it waits (up to `--max-wait` s) for the 1-minute load average to fall to
`--max-load`, and records the load it ran at. The report is Markdown on stdout; `--write-docs`
also puts it into docs/benchmarks.md (the sections that ran replace theirs, the other
sections are kept) and `--json FILE` writes the raw figures.

Only the standard library is imported at module level: `CREDIT_DW_HOME` must be set before any
credit_dw module reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks import export as bench_export
from benchmarks import landing, validation
from benchmarks.common import (
    DEFAULT_MAX_LOAD,
    DEFAULT_MAX_WAIT,
    DOCS_FILE,
    ROOT,
    SOURCE_ID,
    machine_facts,
    machine_line,
    wait_quiet,
    write_docs,
)

REPEATS = 3
SECTIONS = ("landing", "extraction", "validation", "transform", "export")
#: Run without --sections. The transform benchmark is minutes of dbt and Airflow runs, the export one
#: builds its own million rows: asked for by name.
DEFAULT_SECTIONS = ("landing", "extraction", "validation")


def run(rows: int, sizes: list[int], pandas_rows: int, repeats: int, variants: bool, log,
        *, quick: bool = False, sections: tuple[str, ...] = DEFAULT_SECTIONS,
        validation_rows: int = validation.DEFAULT_ROWS, pandas_validation_rows: int | None = None,
        max_load: float = DEFAULT_MAX_LOAD, max_wait: float = DEFAULT_MAX_WAIT,
        export_rows: int = bench_export.DEFAULT_ROWS) -> dict:
    """Generate the data, run every measurement of the chosen sections, return the report (see `render`)."""
    from credit_dw.catalog import get_source
    from credit_dw.db import embedded as embedded_db
    from credit_dw.db.bootstrap import bootstrap
    from credit_dw.ingest.landing import ensure_raw_table

    spec = get_source(SOURCE_ID)
    load_at_start = os.getloadavg()[0]
    url = embedded_db.ensure_warehouse()
    bootstrap(url)
    ensure_raw_table(spec)
    report: dict = {"rows": rows, "repeats": repeats, "sections": list(sections), "loads": {}}

    if "landing" in sections or "extraction" in sections:
        landing.run(report, spec, url, rows, sizes, pandas_rows, repeats, variants, log, quick=quick,
                    sections=sections, max_load=max_load, max_wait=max_wait)

    if "transform" in sections:  # its own scratch warehouse: see benchmarks/transform.py
        from benchmarks import transform as bench_transform

        wait_quiet(max_load, max_wait, log)
        report["transform"] = bench_transform.run(log, quick=quick)

    if "validation" in sections:
        validation.run(report, spec, repeats, log, validation_rows=validation_rows,
                       pandas_validation_rows=pandas_validation_rows, max_load=max_load, max_wait=max_wait)

    if "export" in sections:
        bench_export.run(report, url, export_rows, repeats, log, max_load=max_load, max_wait=max_wait)

    report["machine"] = {**machine_facts(url), "loadavg_start": load_at_start, "loadavg_end": os.getloadavg()[0]}
    return report


def render(report: dict, command: str, when: str) -> str:
    """The Markdown of every section that ran: "Landing" (with the extraction) and "Validation (the gate)"."""
    parts = []
    if "landing" in report:
        parts.append(landing.render(report, command, when))
    if "validation" in report:
        parts.append(validation.render(report, command, when))
    if "transform" in report:
        from benchmarks import transform as bench_transform

        parts.append(bench_transform.render(report["transform"], command, when, machine_line(report["machine"])))
    if "export" in report:
        parts.append(bench_export.render(report, command, when))
    return "\n".join(parts)


def _section_list(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    if "extraction" in chosen and "landing" not in chosen:
        raise argparse.ArgumentTypeError("extraction is reported inside the landing section: add landing")
    return [s for s in SECTIONS if s in chosen]


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="credit-dw bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=landing.DEFAULT_ROWS, help="rows of the main landing file")
    parser.add_argument("--sizes", type=_sizes, default=list(landing.DEFAULT_SIZES),
                        help="comma-separated file sizes (rows) for the memory sweep")
    parser.add_argument("--pandas-rows", type=int, default=None,
                        help=f"cap of the to_sql runs (default {landing.DEFAULT_PANDAS_ROWS:,}; "
                             f"--quick {landing.QUICK_PANDAS_ROWS:,})")
    parser.add_argument("--quick", action="store_true",
                        help="one run per measurement, small to_sql cap, no extra to_sql size")
    parser.add_argument("--variants", action="store_true", help="also time copy_into_raw with other chunk sizes")
    parser.add_argument("--sections", type=_section_list, default=list(DEFAULT_SECTIONS),
                        help=f"comma-separated sections to run, of {','.join(SECTIONS)} "
                             f"(default {','.join(DEFAULT_SECTIONS)})")
    parser.add_argument("--validation-rows", type=int, default=validation.DEFAULT_ROWS,
                        help=f"rows of the batch the gate validates (default {validation.DEFAULT_ROWS:,}: "
                             "simulator scale rows/200)")
    parser.add_argument("--export-rows", type=int, default=bench_export.DEFAULT_ROWS,
                        help=f"rows of the export benchmark's query (default {bench_export.DEFAULT_ROWS:,})")
    parser.add_argument("--pandas-validation-rows", type=int, default=None,
                        help="largest batch GX on pandas is run on (default: the whole batch)")
    parser.add_argument("--max-load", type=float, default=DEFAULT_MAX_LOAD,
                        help="wait before each section until the 1-minute load is at most this "
                             f"(default {DEFAULT_MAX_LOAD})")
    parser.add_argument("--max-wait", type=float, default=DEFAULT_MAX_WAIT,
                        help=f"seconds to wait for that at most, then measure anyway (default {DEFAULT_MAX_WAIT})")
    parser.add_argument("--write-docs", action="store_true", help="put the report into docs/benchmarks.md")
    parser.add_argument("--json", type=Path, help="write the raw figures to this file")
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary CREDIT_DW_HOME")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--relation", help=argparse.SUPPRESS)
    parser.add_argument("--logical-date", help=argparse.SUPPRESS)
    parser.add_argument("--chunk-bytes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child and args.child.startswith("validate_"):
        validation.child(args.child, args.relation, date.fromisoformat(args.logical_date))
        return 0
    if args.child:
        landing.child(args.child, args.path, args.relation, args.logical_date, args.chunk_bytes)
        return 0
    if args.rows < 1 or any(n < 1 for n in args.sizes) or args.validation_rows < 1:
        parser.error("--rows, --sizes and --validation-rows must be positive")
    pandas_rows = args.pandas_rows or (landing.QUICK_PANDAS_ROWS if args.quick else landing.DEFAULT_PANDAS_ROWS)
    repeats = 1 if args.quick else REPEATS
    command = "credit-dw bench " + shlex.join(argv if argv is not None else sys.argv[1:])

    # A private data directory and server: set before any credit_dw module reads the settings.
    home = Path(tempfile.mkdtemp(prefix="credit-dw-bench-"))
    os.environ["CREDIT_DW_HOME"] = str(home)
    # The child processes (`python -m benchmarks.bench --child …`) import this folder from the checkout.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    for name in ("WAREHOUSE_URL", f"SOURCE_{SOURCE_ID.upper()}_URL"):
        os.environ.pop(name, None)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        report = run(args.rows, args.sizes, pandas_rows, repeats, args.variants, log, quick=args.quick,
                     sections=tuple(args.sections), validation_rows=args.validation_rows,
                     pandas_validation_rows=args.pandas_validation_rows, max_load=args.max_load,
                     max_wait=args.max_wait, export_rows=args.export_rows)
        report["max_load"] = args.max_load
    finally:
        from credit_dw.db import embedded as embedded_db

        embedded_db.stop()
        if not args.keep_home:
            shutil.rmtree(home, ignore_errors=True)
    report["command"] = command.strip()
    report["date"] = when
    markdown = render(report, command.strip(), when)
    print(markdown)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    if args.write_docs:
        write_docs(markdown)
        log(f"wrote {DOCS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
