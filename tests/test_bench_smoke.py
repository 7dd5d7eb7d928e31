"""Smoke test of the landing benchmark (`make bench`): the whole code path on a tiny file.

No timing is asserted (a shared CI machine is no place for that); what is checked is what a reader of
docs/benchmarks.md relies on: all three load methods ran and loaded every row, the ratios are there,
the extraction ran at two sizes, and the benchmark kept to its own temporary warehouse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

from credit_dw import bench, settings


def test_quick_benchmark_reports_three_methods_and_ratios(tmp_path):
    out_json = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "credit_dw.bench", "--rows", "2000", "--sizes", "1000,2000", "--quick",
         "--pandas-rows", "1000", "--json", str(out_json)],
        capture_output=True, text=True, timeout=240, env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    markdown = done.stdout
    assert markdown.startswith(bench.SECTION)
    for title in bench.METHOD_TITLES.values():
        assert title in markdown
    assert "copy_into_raw ÷ psql \\copy = " in markdown
    assert "copy_into_raw ÷ to_sql = " in markdown
    assert "python -m credit_dw.bench --rows 2000 --sizes 1000,2000 --quick" in markdown

    report = json.loads(out_json.read_text(encoding="utf-8"))
    full = report["landing"]["full"]
    assert set(full) == set(bench.METHODS)
    assert full["copy_into_raw"]["rows"] == full["psql_copy"]["rows"] == 2000
    assert full["pandas_to_sql"]["rows"] == 1000  # capped by --pandas-rows
    for method in bench.METHODS:
        assert full[method]["rows_per_s"] > 0
    assert full["copy_into_raw"]["peak_rss_mib"] > full["copy_into_raw"]["baseline_rss_mib"] > 0
    ratios = report["landing"]["ratios"]
    assert ratios["copy_into_raw_vs_psql"] > 0 and ratios["copy_into_raw_vs_to_sql"] > 0
    swept = {(s["method"], s["rows"]) for s in report["landing"]["sweep"]}
    assert {("copy_into_raw", 1000), ("copy_into_raw", 2000)} <= swept
    extracted = {(e["method"], e["rows"]) for e in report["extraction"]}
    assert {("extract_window", 1000), ("extract_window", 2000)} <= extracted
    assert all(e["file_bytes"] > 0 for e in report["extraction"])

    # Its own temporary CREDIT_DW_HOME: nothing landed in this test session's data directory.
    assert not settings.landing_dir("market_registry", date(2099, 1, 1).isoformat()).exists()


def test_write_docs_replaces_only_the_landing_section(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nintro\n\n## Landing\n\nold figures\n\n## Marts\n\nkept\n", encoding="utf-8")
    bench.write_docs("## Landing\n\nnew figures\n", docs)
    text = docs.read_text(encoding="utf-8")
    assert "old figures" not in text
    assert text.index("intro") < text.index("new figures") < text.index("## Marts")
    assert text.endswith("## Marts\n\nkept\n")

    fresh = tmp_path / "fresh.md"
    bench.write_docs("## Landing\n\nfigures\n", fresh)
    assert fresh.read_text(encoding="utf-8").startswith("# Benchmarks")
    assert "## Landing\n\nfigures\n" in fresh.read_text(encoding="utf-8")
