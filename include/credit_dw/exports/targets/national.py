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

Rows are ordered by key so a rerun of the night yields the same bytes.
"""

from __future__ import annotations

from datetime import date

import psycopg

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


def tables(conn: psycopg.Connection, logical_date: date) -> dict[str, list[dict]]:
    from psycopg.rows import dict_row

    params = {"night": logical_date}
    with conn.cursor(row_factory=dict_row) as cur:
        subjects = cur.execute(
            f"select {', '.join(SUBJECT_COLUMNS)} from marts.dim_subject "
            "where last_changed_on = %(night)s order by subject_id", params).fetchall()
        licences = cur.execute(LICENCES, params).fetchall()
        penalties = cur.execute(PENALTIES, params).fetchall()
    return {"subjects": subjects, "licences": licences, "penalties": penalties}
