"""国家企业信用信息公示系统（河北） (`gsxt`): what the enterprise credit publicity system shows of
market subjects, and the repair results it must carry [001 2018 plan §4.8].

Market subjects only: organisations (法人和非法人组织) and individual businesses (个体工商户, a 92…
code), the subjects registered in that system; a natural person's record is never delivered
(`subject_type = 'natural_person'` is left out of every file, and fct_repair holds market subjects
only). Read from the states the marts compute once (docs/record_lifecycle.md), never re-derived:

- licences: every administrative licence of a market subject decided by the night, 有效 是 / 否 as
  `fct_admin_licence.is_valid` says (the system keeps a subject's licence history, not only the
  ones in force);
- penalties: every penalty of a market subject inside its publicity window
  (`fct_admin_penalty.is_public`), with its publicity state (公示中 / 公示中（异议）: an objection
  suspends punishment, never publicity [000 §2.12]), national status (0 / 2), punishment state
  (执行中 / 暂停（异议核实中）) and update time;
- lists: every current red, black and key-attention entry of a market subject
  (`fct_list_membership.is_current`), 异议 while an objection is verified, and its punishment state;
- repairs: the repair results decided that night (`fct_repair.closed_on` = the night: 修复成功,
  修复不通过, 不予受理), each with the penalty it repairs and, when repaired, the day that penalty
  stops being public (`fct_admin_penalty.publicity_ends_on`: never before its minimum period).

licences, penalties and lists are full snapshots (the receiver replaces its set: a penalty repaired,
expired or revoked is simply absent the night it stops being public, and a night the receiver missed
is healed by the next one); repairs is the night's increment (a result is announced once, on the
night it is decided). Ordered by the warehouse's stable keys, so a rerun yields the same bytes.
"""

from __future__ import annotations

from datetime import date

import psycopg

from credit_dw.exports.targets import REPAIR_OUTCOME_NAME, REPAIR_PATH_NAME

#: The market subjects of the enterprise publicity system (never a natural person).
_MARKET_SUBJECT = "{col} in ('organisation', 'individual_business')"
#: 主体类别 as the national templates name them.
_CATEGORY = "case {col} when 'individual_business' then '个体工商户' else '法人及非法人组织' end"
_YES_NO = "case when {flag} then '是' else '否' end"
_PUNISHMENT = """case {col}
           when 'in_force' then '执行中' when 'suspended_by_objection' then '暂停（异议核实中）'
           when 'ended_by_revocation' then '终止（撤销）' when 'ended_by_repair' then '终止（修复）'
           when 'ended_by_exit' then '终止（移出）' when 'ended_by_period' then '终止（期满）'
           when 'not_yet_in_force' then '未生效'
       end"""

LICENCES = f"""
select licence_id, decision_document_number, subject_name,
       {_CATEGORY.format(col='subject_type')} as subject_category,
       uscc, licence_category, licence_certificate_name, licence_number, licence_content, decision_on,
       valid_from, valid_to, {_YES_NO.format(flag='is_valid')} as valid, authority_name, source_department
from marts.fct_admin_licence
where {_MARKET_SUBJECT.format(col='subject_type')} and decision_on <= %(night)s
order by licence_id
"""

PENALTIES = f"""
select penalty_id, decision_document_number, subject_name,
       {_CATEGORY.format(col='subject_type')} as subject_category,
       uscc, penalty_category, violation_type, penalty_basis, authority_name, publicity_start_on,
       latest_end_on - 1 as publicity_last_day,
       case publicity_status when 'public_under_objection' then '公示中（异议）' else '公示中' end
           as publicity_status_name,
       national_status_code,
       {_PUNISHMENT.format(col='punishment_state')} as punishment_state_name,
       to_char(national_status_updated_at at time zone 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS')
           as status_updated_at
from marts.fct_admin_penalty
where {_MARKET_SUBJECT.format(col='subject_type')}
  and is_public and publicity_start_on <= %(night)s and %(night)s < latest_end_on
order by penalty_id
"""

LISTS = f"""
select list_membership_id, list_type_name, list_name, subject_name,
       {_CATEGORY.format(col='subject_type')} as subject_category,
       uscc, listing_reason, listing_basis, listing_document_number, deciding_department, entered_on,
       valid_until, case when open_objection_count > 0 then '异议' else '正常' end as status_name,
       {_PUNISHMENT.format(col='punishment_state')} as punishment_state_name
from marts.fct_list_membership
where {_MARKET_SUBJECT.format(col='subject_type')} and is_current
order by list_membership_id
"""

REPAIRS = f"""
select repair.repair_id, repair.uscc, repair.subject_name,
       {_CATEGORY.format(col='repair.subject_type')} as subject_category,
       repair.record_category, repair.record_id, repair.penalty_id,
       {REPAIR_PATH_NAME} as repair_path_name,
       repair.handled_by, repair.applied_on, repair.closed_on,
       {REPAIR_OUTCOME_NAME} as outcome_name,
       case when repair.is_repaired then penalty.publicity_ends_on end as publicity_ends_on
from marts.fct_repair as repair
left join marts.fct_admin_penalty as penalty
    on penalty.penalty_id = repair.penalty_id
where {_MARKET_SUBJECT.format(col='repair.subject_type')}
  and repair.status in ('closed', 'refused') and repair.closed_on = %(night)s
order by repair.repair_id
"""


QUERIES = {"licences": LICENCES, "penalties": PENALTIES, "lists": LISTS, "repairs": REPAIRS}


def queries(logical_date: date) -> dict[str, tuple[str, dict]]:
    """Each file's query and parameters: the export cuts them on the server (one COPY each)."""
    return {name: (query, {"night": logical_date}) for name, query in QUERIES.items()}


def tables(conn: psycopg.Connection, logical_date: date) -> dict[str, list[dict]]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return {name: cur.execute(query, params).fetchall() for name, (query, params) in queries(logical_date).items()}
