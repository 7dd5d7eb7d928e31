"""`credit-dw`: the command line of the credit warehouse (typer + rich).

    credit-dw db status|start|stop|url     the embedded PostgreSQL (or the configured WAREHOUSE_URL)
    credit-dw simulate --date D [--scale N] fill the simulated department systems for night D
    credit-dw run --date D [--feed F ...]  the nightly cycle for night D through Airflow (only feeds F re-ingested)
    credit-dw status [--date D] [--feed F] the night's state per feed from the warehouse ledger (no Airflow)
    credit-dw backfill --from D1 --to D2   night after night, on past a failed night, the failed ones listed
    credit-dw reference divisions          rebuild seeds/hebei_divisions.csv
    credit-dw bench [options]              the benchmarks (benchmarks/, docs/benchmarks.md; `--help` for options)
    credit-dw backup run|list|restore-drill Barman backups, the encrypted off-site copy, the restore drill
    credit-dw export release --target T --date D  deliver a held export night (docs/exports.md)
    credit-dw sql "select ..." [--csv]     query the warehouse without psql (read-only)
"""

from __future__ import annotations

import os
import sys
import warnings
from datetime import date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from credit_dw.config import airflow_env, settings

# platformdirs warns on every command when XDG_RUNTIME_DIR is unset (containers, cron, CI): it falls
# back to /tmp by itself, and nothing the user can do here changes anything.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

app = typer.Typer(help="The Hebei public credit information warehouse.", no_args_is_help=True)
db_app = typer.Typer(help="The warehouse database (embedded PostgreSQL by default).", no_args_is_help=True)
reference_app = typer.Typer(help="Reference data kept as dbt seeds.", no_args_is_help=True)
backup_app = typer.Typer(help="Backups (Barman), the encrypted off-site copy and the restore drill.",
                         no_args_is_help=True)
report_app = typer.Typer(help="Reports for the province credit office.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(report_app, name="report")
app.add_typer(backup_app, name="backup")
app.add_typer(reference_app, name="reference")
export_app = typer.Typer(help="Export deliveries to downstream platforms (docs/exports.md).", no_args_is_help=True)
app.add_typer(export_app, name="export")


def _console_width() -> int | None:
    """A terminal's own width; when the output is not a terminal (a pipe, a file, a test), COLUMNS
    or 200, not rich's 80, so paths and URLs are not cut or broken."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return None
    return 200


console = Console(width=_console_width())

DateOption = Annotated[str, typer.Option("--date", help="Logical date (the night), YYYY-MM-DD.")]
FeedOption = Annotated[list[str] | None, typer.Option(
    "--feed", help="A feed (catalog source id); repeat for several.", show_default=False)]


def _parse_date(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD", param_hint="--date") from None


def _progress(on: Console | None = None) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=on or console)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL (no-op when WAREHOUSE_URL is set) and print its URL."""
    from credit_dw.db import embedded as embedded_db
    from credit_dw.db.bootstrap import bootstrap

    with _progress() as progress:
        progress.add_task("starting the warehouse database", total=None)
        url = embedded_db.ensure_warehouse()
        bootstrap(url)
    console.print(f"[green]warehouse ready[/green] {url}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL."""
    from credit_dw.db import embedded as embedded_db

    if not settings.is_embedded():
        console.print("WAREHOUSE_URL is set: that server is not managed here.")
        return
    console.print("stopped" if embedded_db.stop() else "was not running")


@db_app.command("status")
def db_status() -> None:
    """Say where the warehouse is and whether it runs."""
    from credit_dw.db import embedded as embedded_db

    if not settings.is_embedded():
        console.print(f"external warehouse: {settings.warehouse_url()}")
        return
    status = embedded_db.status()
    state = f"[green]running[/green] (pid {status.pid})" if status.running else "[yellow]stopped[/yellow]"
    console.print(f"embedded PostgreSQL at {status.pgdata}: {state}")
    if status.url:
        console.print(f"url: {status.url}")


@db_app.command("url")
def db_url() -> None:
    """Print the warehouse URL (for psql: psql "$(credit-dw db url)")."""
    from credit_dw.db import embedded as embedded_db

    typer.echo(embedded_db.ensure_warehouse())


@app.command()
def simulate(
    date_: DateOption,
    scale: Annotated[int, typer.Option(help="Volume multiplier (1 ≈ 200 new registrations a night).")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; same seed and date → same data.")] = 20261122,
) -> None:
    """Fill the simulated department systems with night D's records (deterministic, rerunnable)."""
    from credit_dw.db import embedded as embedded_db
    from credit_dw.simulate import simulation_order, simulator_for

    night = _parse_date(date_)
    embedded_db.ensure_warehouse()
    feeds = [(sid, sim) for sid in simulation_order() if (sim := simulator_for(sid)) is not None]
    table = Table(title=f"Simulated source systems for night {night}")
    for col in ("feed", "rows", "injected (defects, late reports, reshaped codes)"):
        table.add_column(col)
    with _progress() as progress:
        task = progress.add_task("simulating", total=len(feeds))
        for source_id, simulator in feeds:
            progress.update(task, description=f"simulating {source_id}")
            summary = simulator(night, scale=scale, seed=seed)
            defects = ", ".join(f"{k} {v}" for k, v in sorted(summary.defects.items()) if v) or "none"
            table.add_row(source_id, str(summary.rows_written), defects)
            progress.advance(task)
    console.print(table)


VerboseOption = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Show Airflow's, dbt's and Great Expectations' logs live instead of only in the log file.")]
NoWaitOption = Annotated[bool, typer.Option(
    "--no-wait", help="Refuse, instead of waiting, when another night runs on this warehouse.")]
#: What each DAG of the cycle does, as the console names the stage.
STAGES = {"credit_ingest": "ingest (extract, gate, land)", "credit_transform": "transform (dbt build)",
          "credit_export": "export (deliveries, quality report)"}


def _night(night: date, feeds: list[str] | None, *, verbose: bool, wait: bool, command: str = "run"):
    """One night's cycle with a line per stage and its time; the libraries' logs in a file unless
    `verbose`. Returns (results, log path or None); a night another cycle holds raises Exit(1)."""
    from contextlib import nullcontext

    from credit_dw.config import run_logs
    from credit_dw.orchestration import nightly, run_lock

    log_path = None if verbose else run_logs.night_log_path(night, command)
    width = console.width  # the terminal's, measured before standard output goes to the log file
    with nullcontext(None) if verbose else run_logs.output_to_file(log_path) as terminal:
        # While the libraries' output goes to the log file, the console writes to the terminal.
        out = console if terminal is None else Console(file=terminal, width=width)
        try:
            with _progress(out) as progress:
                stage_tasks: dict[str, int] = {}

                def on_stage(dag_id: str, result) -> None:
                    if result is None:
                        stage_tasks[dag_id] = progress.add_task(STAGES.get(dag_id, dag_id), total=1)
                    else:
                        mark = "[green]done[/green]" if result.state == "success" else f"[red]{result.state}[/red]"
                        progress.update(stage_tasks[dag_id], completed=1,
                                        description=f"{STAGES.get(dag_id, dag_id)}: {mark}")

                results = nightly.run_cycle(night, feeds, wait=wait, on_stage=on_stage,
                                            on_wait=lambda msg: out.print(msg, markup=False, soft_wrap=True))
        except run_lock.NightInProgress as err:
            out.print(f"[red]not started[/red]: {err}", soft_wrap=True)
            raise typer.Exit(code=1) from None
    return results, log_path


@app.command()
def run(date_: DateOption, feed: FeedOption = None, verbose: VerboseOption = False,
        no_wait: NoWaitOption = False) -> None:
    """Run the nightly cycle for night D through Airflow: ingest → transform → export.

    With --feed (repeatable) only the named feeds are re-ingested for the night; the other feeds'
    batches stay as they are; the transform and the exports then run as usual. One night runs on
    a warehouse at a time: a second run waits for the first (or refuses, --no-wait). The console
    shows the stages and the summary; the full logs go to $CREDIT_DW_HOME/logs/<night>/."""
    from credit_dw.catalog import checked_source_ids
    from credit_dw.orchestration import nightly

    night = _parse_date(date_)
    try:
        feeds = checked_source_ids(feed) if feed else None
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--feed") from None
    airflow_env.configure(os.environ)
    # Interactive runs retry a failed task after seconds, not the scheduler's minutes.
    os.environ.setdefault("CREDIT_DW_RETRY_DELAY_SECONDS", "5")
    only = f" (ingesting only {', '.join(feeds)})" if feeds else ""
    console.print(f"night {night}{only}: {' → '.join(nightly.CYCLE)} through Airflow", soft_wrap=True)
    results, log_path = _night(night, feeds, verbose=verbose, wait=not no_wait)
    _print_cycle(night, results)
    if log_path is not None:
        console.print(f"full logs (Airflow, dbt, Great Expectations): {log_path}", markup=False, soft_wrap=True)
    if any(r.state != "success" for r in results) or len(results) < len(nightly.CYCLE):
        raise typer.Exit(code=1)


@app.command()
def backfill(
    from_: Annotated[str, typer.Option("--from", help="The first night, YYYY-MM-DD.")],
    to: Annotated[str, typer.Option("--to", help="The last night, YYYY-MM-DD (included).")],
    feed: FeedOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the nights D1..D2 in order (each as `credit-dw run`), going on past a failed night; list the
    failed nights at the end (exit code 1 when any failed). Each night's logs: $CREDIT_DW_HOME/logs/<night>/."""
    import time as clock
    from datetime import timedelta

    from credit_dw.catalog import checked_source_ids
    from credit_dw.orchestration import nightly

    first, last = _parse_date(from_), _parse_date(to)
    if last < first:
        raise typer.BadParameter(f"--to {last} is before --from {first}", param_hint="--to")
    try:
        feeds = checked_source_ids(feed) if feed else None
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--feed") from None
    airflow_env.configure(os.environ)
    os.environ.setdefault("CREDIT_DW_RETRY_DELAY_SECONDS", "5")
    nights = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    outcomes: list[tuple[date, str, str, float]] = []
    for i, night in enumerate(nights, 1):
        started = clock.monotonic()
        console.print(f"night {i} of {len(nights)}: {night}", soft_wrap=True)
        try:
            results, _ = _night(night, feeds, verbose=verbose, wait=True, command="backfill")
        except Exception as exc:  # a night that cannot even start is a failed night, not the end
            outcomes.append((night, "failed", f"{type(exc).__name__}: {exc}", clock.monotonic() - started))
        else:
            failed = [f"{r.dag_id}: {', '.join(r.failed_tasks) or r.state}" for r in results if r.state != "success"]
            if len(results) < len(nightly.CYCLE) and not failed:
                failed = ["the cycle stopped early"]
            outcomes.append((night, "failed" if failed else "success", "; ".join(failed),
                             clock.monotonic() - started))
        night_, state, detail, seconds = outcomes[-1]
        colour = "green" if state == "success" else "red"
        console.print(f"  [{colour}]{state}[/{colour}] in {seconds:.0f} s" + (f": {detail}" if detail else ""),
                      soft_wrap=True)
    table = Table(title=f"Backfill {first} → {last}", title_justify="left")
    for col in ("night", "state", "seconds", "failed"):
        table.add_column(col, overflow="fold")
    for night, state, detail, seconds in outcomes:
        colour = "green" if state == "success" else "red"
        table.add_row(str(night), f"[{colour}]{state}[/{colour}]", f"{seconds:.0f}", detail or "-")
    console.print(table)
    failed_nights = [str(n) for n, state, _, _ in outcomes if state != "success"]
    if failed_nights:
        console.print(f"failed nights ({len(failed_nights)} of {len(outcomes)}): {' '.join(failed_nights)}; "
                      "see credit-dw status --date <night> and the night's logs under "
                      f"{settings.home() / 'logs'}/<night>/, then credit-dw run --date <night>", soft_wrap=True)
        raise typer.Exit(code=1)
    console.print(f"[green]all {len(outcomes)} nights succeeded[/green]")


def _print_cycle(night: date, results) -> None:
    from credit_dw.reports.summary import night_summary

    runs = Table(title=f"Airflow runs for night {night}")
    for col in ("DAG", "state", "failed tasks"):
        runs.add_column(col)
    for r in results:
        colour = "green" if r.state == "success" else "red"
        runs.add_row(r.dag_id, f"[{colour}]{r.state}[/{colour}]", ", ".join(r.failed_tasks) or "-")
    console.print(runs)

    summary = night_summary(night.isoformat())
    batches = Table(title="Batches (meta.load_batches)")
    for col in ("feed", "status", "received", "accepted", "quarantined", "message"):
        batches.add_column(col)
    for b in summary["batches"]:
        batches.add_row(b["source_id"], b["status"], str(b["rows_received"]), str(b["rows_accepted"]),
                        str(b["rows_quarantined"]), b["message"] or "")
    console.print(batches)

    # The same verdicts as `dbt source freshness` (thresholds from the dbt sources, measured now).
    freshness = Table(title="Feed freshness (last delivery with rows; dbt source freshness)")
    for col in ("feed", "status", "last delivered", "age (h)", "warn / error after (h)"):
        freshness.add_column(col)
    colours = {"pass": "green", "warn": "yellow", "error": "red"}
    for f in summary["freshness"]:
        colour = colours[f["status"]]
        limits = f"{f['warn_after_hours']:g} / {f['error_after_hours']:g}"
        freshness.add_row(f["source_id"], f"[{colour}]{f['status']}[/{colour}]",
                          f["last_delivered_at"] or "never", "-" if f["age_hours"] is None else f"{f['age_hours']:g}",
                          limits)
    console.print(freshness)

    from credit_dw.catalog.exports import export_targets
    from credit_dw.exports.destination import sftp_connection, sftp_connection_id

    for target in export_targets():
        if sftp_connection(target) is not None:  # delivered to the receiver's server, not the outbox
            console.print(f"export {target}: over SFTP (connection {sftp_connection_id(target)}); "
                          f"select * from meta.export_deliveries where target = '{target}'")
            continue
        outbox = settings.outbox_dir(target, night.isoformat())
        state = "delivered" if (outbox / "_SUCCESS").exists() else "NOT delivered"
        console.print(f"export {target}: {outbox}/ ({state}; datapackage.json beside the files)")
    report = settings.reports_dir() / "quality" / night.isoformat() / "index.html"
    if report.exists():
        console.print(f"quality report for the credit office: {report}")
    returns_root = settings.home() / "outbox" / "returns"
    notices = sorted(returns_root.glob(f"*/{night.isoformat()}/*.csv"))
    if notices:
        console.print(f"return notices to departments (信息退回): {len(notices)} files under "
                      f"{returns_root}/<department>/{night}/")
    console.print("quarantined rows: select * from meta.quarantine;  "
                  "the batch ledger: select * from meta.load_batches;")
    console.print(f'query the warehouse: credit-dw sql "select …"  or  psql "$(credit-dw db url)"   '
                  f"(Airflow home: {settings.airflow_home()})", markup=False, soft_wrap=True)


@app.command()
def status(
    date_: Annotated[str | None, typer.Option("--date", help="The night, YYYY-MM-DD; default the latest night in "
                                              "the ledger.", show_default=False)] = None,
    feed: FeedOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON (for monitoring).")] = False,
    freshness: Annotated[bool, typer.Option(help="Measure each feed's freshness (dbt source freshness).")] = True,
) -> None:
    """What happened last night, from the warehouse ledger alone (no Airflow): per feed the night's state,
    rows received / accepted / quarantined, refused files and why, the exports delivered, and what to run next.

    Exit code 0: nothing needs a rerun; 1: a feed failed, was refused, is incomplete or did not run;
    2: the ledger has nothing for the night."""
    import json

    from credit_dw.catalog import checked_source_ids
    from credit_dw.db import embedded as embedded_db
    from credit_dw.reports.status import night_status

    night = _parse_date(date_) if date_ else None
    try:
        feeds = checked_source_ids(feed) if feed else None
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--feed") from None
    embedded_db.ensure_warehouse()
    st = night_status(night, feeds, freshness=freshness)
    if as_json:
        typer.echo(json.dumps(st, indent=2, ensure_ascii=False, default=str))
    if not st["found"]:
        if not as_json:
            what = f"night {st['logical_date']}" if st["logical_date"] else "any night"
            console.print(f"the ledger (meta.load_batches) has no batch for {what}; "
                          "run one: credit-dw run --date YYYY-MM-DD", soft_wrap=True)
        raise typer.Exit(code=2)
    if not as_json:
        _print_status(st)
    if st["needs_attention"]:
        raise typer.Exit(code=1)


def _n(value) -> str:
    return "-" if value is None else str(value)


def _print_status(st: dict) -> None:
    night = st["logical_date"]
    colours = {"accepted": "green", "not delivered": "yellow", "refused": "red", "failed": "red",
               "incomplete": "red", "not run": "red", "skipped": "yellow", "not due": "white"}
    table = Table(title=f"Night {night} (meta.load_batches)", title_justify="left")
    table.add_column("feed", no_wrap=True)
    table.add_column("department", overflow="fold", max_width=24)
    table.add_column("state", no_wrap=True)
    for col in ("received", "accepted", "quarantined"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("files refused", justify="right", no_wrap=True)
    table.add_column("fresh", no_wrap=True)
    for f in st["feeds"]:
        colour = colours.get(f["state"], "white")
        state = f"[{colour}]{f['state']}[/{colour}]"
        if f["state"] == "accepted" and f["rows_quarantined"]:
            state += f" ({f['quarantined_share']:.1%} quarantined)"

        fresh = {"pass": "ok", "warn": "[yellow]stale (warn)[/yellow]", "error": "[red]stale[/red]"}.get(
            f["freshness"] or "", "-")
        table.add_row(f["source_id"], f["department"], state, _n(f["rows_received"]), _n(f["rows_accepted"]),
                      _n(f["rows_quarantined"]), str(f["files_refused"]) if f["files_delivered"] else "-", fresh)
    console.print(table)
    # Messages and paths as plain lines (soft-wrapped: never broken inside, copyable whole).
    for f in st["feeds"]:
        if f["message"]:
            console.print(f"{f['source_id']} {f['state']}: {f['message']}", markup=False, soft_wrap=True)
    for r in st["refused_files"]:
        where = ", ".join(p for p in (f"line {r['line_number']}" if r["line_number"] else "",
                                      f"row {r['source_row']}" if r["source_row"] else "") if p)
        console.print(f"{r['source_id']} file refused: {r['file_name']}" + (f" ({where})" if where else "")
                      + f": {r['reason']}  [archived: {r['archived_as']}]", markup=False, soft_wrap=True)
    console.print(f"Exports of night {night} (meta.export_deliveries)", soft_wrap=True)
    exports = Table()
    for col in ("target", "delivered", "files", "rows", "at"):
        exports.add_column(col, no_wrap=True)
    for e in st["exports"]:
        exports.add_row(e["target"], "[green]yes[/green]" if e["delivered"] else "[red]no[/red]",
                        "-" if e["file_count"] is None else str(e["file_count"]),
                        "-" if e["row_count"] is None else str(e["row_count"]), e["delivered_at"] or "-")
    console.print(exports)
    reruns = [f["source_id"] for f in st["feeds"] if f["next"]]
    if reruns:
        every = len(reruns) == len(st["feeds"]) and len(reruns) > 1
        line = f"credit-dw run --date {night}" + ("" if every else "".join(f" --feed {r}" for r in reruns))
        console.print(f"next: {line}", markup=False, soft_wrap=True)
    else:
        console.print("[green]no feed needs a rerun[/green]")
    if st["refused_files"]:
        console.print("refused files: the department corrects and re-sends them (return notices under "
                      "outbox/returns/), then rerun the feed for the night", soft_wrap=True)


@export_app.command("release")
def export_release(
    target: Annotated[str, typer.Option("--target", help="The export target held, e.g. publicity or city/130100.")],
    date_: DateOption,
) -> None:
    """Deliver a night held because a snapshot file shrank or emptied (`_HELD`), once checked."""
    from credit_dw.exports.run import export

    night = _parse_date(date_)
    airflow_env.configure(os.environ)  # the target's SFTP connection, when it has one
    delivery = export(target, night, release=True)
    state = "released and delivered" if delivery.newly_recorded else "already delivered"
    console.print(f"export {target} {night}: {state}: {delivery.location or delivery.directory} "
                  f"({delivery.row_count} rows)")


def _write_report(what: str, write):
    """Run one report writer with a spinner, on a started warehouse; return what it returns."""
    from credit_dw.db import embedded as embedded_db

    with _progress() as progress:
        progress.add_task(f"writing {what}", total=None)
        embedded_db.ensure_warehouse()
        return write()


@report_app.command("quality")
def report_quality(date_: DateOption) -> None:
    """Write the daily quality report for night D (HTML + CSV) from what the warehouse holds."""
    from credit_dw.reports.quality.page import write_quality_report

    night = _parse_date(date_)
    report = _write_report(f"the quality report for {night}", lambda: write_quality_report(night))
    console.print(f"quality report: {report.index_html}")


MonthOption = Annotated[str, typer.Option("--month", help="The month, YYYY-MM.")]


def _parse_month(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a month in the form YYYY-MM", param_hint="--month") from None


@report_app.command("monthly")
def report_monthly(month: MonthOption) -> None:
    """Write the monthly notice (月度通报) of dual-publicity timeliness for the month (HTML, PDF, CSV)."""
    from credit_dw.reports.quality.monthly import write_monthly_notice

    first = _parse_month(month)
    notice = _write_report(f"the monthly notice for {month}", lambda: write_monthly_notice(first))
    console.print(f"monthly notice: {notice.index_html}" + (f" (PDF {notice.pdf})" if notice.pdf else ""),
                  markup=False, soft_wrap=True)


@report_app.command("audit")
def report_audit(
    month: Annotated[str | None, typer.Option("--month", help="The month, YYYY-MM: the monthly report (HTML, PDF, "
                                              "CSVs, reproducibility record) as of its last day.")] = None,
    date_: Annotated[str | None, typer.Option("--date", help="A night, YYYY-MM-DD: the CSVs as of that night.")] = None,
) -> None:
    """Write the auditors' report: --month YYYY-MM (reports/audit/<YYYY-MM>/) or --date D (CSVs only)."""
    from credit_dw.reports.audit import write_audit_report, write_monthly_audit_report

    if (month is None) == (date_ is None):
        raise typer.BadParameter("give one of --month YYYY-MM or --date YYYY-MM-DD", param_hint="--month")
    if month is not None:
        first = _parse_month(month)
        report = _write_report(f"the audit report of {month}", lambda: write_monthly_audit_report(first))
        console.print(f"audit report: {report.directory / 'index.html'}", markup=False, soft_wrap=True)
        if report.pdf_missing:
            console.print(report.pdf_missing, markup=False, soft_wrap=True)
        else:
            console.print(f"PDF: {report.directory / 'audit.pdf'}", markup=False, soft_wrap=True)
        return
    night = _parse_date(date_)
    report = _write_report(f"the audit figures as of {night}", lambda: write_audit_report(night))
    console.print(f"audit figures: {report.directory}")


@report_app.command("scorecard")
def report_scorecard(month: MonthOption) -> None:
    """Write the province's scorecard for the month (reports/scorecard/<YYYY-MM>/: HTML, PDF, CSVs, record)."""
    from credit_dw.reports.scorecard import write_scorecard_report

    first = _parse_month(month)
    report = _write_report(f"the scorecard of {month}", lambda: write_scorecard_report(first))
    console.print(f"scorecard: {report.directory / 'index.html'}", markup=False, soft_wrap=True)
    if report.pdf_missing:
        console.print(report.pdf_missing, markup=False, soft_wrap=True)
    else:
        console.print(f"PDF: {report.directory / 'scorecard.pdf'}", markup=False, soft_wrap=True)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                               "help_option_names": []}, add_help_option=False)
def bench(ctx: typer.Context) -> None:
    """Run the benchmarks (benchmarks/ in the checkout, outside the package); options: `credit-dw bench --help`."""
    # The benchmarks are a top-level folder of the checkout, not part of the installed package.
    sys.path.insert(0, str(settings.PROJECT_ROOT))
    from benchmarks.bench import main

    raise typer.Exit(main(ctx.args))


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help='The query, e.g. "select * from meta.load_batches limit 5".')],
    limit: Annotated[int, typer.Option(help="Rows shown at most (the rest are counted).")] = 200,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (all rows) instead of a table.")] = False,
) -> None:
    """Query the warehouse without psql: the rows as a table (or CSV), in a read-only transaction."""
    import csv

    from credit_dw.db import embedded as embedded_db
    from credit_dw.db.connect import connect

    url = embedded_db.ensure_warehouse()
    try:
        with connect(url) as conn:
            conn.read_only = True  # a query here never changes the warehouse; use psql to change it
            cursor = conn.execute(query)
            if cursor.description is None:
                console.print("the statement returned no rows")
                return
            headers = [c.name for c in cursor.description]
            if as_csv:
                writer = csv.writer(sys.stdout, lineterminator="\n")
                writer.writerow(headers)
                writer.writerows(cursor)
                return
            rows = cursor.fetchmany(limit)
            more = sum(1 for _ in cursor)
    except Exception as err:  # psycopg's errors: the server's message is the useful part
        console.print(f"[red]query failed[/red]: {str(err).strip()}", soft_wrap=True)
        raise typer.Exit(code=1) from None
    table = Table(*headers, show_lines=False)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    console.print(f"{len(rows)} rows" + (f" shown, {more} more (--limit, or --csv for all)" if more else ""))


@app.command()
def docs() -> None:
    """Regenerate docs/data_dictionary.md and build the dbt docs site (one static HTML file)."""
    from credit_dw.db import embedded as embedded_db
    from credit_dw.transform import data_dictionary
    from credit_dw.transform import dbt as transform

    with _progress() as progress:
        progress.add_task("building the dbt docs site and the data dictionary", total=None)
        embedded_db.ensure_warehouse()
        path = data_dictionary.write()
        transform.run_dbt(["docs", "generate", "--static"])
    console.print(f"data dictionary: {path}")
    console.print(f"dbt docs site: {settings.DBT_PROJECT_DIR / 'target' / 'static_index.html'} (open in a browser)")


@backup_app.command("run")
def backup_run(
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """A full backup (pg_basebackup via Barman) with its WAL archived, then its encrypted off-site copy."""
    import json

    from credit_dw.operations import backup

    with _progress() as progress:
        progress.add_task("backing up the warehouse (barman backup)", total=None)
        try:
            result = backup.run_backup()
        except backup.BackupError as err:
            console.print(f"backup failed: {err}", markup=False)
            raise typer.Exit(code=1) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    console.print(f"[green]backup {result.backup_id}[/green] {result.size_bytes / 2**20:.1f} MiB in "
                  f"{result.seconds:g} s (LSN {result.begin_lsn} → {result.end_lsn}, ended {result.end_time})")
    console.print(f"catalogue: {backup.barman_home()}  (barman -c {backup.config_path()} list-backups "
                  f"{backup.SERVER})")
    off = result.offsite
    console.print(f"off-site copy (encrypted): {off.base_archive}; WAL {off.wal_files_copied} new of "
                  f"{off.wal_files_total} under {off.directory}/wals/")


@backup_app.command("list")
def backup_list() -> None:
    """The backups in Barman's catalogue, newest first."""
    from credit_dw.operations import backup

    backups = backup.list_backups()
    table = Table(title=f"Backups of {backup.SERVER} ({backup.barman_home()})")
    for col in ("backup id", "status", "ended", "size", "WAL since"):
        table.add_column(col)
    for b in backups:
        table.add_row(b["backup_id"], b["status"], b.get("end_time", ""), b.get("size", ""), b.get("wal_size", ""))
    console.print(table)
    if not backups:
        console.print("no backups yet: credit-dw backup run")


@backup_app.command("restore-drill")
def backup_restore_drill(
    keep: Annotated[bool, typer.Option("--keep", help="Keep the scratch data directory.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Restore the latest backup to now (T) into a scratch server; compare the marts with T's checksums."""
    import json

    from credit_dw.operations import backup

    with _progress() as progress:
        progress.add_task("restore drill (barman recover to a point in time, scratch server)", total=None)
        try:
            result = backup.restore_drill(keep_scratch=keep)
        except backup.BackupError as err:
            console.print(f"restore drill failed: {err}", markup=False)
            raise typer.Exit(code=1) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        table = Table(title=f"Restore drill {result.drill_id}: backup {result.backup_id} to {result.target_time}")
        for col in ("table", "rows at T", "rows restored", "checksum equal"):
            table.add_column(col)
        for name, (rows, digest) in result.at_target.items():
            restored = result.restored.get(name)
            table.add_row(name, str(rows), str(restored[0]) if restored else "missing",
                          "yes" if restored and restored[1] == digest else "[red]NO[/red]")
        console.print(table)
        console.print(f"recovery point: {result.recovery_point_time} (LSN {result.recovery_point_lsn}); "
                      f"restore took {result.restore_seconds:g} s; change after T absent: {result.marker_absent}")
        verdict = "[green]restore verified[/green]" if result.ok else "[red]RESTORE DIFFERS[/red]"
        console.print(verdict + (f"  scratch data directory: {result.scratch_dir}" if result.scratch_dir else ""))
    if not result.ok:
        raise typer.Exit(code=1)


@reference_app.command("divisions")
def reference_divisions() -> None:
    """Rebuild seeds/hebei_divisions.csv from python-stdnum's GB/T 2260 list (+ 雄安新区)."""
    from credit_dw.reference.divisions import write_seed

    path = settings.SEEDS_DIR / "hebei_divisions.csv"
    console.print(f"{write_seed(path)} divisions written to {path}")


@reference_app.command("calendar")
def reference_calendar() -> None:
    """Rebuild seeds/cn_calendar.csv from the chinesecalendar package (years it covers)."""
    from credit_dw.reference.calendar import write_seed

    path = settings.SEEDS_DIR / "cn_calendar.csv"
    console.print(f"{write_seed(path)} days written to {path}")


if __name__ == "__main__":
    app()
