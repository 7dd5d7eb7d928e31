"""The province's scorecard (issue 21; docs/scorecard.md): city credit-monitoring indicators per
month and jurisdiction against the ranking targets.

Logical dates: April, May and June 2023 belong to this file. Three nights (one a month) of the
feeds the indicators read - the market registry, A-level taxpayers, commitments, objections and
repairs, the red/black lists, interviews and repair training, customs certifications and the
dual-publicity feeds - are simulated
and ingested; the scorecard models are built as of 2023-06-30 and each indicator is checked
against a count made here from the marts with the documented formula. The report for June is
then written (with a simulated national ranks file) and checked for its 14 jurisdictions, its
"无数据" cells and for personal data.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from datetime import date

import pytest
from conftest import ensure_all_raw_tables, natural_person_names, seed_reference_unless_seeded

from credit_dw.config import settings
from credit_dw.ingest import pipeline as ingest
from credit_dw.simulate import simulator_for
from credit_dw.transform import dbt as transform

NIGHTS = (date(2023, 4, 4), date(2023, 5, 9), date(2023, 6, 6))
FEEDS = ("market_registry", "tax_a_level", "credit_commitments", "objections", "admin_licence", "admin_penalty",
         "credit_lists", "credit_interviews")
CUSTOMS_NIGHTS = (date(2023, 5, 15), date(2023, 6, 15))  # 石家庄海关 delivers on the 1st and 15th
AS_OF = date(2023, 6, 30)
MONTH = date(2023, 6, 1)
MONTH_END = date(2023, 6, 30)
REPORTING_UNITS = 14  # 11 cities, 定州, 辛集, 雄安新区
SCORECARD = ("scorecard_indicators", "scorecard_rank_targets", "legally_committable_matters",
             "rpt_scorecard_records", "qa_scorecard_figures")


@pytest.fixture(scope="module")
def built(warehouse_url: str) -> None:
    seed_reference_unless_seeded(warehouse_url, "scorecard_indicators")
    ensure_all_raw_tables()
    for night in NIGHTS:
        for source_id in FEEDS:
            simulator_for(source_id)(night, scale=1)
            outcome = ingest.ingest(source_id, night)
            assert outcome.status == "accepted", (source_id, night, outcome)
    for night in CUSTOMS_NIGHTS:
        simulator_for("customs_certified")(night, scale=1)
        assert ingest.ingest("customs_certified", night).status == "accepted"
    as_of = f"{{as_of_date: '{AS_OF.isoformat()}'}}"
    transform.run_dbt(["run", "--select", "+qa_scorecard_figures", "+rpt_blacklist_outreach_monthly", "--vars", as_of])
    # The scorecard's own seeds, models, data tests and unit tests.
    transform.run_dbt(["build", "--select", *SCORECARD, "--vars", as_of])


def _figures(conn, month: date = MONTH) -> dict[tuple[str, str], dict]:
    cursor = conn.execute("select * from quality.qa_scorecard_figures where report_month = %s", (month,))
    names = [c.name for c in cursor.description]
    return {(r["jurisdiction_code"], r["indicator_id"]): r
            for r in (dict(zip(names, row, strict=True)) for row in cursor.fetchall())}


def _units(conn) -> dict[str, str]:
    """Division code -> reporting unit (dim_jurisdiction)."""
    return dict(conn.execute("select division_code, reporting_unit_code from marts.dim_jurisdiction").fetchall())


def _enterprises(conn) -> dict[str, str]:
    """Local legal-person enterprises at June's end: USCC -> reporting unit."""
    return dict(conn.execute(
        """select uscc, jurisdiction_code from marts.dim_subject
           where uscc like '91%%' and is_registered and coalesce(is_active, false)
             and jurisdiction_code is not null and coalesce(registered_on, %s) <= %s""",
        (MONTH_END, MONTH_END)).fetchall())


def _count(keys) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for key in keys:
        counts[key] += 1
    return counts


def _assert_share(figures, indicator_id: str, numerators: dict[str, int], denominators: dict[str, int]) -> int:
    checked = 0
    for (unit, indicator), row in figures.items():
        if indicator != indicator_id:
            continue
        numerator, denominator = numerators.get(unit, 0), denominators.get(unit, 0)
        # A unit the source holds nothing for this month may carry no numerator at all (无数据),
        # e.g. a dual-publicity rate where no decision of the unit was due: seen in the full suite,
        # where other modules' subjects move some decisions to other units.
        has_data = unit in numerators or unit in denominators
        assert row["numerator"] in ((numerator,) if has_data else (0, None)), (indicator_id, unit, row, numerator)
        if denominator:
            assert row["denominator"] == denominator, (indicator_id, unit, row, denominator)
            assert row["value"] == pytest.approx(numerator / denominator), (indicator_id, unit)
            checked += 1
        else:
            assert row["value"] is None, (indicator_id, unit, row)
    return checked


def test_every_reporting_unit_has_every_computable_indicator(built, conn):
    figures = _figures(conn)
    units = {u for u, _i in figures}
    assert len(units) == REPORTING_UNITS and {"130181", "130682", "133100"} <= units
    computable = {i for (i,) in conn.execute(
        """select indicator_id from reference.scorecard_indicators
           where computable = 'yes' and indicator_id <> 'blacklist_outreach_share'""").fetchall()}
    assert {i for _u, i in figures} == computable and len(figures) == REPORTING_UNITS * len(computable)


def test_enterprise_shares_equal_an_independent_count(built, conn):
    figures = _figures(conn)
    enterprises = _enterprises(conn)
    per_unit = _count(enterprises.values())
    assert sum(per_unit.values()) > 50
    # A-level: the latest evaluation year published by June's end.
    latest = conn.execute(
        """select max(period_year) from marts.fct_tax_status
           where record_kind = 'a_level_rating' and published_on <= %s""", (MONTH_END,)).fetchone()[0]
    a_level = {u for (u,) in conn.execute(
        """select distinct uscc from marts.fct_tax_status
           where record_kind = 'a_level_rating' and period_year = %s and published_on <= %s""",
        (latest, MONTH_END)).fetchall()} & set(enterprises)
    assert a_level
    assert _assert_share(figures, "tax_a_level_share", _count(enterprises[u] for u in a_level), per_unit) > 3
    # Dishonest: on a black list in force at June's end.
    black = {u for (u,) in conn.execute(
        """select distinct uscc from marts.fct_list_membership
           where list_type = 'black' and entered_on <= %(e)s and (exited_on is null or exited_on > %(e)s)
             and (valid_until is null or valid_until >= %(e)s)
             and (verified_wrong_on is null or verified_wrong_on > %(e)s)""", {"e": MONTH_END}).fetchall()}
    black &= set(enterprises)
    _assert_share(figures, "dishonest_enterprise_share", _count(enterprises[u] for u in black), per_unit)
    # Customs: the latest decision delivered by June's end, not a revocation in force.
    latest_decision: dict[str, tuple] = {}
    for uscc, reported_on, row, revoked, revoked_on in conn.execute(
            """select uscc, reported_on, source_row_number, is_revoked, revoked_on
               from staging.stg_customs_certified__certifications
               where reported_on <= %(e)s and certified_on <= %(e)s""", {"e": MONTH_END}).fetchall():
        if uscc not in latest_decision or (reported_on, row) > latest_decision[uscc][:2]:
            latest_decision[uscc] = (reported_on, row, revoked, revoked_on)
    certified = {u for u, (_d, _r, revoked, revoked_on) in latest_decision.items()
                 if not (revoked and (revoked_on is None or revoked_on <= MONTH_END))} & set(enterprises)
    assert certified
    assert _assert_share(figures, "customs_certified_share", _count(enterprises[u] for u in certified), per_unit) > 3
    # Commitments reported by June's end, of every subject, per enterprise.
    units = _units(conn)
    subject_units = dict(conn.execute("select uscc, jurisdiction_code from marts.dim_subject "
                                      "where uscc is not null").fetchall())
    commitments = [subject_units.get(u) or units.get(u[2:8]) for (u,) in conn.execute(
        "select uscc from marts.fct_commitment where first_reported_on <= %s", (MONTH_END,)).fetchall()]
    assert commitments
    assert _assert_share(figures, "commitment_per_enterprise", _count(c for c in commitments if c), per_unit) > 3


def test_lifecycle_and_list_figures_equal_an_independent_count(built, conn):
    figures = _figures(conn)
    units = _units(conn)
    subject_units = dict(conn.execute("select uscc, jurisdiction_code from marts.dim_subject "
                                      "where uscc is not null").fetchall())

    def unit_of(uscc: str) -> str | None:
        return subject_units.get(uscc) or units.get(uscc[2:8])

    entries, exits = [], []
    for uscc, entered_on, exited_on in conn.execute(
            "select uscc, entered_on, exited_on from marts.fct_list_membership where list_type = 'black'").fetchall():
        if MONTH <= entered_on <= MONTH_END:
            entries.append(unit_of(uscc))
        if exited_on and MONTH <= exited_on <= MONTH_END:
            exits.append(unit_of(uscc))
    assert entries
    for indicator_id, events in (("serious_list_entries", entries), ("serious_list_exits", exits)):
        counts = _count(e for e in events if e)
        for (unit, indicator), row in figures.items():
            if indicator == indicator_id:
                assert row["value"] == counts.get(unit, 0) and row["denominator"] is None, (indicator_id, unit)
    # Objections applied for in June: overdue ÷ all, under the applicant's division's unit.
    objections = conn.execute(
        """select jurisdiction_code, is_overdue from marts.fct_objection
           where applied_on between %s and %s""", (MONTH, MONTH_END)).fetchall()
    assert objections

    def objection_unit(code):
        return units.get(code) or (code[:4] + "00")

    _assert_share(figures, "objection_overdue_share",
                  _count(objection_unit(c) for c, overdue in objections if overdue),
                  _count(objection_unit(c) for c, _o in objections))
    # Repairs decided in June: repaired ÷ decided.
    repairs = conn.execute(
        """select uscc, outcome from marts.fct_repair
           where status in ('closed', 'refused') and closed_on between %s and %s""", (MONTH, MONTH_END)).fetchall()
    _assert_share(figures, "repair_success_rate", _count(unit_of(u) for u, o in repairs if o == "repaired"),
                  _count(unit_of(u) for u, _o in repairs))


def test_dual_publicity_rates_come_from_the_rates_defined_once(built, conn):
    figures = _figures(conn)
    units = _units(conn)
    reported: dict[str, int] = defaultdict(int)
    late: dict[str, int] = defaultdict(int)
    omitted: dict[str, int] = defaultdict(int)
    for city_code, r, lt, om in conn.execute(
            """select city_code, decisions_reported, decisions_late, decisions_omitted
               from quality.qa_dual_publicity_rates where report_month = %s and city_code is not null""",
            (MONTH,)).fetchall():
        unit = units.get(city_code, city_code)
        reported[unit] += r
        late[unit] += lt
        omitted[unit] += om
    assert sum(reported.values()) > 0
    assert _assert_share(figures, "dp_late_rate", late, reported) > 3
    _assert_share(figures, "dp_omission_rate", omitted,
                  {u: reported[u] + omitted[u] for u in set(reported) | set(omitted)})


def test_a_jurisdiction_without_committable_matters_has_no_figure(built, conn):
    figures = _figures(conn)
    listed = {u for (u,) in conn.execute(
        "select distinct jurisdiction_code from reference.legally_committable_matters").fetchall()}
    assert listed == {"130100"}
    for (unit, indicator), row in figures.items():
        if indicator == "commitment_matter_share":
            if unit in listed:
                assert row["denominator"] == 7 and 0 < row["value"] < 1, row
            else:
                assert row["value"] is None and row["denominator"] is None, row


# --- the report -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(built):
    from credit_dw.reports.scorecard import ranks_file, write_scorecard_report
    from credit_dw.simulate.national_ranks import write_ranks

    ranks_file().unlink(missing_ok=True)
    write_ranks(date(2023, 5, 15))
    write_ranks(date(2023, 7, 20))  # published after June: not June's rank
    return write_scorecard_report(MONTH)


def _read(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_report_lists_every_jurisdiction_with_every_indicator_and_its_target(report, conn):
    directory = report.directory
    assert directory == settings.reports_dir() / "scorecard" / "2023-06"
    for name in ("index.html", "figures.csv", "indicators.csv", "ranks.csv", "reproducibility.json"):
        assert (directory / name).is_file(), name
    assert report.pdf_missing is None and (directory / "scorecard.pdf").read_bytes().startswith(b"%PDF")
    catalogue = _read(directory / "indicators.csv")
    computable = [r for r in catalogue if r["能否计算"] == "能"]
    assert any(r["能否计算"].startswith("否") for r in catalogue)  # listed, never dropped
    figures = _read(directory / "figures.csv")
    names = {r["区划"] for r in figures}
    assert len(names) == REPORTING_UNITS and {"定州市", "辛集市", "雄安新区", "石家庄市"} <= names
    assert len(figures) == REPORTING_UNITS * len(computable)
    assert all(r["目标"] for r in figures)
    # Outreach is the interview feed's model (rpt_blacklist_outreach_monthly): its figures, and 无数据
    # (never 0) where a jurisdiction has no black-list subject.
    outreach = {r["行政区划代码"]: r for r in figures if r["指标编号"] == "blacklist_outreach_share"}
    assert len(outreach) == REPORTING_UNITS
    model_outreach = {code: (listed, reached, share) for code, listed, reached, share in conn.execute(
        """select jurisdiction_code, blacklist_subjects, reached_subjects, reached_share
           from marts.rpt_blacklist_outreach_monthly where month = %s""", (MONTH,)).fetchall()}
    assert set(model_outreach) == set(outreach)
    for code, (listed, reached, share) in model_outreach.items():
        shown = outreach[code]["数值"]
        assert shown == ("无数据" if share is None else f"{float(share):.2%}"), (code, listed, reached, shown)
    assert any(share is not None for _, _, share in model_outreach.values())
    # Every null figure of the model reads 无数据; every other one is the model's value.
    model = _figures(conn)
    for row in figures:
        figure = model.get((row["行政区划代码"], row["指标编号"]))
        if figure is None:
            continue
        if figure["value"] is None:
            assert row["数值"] == "无数据", row
        else:
            assert row["数值"] != "无数据", row
    page = (directory / "index.html").read_text(encoding="utf-8")
    for name in names:
        assert name in page
    for indicator in catalogue:
        assert indicator["指标"] in page and indicator["目标"] in page
    assert "无数据" in page and page.count("<svg") >= len(computable)


def test_each_number_drills_down_to_its_rows(report):
    figures = _read(report.directory / "figures.csv")
    checked = 0
    for row in figures:
        if not row["明细文件"] or row["分子"] in ("无数据", "0") or row["单位"] != "share" and row["单位"] != "count":
            continue
        rows = _read(report.directory / row["明细文件"])
        if row["指标编号"].startswith("dp_"):
            column = "迟报条数" if row["指标编号"] == "dp_late_rate" else "漏报条数"
            total = sum(int(r[column]) for r in rows if r["行政区划代码"] == row["行政区划代码"])
        else:
            total = sum(1 for r in rows if r["行政区划代码"] == row["行政区划代码"])
        assert total == int(row["分子"]), row
        checked += 1
    assert checked > 20


def test_ranks_against_targets_and_at_risk(report):
    from credit_dw.reports.scorecard import _at_risk_indicators

    ranks = _read(report.directory / "ranks.csv")
    assert {r["区划"] for r in ranks} >= {"石家庄市", "定州市", "辛集市", "雄安新区", "衡水市"}
    shijiazhuang = {r["排名类别"] for r in ranks if r["区划代码"] == "130100"}
    assert shijiazhuang == {"省会及副省级以上城市", "全国地级市"}
    assert all(r["发布日期"] == "2023-05-15" for r in ranks if r["区划代码"] != "133100")
    xiongan = [r for r in ranks if r["区划代码"] == "133100"]
    assert len(xiongan) == 1 and xiongan[0]["排名"] == "无数据" and xiongan[0]["目标"] == "全国地级市前 50%"
    for row in ranks:
        if row["排名"] != "无数据":
            limit = 20 if row["排名类别"] == "省会及副省级以上城市" else 100 if row["排名类别"] == "全国县级市" \
                else int(int(row["参评城市数"]) * 0.5)
            assert row["是否达到目标"] == ("是" if int(row["排名"]) <= limit else "否"), row
            if row["是否达到目标"] == "否":
                assert row["是否预警"] == "是"
    # Moving away from the target two months running.
    assert _at_risk_indicators([0.1, 0.2, 0.3], "lower", 0)
    assert not _at_risk_indicators([0.1, 0.3, 0.2], "lower", 0)
    assert _at_risk_indicators([0.5, 0.4, 0.3], "higher", None)
    assert not _at_risk_indicators([0.5, 0.6, 0.55], "higher", None)
    assert not _at_risk_indicators([None, 0.2, 0.3], "lower", 0)
    assert not _at_risk_indicators([0.7, 0.65, 0.61], "higher", 0.6)  # falling, but still above its target


def test_the_reproducibility_record_and_a_rerun_by_the_command(report):
    from typer.testing import CliRunner

    from credit_dw.cli import app

    record = json.loads((report.directory / "reproducibility.json").read_text(encoding="utf-8"))
    assert record["month"] == "2023-06" and record["as_of_date"] == "2023-06-30"
    assert record["batch_count"] > 0 and record["ranks_file"]["sha256"]
    assert set(record["rules"]) >= {"scorecard_indicators.csv", "scorecard_rank_targets.csv"}
    assert "figures.csv" in record["files"]
    first = {p.relative_to(report.directory): p.read_bytes() for p in report.directory.rglob("*")
             if p.suffix in (".csv", ".json")}
    # The command rebuilds the scorecard models as of June's end and writes the same files again.
    result = CliRunner().invoke(app, ["report", "scorecard", "--month", "2023-06"])
    assert result.exit_code == 0, result.output
    assert f"scorecard: {report.directory / 'index.html'}" in result.output
    again = {p.relative_to(report.directory): p.read_bytes() for p in report.directory.rglob("*")
             if p.suffix in (".csv", ".json")}
    assert again == first and len(first) >= 10


def test_the_report_holds_no_citizen_id_and_no_persons_name(report, conn):
    from stdnum.cn import ric, uscc

    names = natural_person_names(conn, ["%/2023-0%"])  # this module's nights
    assert len(names) > 20
    scanned = 0
    for path in sorted(report.directory.rglob("*")):
        if path.suffix not in (".csv", ".html", ".json"):
            continue
        text = path.read_text(encoding="utf-8-sig")
        for token in re.findall(r"[0-9]{17}[0-9Xx]", text):
            assert not (ric.is_valid(token) and not uscc.is_valid(token)), (path.name, token)
        if path.suffix == ".csv":
            for row in _read(path):
                for header, value in row.items():
                    scanned += 1
                    assert value.strip() not in names, (path.name, header, value)
        else:
            for name in names:
                assert name not in text, (path.name, name)
    assert scanned > 500
