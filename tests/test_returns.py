"""Return notices to departments (信息退回) and corrected re-submissions (补报), on real batches."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import psycopg
import pytest

from credit_dw.config import settings
from credit_dw.ingest import pipeline as ingest
from credit_dw.ingest import returns
from credit_dw.simulate import simulate_market_registry
from credit_dw.simulate.market_registry import TABLE
from credit_dw.transform import dbt as transform

SOURCE = "market_registry"
DEPARTMENT = "河北省市场监督管理局"


@pytest.fixture(scope="module")
def seeded(warehouse_url: str) -> str:
    transform.seed_reference()
    return warehouse_url


def _insert_source_row(row_id: int, uscc: str, name: str, changed_at: str) -> None:
    with psycopg.connect(settings.source_url(SOURCE), autocommit=True) as src:
        src.execute(
            f"""insert into {TABLE} (id, tyshxydm, ztmc, ztlx, fddbr, djjg_xzqh, clrq, djzt, gxsj)
                values (%s, %s, %s, '企业', '李四', '130102', '2019-05-05', '存续', %s)""",
            (row_id, uscc, name, changed_at),
        )


def test_notice_lists_every_returned_row_in_the_departments_template(seeded, conn):
    night = date(2021, 6, 1)
    summary = simulate_market_registry(settings.source_url(SOURCE), night, scale=1, defect_share=0.1)
    outcome = ingest.ingest(SOURCE, night)
    notices = returns.write_return_notices(SOURCE, night)

    assert [n.department for n in notices] == [DEPARTMENT]
    notice = notices[0]
    outbox = settings.home() / "outbox" / "returns"
    assert notice.path == outbox / DEPARTMENT / night.isoformat() / "market_registry_returns.csv"
    assert notice.rows == outcome.rows_quarantined > 0
    text = notice.path.read_bytes().decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    header, body = lines[0], lines[1:]
    # The department's own columns, in Chinese with the database column beside each, so it reads
    # the field and finds the column to correct and resend (the message catalogue).
    assert header[:6] == list(returns.NOTICE_HEADER)
    assert header[6:] == ["统一社会信用代码（tyshxydm）", "主体名称（ztmc）", "主体类型（ztlx）", "法定代表人（fddbr）",
                          "法定代表人证件号码（fddbr_zjhm）", "行政区划代码（djjg_xzqh）", "成立日期（clrq）",
                          "登记状态（djzt）", "更新时间（gxsj）"]
    assert len({row[2] for row in body}) == outcome.rows_quarantined
    fields = {row[3] for row in body}
    assert {"统一社会信用代码（tyshxydm）", "主体名称（ztmc）", "行政区划代码（djjg_xzqh）",
            "成立日期（clrq）"} <= fields
    missing_names = [row for row in body if row[5] == "主体名称必填"]
    assert len(missing_names) == summary.defects["missing_name"]
    assert {row[4] for row in missing_names} == {"主体名称为空"}
    # Reasons and checks read Chinese: no English word, no snake_case check name (GB standards and
    # the column names in brackets aside).
    for row in body:
        for text in (row[4], row[5]):
            assert not re.search(r"[A-Za-z]{3,}", re.sub(r"（[a-z_]+）|GB(/T)? [\d.-]+|YYYY", "", text)), text
    assert "统一社会信用代码不符合 GB 32100-2015（格式或校验位错误）" in {row[4] for row in body}

    # A rerun writes the same bytes.
    before = notice.path.read_bytes()
    returns.write_return_notices(SOURCE, night)
    assert notice.path.read_bytes() == before
    recorded = conn.execute(
        "select rows_returned from meta.return_notices where source_id = %s and logical_date = %s",
        (SOURCE, night),
    ).fetchone()[0]
    assert recorded == outcome.rows_quarantined


def test_corrected_row_is_linked_to_the_returned_one(seeded, conn):
    first, second = date(2021, 7, 1), date(2021, 7, 2)
    simulate_market_registry(settings.source_url(SOURCE), first, scale=1, defect_share=0.0)
    simulate_market_registry(settings.source_url(SOURCE), second, scale=1, defect_share=0.0)
    from stdnum.cn import uscc

    valid = "91130102MA0000000" + uscc.calc_check_digit("91130102MA0000000")
    _insert_source_row(7, valid, "", "2021-07-01 20:00:00+08")  # returned: no name
    try:
        ingest.ingest(SOURCE, first)
        returns.write_return_notices(SOURCE, first)
        with psycopg.connect(settings.source_url(SOURCE), autocommit=True) as src:
            src.execute(f"update {TABLE} set ztmc = '更正有限公司', gxsj = '2021-07-02 09:00:00+08' where id = 7")
        ingest.ingest(SOURCE, second)
        linked = returns.link_resubmissions(SOURCE, second)
    finally:
        with psycopg.connect(settings.source_url(SOURCE), autocommit=True) as src:
            src.execute(f"delete from {TABLE} where id = 7")

    assert linked == 1
    key, original_batch = conn.execute(
        "select business_key, original_batch_id from meta.resubmissions where resubmitted_batch_id = %s",
        (f"{SOURCE}/{second}",),
    ).fetchone()
    assert key == valid and original_batch == f"{SOURCE}/{first}"
