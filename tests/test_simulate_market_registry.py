"""The market-registry simulator: deterministic, defects as reported, times inside the logical date."""

from __future__ import annotations

import random
import unicodedata
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql
from stdnum.cn import uscc

from credit_dw.config import settings
from credit_dw.simulate import identities, simulate_market_registry
from credit_dw.simulate.market_registry import DEFECT_KINDS, RESHAPED_KIND, TABLE, day_id_range

D1 = date(2026, 11, 20)
D2 = date(2026, 11, 21)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _drop(url: str) -> None:
    name = url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(settings.with_database(url, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture()
def source_url(warehouse_url: str) -> str:
    """The configured registry database, dropped first so each test starts from nothing."""
    url = settings.source_url("market_registry")
    _drop(url)
    return url


def _other_db(url: str, suffix: str) -> str:
    other = settings.with_database(url, f"src_market_registry_{suffix}")
    _drop(other)
    return other


def _digest(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"select md5(coalesce(string_agg(t::text, '|' order by id), '')) from {TABLE} t"
        ).fetchone()[0]


def _rows(url: str, day: date) -> list[tuple]:
    lo, hi = day_id_range(day)
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"select id, tyshxydm, ztmc, ztlx, fddbr, djjg_xzqh, clrq, djzt, gxsj from {TABLE} "
            "where id between %s and %s order by id",
            (lo, hi),
        ).fetchall()


def _norm(code: str | None) -> str:
    return unicodedata.normalize("NFKC", code or "").strip()


def test_creates_database_and_commented_table(source_url: str) -> None:
    summary = simulate_market_registry(source_url, D1)
    assert summary.source_id == "market_registry" and summary.logical_date == D1
    with psycopg.connect(source_url) as conn:
        comment = conn.execute("select obj_description(%s::regclass, 'pg_class')", (TABLE,)).fetchone()[0]
        assert comment == "市场主体登记信息"
        uncommented = conn.execute(
            "select count(*) from information_schema.columns c "
            "where table_schema = 'registry' and table_name = 't_sczt_djxx' "
            "and col_description(%s::regclass, c.ordinal_position) is null",
            (TABLE,),
        ).fetchone()[0]
        assert uncommented == 0
        assert conn.execute(
            "select count(*) from pg_indexes where schemaname = 'registry' and indexdef like '%%(gxsj)%%'"
        ).fetchone()[0] == 1


def test_rerun_writes_identical_content(source_url: str) -> None:
    first = simulate_market_registry(source_url, D1, scale=2)
    second = simulate_market_registry(source_url, D2, scale=2)
    assert first.rows_updated == 0  # nothing earlier to change
    assert second.rows_updated > 0  # status changes of D1's subjects
    after_one_run = _digest(source_url)

    again = simulate_market_registry(source_url, D2, scale=2)
    assert again == second
    assert _digest(source_url) == after_one_run

    # The same dates on an empty database give the same rows: nothing depends on the server.
    other = _other_db(source_url, "replay")
    simulate_market_registry(other, D1, scale=2)
    simulate_market_registry(other, D2, scale=2)
    assert _digest(other) == after_one_run

    # Another seed gives other rows.
    reseeded = _other_db(source_url, "reseeded")
    simulate_market_registry(reseeded, D1, scale=2, seed=7)
    simulate_market_registry(reseeded, D2, scale=2, seed=7)
    assert _digest(reseeded) != after_one_run


def test_defects_reported_match_the_table(source_url: str) -> None:
    summary = simulate_market_registry(source_url, D1, scale=5)
    rows = _rows(source_url, D1)
    assert len(rows) == 1000 == summary.rows_inserted
    assert summary.defects == {**dict.fromkeys(DEFECT_KINDS, 10), RESHAPED_KIND: summary.defects[RESHAPED_KIND]}
    assert 5 <= summary.defects[RESHAPED_KIND] <= 15

    known = {r["division_code"] for r in identities.read_seed_divisions()}
    found: dict[str, int] = defaultdict(int)
    flagged: dict[int, list[str]] = defaultdict(list)
    by_code: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        rid, raw, name, kind, person, division, registered, status, _ = row
        code = _norm(raw)
        if code != raw:
            found[RESHAPED_KIND] += 1
        assert len(code) == 18 and code[2:8] == division  # chars 3-8 are the registration division
        assert code[:2] == {"企业": "91", "个体工商户": "92"}[kind]
        assert status in {"存续", "在业", "吊销", "注销", "迁出"}
        assert person and person.strip()
        by_code[code].append(row)
        if not uscc.is_valid(code):
            flagged[rid].append("bad_check_character")
        if name is None or not name.strip():
            flagged[rid].append("missing_name")
        if division not in known:
            flagged[rid].append("unknown_division")
        if registered > D1:
            flagged[rid].append("future_registration")
    for group in by_code.values():
        if len(group) > 1:
            assert len({r[2] for r in group}) == len(group)  # same code, different names
            found["duplicate_uscc_other_name"] += len(group) - 1
            for r in group[1:]:
                flagged[r[0]].append("duplicate_uscc_other_name")
    for kinds in flagged.values():
        assert len(kinds) == 1, kinds  # one defect per row
        if kinds[0] != "duplicate_uscc_other_name":
            found[kinds[0]] += 1
    assert dict(found) == summary.defects

    # every row without a defect has a valid code after normalisation
    clean = [r for r in rows if r[0] not in flagged]
    assert len(clean) == 1000 - 50
    assert all(uscc.is_valid(_norm(r[1])) for r in clean)
    individual_share = sum(r[3] == "个体工商户" for r in rows) / len(rows)
    assert 0.3 < individual_share < 0.5


def test_change_times_inside_the_logical_date(source_url: str) -> None:
    simulate_market_registry(source_url, D1, scale=3)
    summary = simulate_market_registry(source_url, D2, scale=3)
    start = datetime(D2.year, D2.month, D2.day, tzinfo=SHANGHAI)
    with psycopg.connect(source_url) as conn:
        in_day = conn.execute(
            f"select count(*) from {TABLE} where gxsj >= %s and gxsj < %s", (start, start + timedelta(days=1))
        ).fetchone()[0]
        lo, hi = day_id_range(D2)
        outside = conn.execute(
            f"select count(*) from {TABLE} where id between %s and %s "
            "and (gxsj at time zone 'Asia/Shanghai')::date <> %s",
            (lo, hi, D2),
        ).fetchone()[0]
        registered_later = conn.execute(
            f"select count(*) from {TABLE} where id between %s and %s and clrq > %s", (lo, hi, D2)
        ).fetchone()[0]
    assert in_day == summary.rows_written == summary.rows_inserted + summary.rows_updated
    assert summary.rows_updated > 0
    assert outside == 0
    assert registered_later == summary.defects["future_registration"]
    for row in _rows(source_url, D2):
        local = row[8].astimezone(SHANGHAI)
        assert local.date() == D2 and row[8].utcoffset() is not None


def test_scale_multiplies_volume(source_url: str) -> None:
    one = simulate_market_registry(source_url, D1, scale=1)
    three = simulate_market_registry(_other_db(source_url, "scale3"), D1, scale=3)
    assert one.rows_inserted == 200 and len(_rows(source_url, D1)) == 200
    assert three.rows_inserted == 600
    assert sum(three.defects[k] for k in DEFECT_KINDS) == 3 * sum(one.defects[k] for k in DEFECT_KINDS) == 30


def test_no_defects_when_share_is_zero(source_url: str) -> None:
    summary = simulate_market_registry(source_url, D1, defect_share=0.0)
    assert all(summary.defects[k] == 0 for k in DEFECT_KINDS)
    assert all(uscc.is_valid(_norm(r[1])) for r in _rows(source_url, D1))


def test_identities() -> None:
    rng = random.Random(1)
    divisions = identities.registration_divisions()
    assert len(divisions) > 150 and all(d.name != "市辖区" for d in divisions)
    for d in divisions:
        code = identities.make_uscc(rng, d.code, kind="2", registered_on=date(2010, 1, 1))
        assert uscc.is_valid(code) and code[2:8] == d.code and code.startswith("92")
        assert not uscc.is_valid(identities.wrong_check_character(rng, code))
    # GB 11714 check of the organisation code inside the USCC of stdnum's example
    assert identities.organisation_code_check("60003734") == "1"
    assert identities.organisation_code(rng).startswith("MA")
    assert unicodedata.normalize("NFKC", identities.to_fullwidth("91130100MA0ABCDE1X")) == "91130100MA0ABCDE1X"
    names = {identities.person_name(rng) for _ in range(200)}
    assert len(names) > 150 and all(2 <= len(n) <= 4 for n in names)
    shop = identities.individual_business_name(rng, "正定县", "张三")
    assert shop.startswith("正定县")
    assert identities.enterprise_name(rng, "正定县", "石家庄市").endswith(("公司", "（有限合伙）"))
    # same generator state, same output
    assert identities.person_name(random.Random(5)) == identities.person_name(random.Random(5))
