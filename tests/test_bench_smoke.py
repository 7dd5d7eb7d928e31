"""Smoke test of the benchmarks (`make bench`, `credit-dw bench`): the whole code path on tiny data.

No timing is asserted (a shared CI machine is no place for that); what is checked is what a reader of
docs/benchmarks.md relies on: all three load methods ran and loaded every row, the ratios are there,
the extraction ran at two sizes; the gate, the floor and GX on pandas validated the same landed batch
and found the same failing rows per check; and the benchmark kept to its own temporary warehouse.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date

import pytest

from benchmarks import bench, common
from benchmarks import landing as bench_landing
from benchmarks import validation as bench_validation
from credit_dw.config import settings


def test_quick_benchmark_reports_three_methods_and_ratios(tmp_path):
    out_json = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "credit_dw.cli", "bench", "--rows", "2000", "--sizes", "1000,2000", "--quick",
         "--pandas-rows", "1000", "--validation-rows", "400", "--max-wait", "0", "--json", str(out_json)],
        capture_output=True, text=True, timeout=300, env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    markdown = done.stdout
    assert markdown.startswith(bench_landing.SECTION)
    for title in bench_landing.METHOD_TITLES.values():
        assert title in markdown
    assert "copy_into_raw ÷ psql \\copy = " in markdown
    assert "copy_into_raw ÷ to_sql = " in markdown
    assert "credit-dw bench --rows 2000 --sizes 1000,2000 --quick" in markdown

    report = json.loads(out_json.read_text(encoding="utf-8"))
    full = report["landing"]["full"]
    assert set(full) == set(bench_landing.METHODS)
    assert full["copy_into_raw"]["rows"] == full["psql_copy"]["rows"] == 2000
    assert full["pandas_to_sql"]["rows"] == 1000  # capped by --pandas-rows
    for method in bench_landing.METHODS:
        assert full[method]["rows_per_s"] > 0
    assert full["copy_into_raw"]["peak_rss_mib"] > full["copy_into_raw"]["baseline_rss_mib"] > 0
    ratios = report["landing"]["ratios"]
    assert ratios["copy_into_raw_vs_psql"] > 0 and ratios["copy_into_raw_vs_to_sql"] > 0
    swept = {(s["method"], s["rows"]) for s in report["landing"]["sweep"]}
    assert {("copy_into_raw", 1000), ("copy_into_raw", 2000)} <= swept
    extracted = {(e["method"], e["rows"]) for e in report["extraction"]}
    assert extracted == {("extract_window", 1000), ("extract_window", 2000)}  # no patched variant any more
    assert all(e["file_bytes"] > 0 for e in report["extraction"])

    # Validation: one simulated night (scale 2 = 400 rows), landed, validated three ways.
    assert bench_validation.SECTION in markdown
    assert "gate ÷ floor = " in markdown and "GX on pandas ÷ gate = " in markdown
    validation = report["validation"]
    assert validation["rows"] == 400
    methods = {m["method"]: m for m in validation["methods"]}
    assert set(methods) == set(bench_validation.METHODS)
    gate = methods["gate"]
    last = gate["runs"][-1]
    # The simulator injects 1 % of each defect kind: every check but uscc_required fails somewhere.
    assert {check for check, n in gate["counts"].items() if n} == {
        "uscc_check_character", "subject_name_required", "division_code_known", "registration_date_sane",
        "uscc_one_name"}
    assert last["row_issues"] == gate["counts"]  # every failing row of every check is in meta.row_issues
    assert last["rows_received"] == last["rows_accepted"] + last["rows_quarantined"] == 400
    assert methods["floor"]["counts"] == gate["counts"] == methods["gx_pandas"]["counts"]
    assert all(m["seconds_median"] > 0 for m in methods.values())

    # Its own temporary CREDIT_DW_HOME: nothing landed in this test session's data directory.
    assert not settings.landing_dir("market_registry", date(2099, 1, 1).isoformat()).exists()


def test_write_docs_replaces_each_rendered_section_in_place(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n## Landing\n\nold landing\n\n## Validation (the gate)\n\nold gate\n\n"
                    "## How the gate was made faster\n\nkept\n", encoding="utf-8")
    common.write_docs("## Landing\n\nnew landing\n\n## Validation (the gate)\n\nnew gate\n", docs)
    text = docs.read_text(encoding="utf-8")
    assert "old" not in text
    assert text.index("new landing") < text.index("new gate") < text.index("kept")

    fresh = tmp_path / "fresh.md"
    fresh.write_text("# Benchmarks\n\n## Landing\n\nold\n", encoding="utf-8")
    common.write_docs("## Validation (the gate)\n\nnew gate\n", fresh)
    text = fresh.read_text(encoding="utf-8")
    assert text.index("## Landing") < text.index("## Validation (the gate)")  # added at the end


def test_sections_option_rejects_unknown_names_and_orphan_extraction():
    assert bench._section_list("validation,landing") == ["landing", "validation"]
    with pytest.raises(argparse.ArgumentTypeError):
        bench._section_list("gate")
    with pytest.raises(argparse.ArgumentTypeError):
        bench._section_list("extraction")


def test_write_docs_replaces_only_the_landing_section(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nintro\n\n## Landing\n\nold figures\n\n## Marts\n\nkept\n", encoding="utf-8")
    common.write_docs("## Landing\n\nnew figures\n", docs)
    text = docs.read_text(encoding="utf-8")
    assert "old figures" not in text
    assert text.index("intro") < text.index("new figures") < text.index("## Marts")
    assert text.endswith("## Marts\n\nkept\n")

    fresh = tmp_path / "fresh.md"
    common.write_docs("## Landing\n\nfigures\n", fresh)
    assert fresh.read_text(encoding="utf-8").startswith("# Benchmarks")
    assert "## Landing\n\nfigures\n" in fresh.read_text(encoding="utf-8")


def test_transform_section_renders_and_replaces_only_its_section(tmp_path):
    """The transform benchmark's report path (its run is minutes long: `--sections transform --quick`)."""
    from benchmarks import transform as bench_transform

    assert bench._section_list("transform") == ["transform"]
    night = {"airflow_median_s": 60.0, "plain_median_s": 45.0, "airflow_s": [60.0], "plain_s": [45.0]}
    report = {"history_nights": 3, "factor": 10, "scale": 1, "repeats": 1, "tasks": 58, "wall_s": 900.0,
              "raw_rows_1x": 5000, "raw_rows_10x": 50000, "full_refresh_1x_s": 40.0, "full_refresh_10x_s": 60.0,
              "night_1x": night, "night_10x": {**night, "airflow_median_s": 66.0, "plain_median_s": 48.0},
              "history_ratio": 1.1, "history_ratio_plain": 48 / 45, "airflow_vs_plain_1x": 60 / 45,
              "airflow_vs_plain_10x": 66 / 48, "versions": {"dbt-core": "1.11"}}
    markdown = bench.render({"transform": report, "machine": {"nproc": 2}}, "credit-dw bench", "now")
    assert markdown.startswith(bench_transform.SECTION)
    assert "| 60.0 s | 66.0 s | **1.10** |" in markdown and "**1.33**" in markdown
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n## Landing\n\nkept\n\n## Transform\n\nstale figures\n", encoding="utf-8")
    common.write_docs(markdown, docs)
    text = docs.read_text(encoding="utf-8")
    assert "stale figures" not in text and "kept" in text and "meets the target ≤ 1.3" in text
