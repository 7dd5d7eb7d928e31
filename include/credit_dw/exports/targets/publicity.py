"""信用中国（河北） (`publicity`): only what may be public on the night, and what left publicity.

Read from the state the marts compute once (docs/record_lifecycle.md), never re-derived here:

- licences: every administrative licence decided by the night (dual publicity [000 §2.2]);
- penalties: `fct_admin_penalty.is_public`, i.e. inside the publicity window and neither repaired,
  revoked nor corrected; a record under objection stays, 信息状态 异议 / 状态码 2 ("严禁违规撤下公示
  期限未满或未经修复的行政处罚信息" [000 §2.12]: an objection suspends punishment, never publicity);
- lists: current red and black list entries (`fct_list_membership.is_current`), 异议 while an
  objection against the entry is being verified;
- acts: Shijiazhuang's other administrative acts (行政强制、确认、征收、给付、裁决、补偿、奖励、监督检查
  [004 (十五)]) inside their kind's publicity period (`fct_admin_act.is_public`; the period is the
  office's, seed admin_act_kinds);
- removals: what left publicity that night (公示期满 the period ended, 信用修复 repaired, 撤销 /
  更正 found wrong after verification, 移出名单 list exit, 有效期届满 validity over; an act whose
  period ended, 公示期满), so the site takes it down the same day.

The four public files are full snapshots of the public set (a night the site missed is healed by
the next snapshot); removals is the night's increment. Natural persons: names masked to the first
character (张**; the marts already mask penalties' names, lists are masked here), IDs only masked
(first 6 + ******** + last 4), never the subject hash.
"""

from __future__ import annotations

from datetime import date

import psycopg

#: 行政相对人类别 of the national templates for the warehouse's subject types.
_CATEGORY = """case {col} when 'natural_person' then '自然人' when 'individual_business' then '个体工商户'
                    else '法人及非法人组织' end"""
#: A natural person's name as the website shows it (the dbt macro masked_person_name).
_MASKED = """case when {type} = 'natural_person' and {name} is not null
                  then left({name}, 1) || repeat('*', greatest(char_length({name}) - 1, 1))
                  else {name} end"""

LICENCES = f"""
select licence_id, decision_document_number,
       {_MASKED.format(type='subject_type', name='subject_name')} as subject_name,
       {_CATEGORY.format(col='subject_type')} as subject_category,
       uscc, citizen_id_masked, licence_category, licence_certificate_name, licence_number,
       licence_content, decision_on, valid_from, valid_to, authority_name, source_department
from marts.fct_admin_licence
where decision_on <= %(night)s
order by licence_id
"""

PENALTIES = f"""
select penalty_id, decision_document_number,
       {_MASKED.format(type='subject_type', name='subject_name')} as subject_name,
       {_CATEGORY.format(col='subject_type')} as subject_category,
       uscc, penalty_category, violation_type, penalty_basis, authority_name, publicity_start_on,
       latest_end_on - 1 as publicity_last_day,
       case national_status_code when '2' then '异议' else '正常' end as status_name,
       national_status_code,
       to_char(national_status_updated_at at time zone 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS')
           as status_updated_at
from marts.fct_admin_penalty
where is_public and publicity_start_on <= %(night)s and %(night)s < latest_end_on
order by penalty_id
"""

LISTS = f"""
select list_membership_id, list_type_name, list_name,
       {_MASKED.format(type='subject_type', name='subject_name')} as subject_name,
       uscc, listing_reason, listing_basis, listing_document_number, deciding_department, entered_on,
       valid_until, case when open_objection_count > 0 then '异议' else '正常' end as status_name
from marts.fct_list_membership
where is_current and list_type in ('red', 'black')
order by list_membership_id
"""

REMOVALS = f"""
with penalties as (
    select '行政处罚' as record_kind, penalty_id as record_id, decision_document_number as document_number,
           {_MASKED.format(type='subject_type', name='subject_name')} as subject_name, uscc,
           case publicity_status
               when 'repaired' then '信用修复'
               when 'expired_archived' then '公示期满'
               when 'revoked' then '撤销'
               when 'corrected' then '更正'
           end as removal_reason
    from marts.fct_admin_penalty
    where not is_public
      and publicity_start_on < %(night)s
      and ((publicity_status in ('repaired', 'expired_archived') and publicity_ends_on = %(night)s)
           or (publicity_status in ('revoked', 'corrected')
               and (verified_wrong_on = %(night)s
                    or (national_status_updated_at at time zone 'Asia/Shanghai')::date = %(night)s)))
),

lists as (
    select list_type_name as record_kind, list_membership_id as record_id,
           listing_document_number as document_number,
           {_MASKED.format(type='subject_type', name='subject_name')} as subject_name, uscc,
           case
               when verified_wrong_on = %(night)s then '撤销'
               when exited_on = %(night)s then '移出名单'
               else '有效期届满'
           end as removal_reason
    from marts.fct_list_membership
    where list_type in ('red', 'black') and not is_current and entered_on < %(night)s
      and (verified_wrong_on = %(night)s or exited_on = %(night)s or valid_until = %(night)s - 1)
)

select *, %(night)s::date as removed_on from penalties
union all
select *, %(night)s::date as removed_on from lists
order by record_kind, record_id
"""

#: Shijiazhuang's other administrative acts [004 (十五)] inside their kind's publicity period (seed
#: admin_act_kinds, the office's numbers): public on [decision date, publicity_ends_on).
ACTS = """
select act_id, act_kind_name, decision_document_name, decision_document_number, subject_name,
       subject_category, uscc, citizen_id_masked, act_content, act_basis, amount_10k_yuan, decision_on,
       publicity_ends_on - 1 as publicity_last_day, authority_name, source_department
from marts.fct_admin_act
where is_public and publicity_start_on <= %(night)s and %(night)s < publicity_ends_on
order by act_id
"""

#: Acts whose publicity period ended that night (公示期满), appended to the removals after the
#: penalties and list entries (by kind, then record).
ACT_REMOVALS = """
select act_kind_name as record_kind, act_id as record_id, decision_document_number as document_number,
       subject_name, uscc, '公示期满' as removal_reason, %(night)s::date as removed_on
from marts.fct_admin_act
where publicity_ends_on = %(night)s and publicity_start_on < %(night)s
order by act_kind_name, act_id
"""


def tables(conn: psycopg.Connection, logical_date: date) -> dict[str, list[dict]]:
    from psycopg.rows import dict_row

    params = {"night": logical_date}
    with conn.cursor(row_factory=dict_row) as cur:
        result = {name: cur.execute(query, params).fetchall()
                  for name, query in (("licences", LICENCES), ("penalties", PENALTIES), ("lists", LISTS),
                                      ("acts", ACTS), ("removals", REMOVALS))}
        result["removals"] += cur.execute(ACT_REMOVALS, params).fetchall()
        return result
