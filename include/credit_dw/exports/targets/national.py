"""全国信用信息共享平台 (`national`): what the national platform receives each night.

- `subjects`: the subjects whose registration changed that night ("one entry, many exits"
  [000 §2.2]: one curated table feeds every exit), from `dim_subject`. Natural persons' data is not
  part of this file; the legal representative's name is public registry information (catalog
  `person_names_allowed`).
- `licences`, `penalties`: the night's dual-publicity increment in the national template's
  vocabulary (its Chinese headers, 行政相对人类别 names, status codes 0 正常 / 1 撤销 / 2 异议 and an
  update time). The template has no operation flag, so the delivery states one (操作标识,
  docs/province_rules.md §10): 新增 first delivered that night; 变更 delivered again that night or
  its national status changed that night; 撤回 a penalty withdrawn that night (revoked or
  corrected after verification, or withdrawn nationally: status 1).
- `lists`, `debtors`: the night's increment of red / black / key-attention list entries
  (`fct_list_membership`) and of dishonest judgment debtor listings (`fct_court_debtor`): 新增 first
  delivered that night; 撤回 found wrong by objection verification that night (撤销 / 更正: status 1);
  变更 otherwise (delivered again, exited 移出 / removed 移除 that night: the exit date and reason
  say so). 信息状态 0 正常, 1 撤销 (verified wrong), 2 异议 (an objection being verified: publicity
  and sharing go on, punishment is suspended [000 §2.12]); 更新时间 the latest of the night's dates
  for the record. A natural person's debtor listing carries no name (the marts keep none) and the
  masked ID only.
- `repairs`: the repair results decided that night (`fct_repair.closed_on` = the night: 修复成功,
  修复不通过, 不予受理), 新增, status 0, with the record repaired and, when repaired, the day the
  penalty stops being public (market subjects only: fct_repair holds no natural person).

Rows are ordered by key so a rerun of the night yields the same bytes.
"""

from __future__ import annotations

from datetime import date

import psycopg

from credit_dw.exports.targets import REPAIR_OUTCOME_NAME, REPAIR_PATH_NAME

SUBJECT_COLUMNS = (
    "subject_id", "uscc", "subject_name", "subject_type", "legal_representative",
    "registration_division_code", "jurisdiction_code", "registered_on", "registration_status",
    "source_updated_at",
)

#: 行政相对人类别 of the national templates for the warehouse's subject types.
_CATEGORY = """case subject_type when 'natural_person' then '自然人' when 'individual_business' then '个体工商户'
                    else '法人及非法人组织' end"""

LICENCES = f"""
select case when first_reported_on = %(night)s then '新增' else '变更' end as operation,
       subject_name, {_CATEGORY} as subject_category, uscc, citizen_id_masked, decision_document_number,
       licence_category, licence_certificate_name, licence_number, licence_content, decision_on,
       valid_from, valid_to, authority_name, source_department,
       '0' as national_status_code,
       to_char(last_reported_on, 'YYYY-MM-DD') || ' 00:00:00' as updated_at
from marts.fct_admin_licence
where last_reported_on = %(night)s or first_reported_on = %(night)s
order by licence_id
"""

PENALTIES = f"""
with night_state as (
    select *,
           (national_status_updated_at at time zone 'Asia/Shanghai')::date = %(night)s as status_changed_tonight
    from marts.fct_admin_penalty
)

select case
           when national_status_code = '1' and status_changed_tonight then '撤回'
           when first_reported_on = %(night)s then '新增'
           else '变更'
       end as operation,
       subject_name, {_CATEGORY} as subject_category, uscc, decision_document_number, violation_type,
       penalty_basis, penalty_category, publicity_start_on, latest_end_on - 1 as publicity_last_day,
       authority_name, national_status_code,
       to_char(national_status_updated_at at time zone 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS') as updated_at
from night_state
where first_reported_on = %(night)s or last_reported_on = %(night)s or status_changed_tonight
order by penalty_id
"""


#: 信息状态 of a listing: 1 撤销 once verification found it wrong, 2 异议 while an objection is open.
_LISTING_STATUS = """case when verified_wrong_on is not null then '1' when open_objection_count > 0 then '2'
                          else '0' end"""
#: The national increment's operation flag of a listing (see the module).
_LISTING_OPERATION = """case when verified_wrong_on = %(night)s then '撤回'
                             when first_reported_on = %(night)s then '新增' else '变更' end"""

LISTS = f"""
select {_LISTING_OPERATION} as operation,
       list_type_name, list_name, subject_name, {_CATEGORY} as subject_category, uscc, listing_reason,
       listing_basis, listing_document_number, deciding_department, entered_on, valid_until, exited_on,
       exit_reason, {_LISTING_STATUS} as national_status_code,
       to_char(greatest(last_reported_on, exited_on, verified_wrong_on), 'YYYY-MM-DD') || ' 00:00:00'
           as updated_at
from marts.fct_list_membership
where first_reported_on = %(night)s or last_reported_on = %(night)s or exited_on = %(night)s
   or verified_wrong_on = %(night)s
order by list_membership_id
"""

DEBTORS = f"""
select {_LISTING_OPERATION} as operation,
       case_number, subject_name, {_CATEGORY} as subject_category, uscc, citizen_id_masked, court_name,
       filed_on, basis_document_number, performance_status, dishonest_conduct, listed_on, removed_on,
       {_LISTING_STATUS} as national_status_code,
       to_char(greatest(last_reported_on, removed_on, verified_wrong_on), 'YYYY-MM-DD') || ' 00:00:00'
           as updated_at
from marts.fct_court_debtor
where first_reported_on = %(night)s or last_reported_on = %(night)s or removed_on = %(night)s
   or verified_wrong_on = %(night)s
order by court_debtor_id
"""

REPAIRS = f"""
select '新增' as operation, repair.repair_id, repair.uscc, repair.subject_name,
       {_CATEGORY.replace('subject_type', 'repair.subject_type')} as subject_category,
       repair.record_category, repair.record_id,
       {REPAIR_PATH_NAME} as repair_path_name,
       repair.handled_by, repair.applied_on, repair.closed_on,
       {REPAIR_OUTCOME_NAME} as outcome_name,
       case when repair.is_repaired then penalty.publicity_ends_on end as publicity_ends_on,
       '0' as national_status_code,
       to_char(repair.closed_on, 'YYYY-MM-DD') || ' 00:00:00' as updated_at
from marts.fct_repair as repair
left join marts.fct_admin_penalty as penalty
    on penalty.penalty_id = repair.penalty_id
where repair.status in ('closed', 'refused') and repair.closed_on = %(night)s
order by repair.repair_id
"""


def tables(conn: psycopg.Connection, logical_date: date) -> dict[str, list[dict]]:
    from psycopg.rows import dict_row

    params = {"night": logical_date}
    with conn.cursor(row_factory=dict_row) as cur:
        subjects = cur.execute(
            f"select {', '.join(SUBJECT_COLUMNS)} from marts.dim_subject "
            "where last_changed_on = %(night)s order by subject_id", params).fetchall()
        licences = cur.execute(LICENCES, params).fetchall()
        penalties = cur.execute(PENALTIES, params).fetchall()
        rest = {name: cur.execute(query, params).fetchall()
                for name, query in (("lists", LISTS), ("debtors", DEBTORS), ("repairs", REPAIRS))}
    return {"subjects": subjects, "licences": licences, "penalties": penalties, **rest}
