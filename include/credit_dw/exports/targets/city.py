"""City platforms (`city/<code>`): everything the warehouse holds about the subjects of one
jurisdiction, pushed back by locality (属地回推 [000 §2.4]), for the 11 cities, 定州, 辛集 and
雄安新区, and for the province itself (130000).

A subject belongs to the jurisdiction `dim_subject.jurisdiction_code` names (the registering
authority's division, else the division in its code or ID, mapped to its reporting unit by the
reference seed hebei_divisions). The jurisdictions are the current reporting units of
`dim_jurisdiction` below the province; `city/130000` receives every subject reporting to none of
them: province-level registrations and subjects whose division is unknown or outside Hebei, and
the records of a subject the marts do not know. So every subject and record is delivered exactly
once across the 15 directories.

Files, each a full snapshot of the night ordered by key, each row with its 属地代码 (the subject's
jurisdiction code as the marts carry it) and 区县代码 / 区县名称 (the county-level division the
jurisdiction was taken from; empty when the subject is registered at city level, 市本级, or its
division is unknown), so a county split is a filter:

- subjects: the basic registration facts (`dim_subject`);
- licences: every licence decided by the night (`fct_admin_licence`), 国家推送 是 when the national
  platform pushed it down (逆向推送: `source_ids` holds national_pushdown);
- penalties: every penalty decided by the night with its publicity state, national status and
  punishment state as `fct_admin_penalty` computes them, and the national platform's result where
  one came down (国家修复: repaired nationally; 国家撤销: withdrawn nationally);
- lists: every red, black and key-attention entry (`fct_list_membership`), current or not;
- debtors: every dishonest judgment debtor listing (`fct_court_debtor`), current or not;
- acts: Shijiazhuang's other administrative acts [004 (十五)] (`fct_admin_act`), public or archived,
  with the last public day of their kind's period: by the subject's locality like every other file,
  so 130100 receives the acts about Shijiazhuang's subjects (the city's own departments decide
  them, about any subject: one about a subject of another city goes to that city).

Natural persons as on the publicity website: names masked to the first character (张**), IDs
masked (first 6 + ******** + last 4), never the subject hash; the legal representative's name is
masked too.
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
_PERSON_MASKED = """case when {name} is not null
                         then left({name}, 1) || repeat('*', greatest(char_length({name}) - 1, 1)) end"""
_YES_NO = "case when {flag} then '是' else '否' end"
#: Where the province's records go when no city holds the subject.
PROVINCE = "130000"

#: Every subject with the jurisdiction it is delivered to and the county-level division its
#: jurisdiction came from (consistent with it: a county of the same reporting unit).
_PLACED = """
with units as (
    select division_code from marts.dim_jurisdiction
    where is_reporting_unit and division_level <> 'province'
),

placed as (
    select subject.*,
           case when subject.jurisdiction_code in (select division_code from units)
                then subject.jurisdiction_code else %(province)s end as delivered_to,
           county.division_code as county_code,
           county.division_name as county_name
    from marts.dim_subject as subject
    left join marts.dim_jurisdiction as county
        on county.division_code = coalesce(subject.registration_division_code, subject.division_code)
        and county.division_level = 'county'
        and county.reporting_unit_code = subject.jurisdiction_code
)
"""

SUBJECTS = _PLACED + f"""
select {_CATEGORY.format(col='subject_type')} as subject_category, uscc,
       {_MASKED.format(type='subject_type', name='subject_name')} as subject_name,
       citizen_id_masked,
       {_PERSON_MASKED.format(name='legal_representative')} as legal_representative,
       registration_division_code, jurisdiction_code, county_code, county_name, registered_on,
       registration_status, {_YES_NO.format(flag='is_registered')} as registered,
       last_changed_on, source_ids
from placed
where delivered_to = %(code)s
order by subject_id
"""


def _facts(select: str, fact: str, key: str) -> str:
    """A fact's rows of the jurisdiction: a record whose subject the marts do not know goes to 130000."""
    return _PLACED + f"""
select {select},
       placed.jurisdiction_code, placed.county_code, placed.county_name
from marts.{fact} as fact
left join placed
    on placed.subject_id = fact.subject_id
where coalesce(placed.delivered_to, %(province)s) = %(code)s
order by fact.{key}
"""


LICENCES = _facts(f"""
       fact.licence_id, fact.decision_document_number,
       {_MASKED.format(type='fact.subject_type', name='fact.subject_name')} as subject_name,
       {_CATEGORY.format(col='fact.subject_type')} as subject_category,
       fact.uscc, fact.citizen_id_masked, fact.licence_category, fact.licence_certificate_name,
       fact.licence_number, fact.licence_content, fact.decision_on, fact.valid_from, fact.valid_to,
       {_YES_NO.format(flag='fact.is_valid')} as valid,
       fact.authority_name, fact.source_department,
       {_YES_NO.format(flag="'national_pushdown' = any(string_to_array(fact.source_ids, ','))")} as from_national,
       fact.source_ids""", "fct_admin_licence", "licence_id")

PENALTIES = _facts(f"""
       fact.penalty_id, fact.decision_document_number,
       {_MASKED.format(type='fact.subject_type', name='fact.subject_name')} as subject_name,
       {_CATEGORY.format(col='fact.subject_type')} as subject_category,
       fact.uscc, fact.penalty_category, fact.violation_type, fact.penalty_basis, fact.authority_name,
       fact.publicity_start_on, fact.latest_end_on - 1 as publicity_last_day,
       case fact.publicity_status
           when 'public' then '公示中' when 'public_under_objection' then '公示中（异议）'
           when 'expired_archived' then '公示期满' when 'repaired' then '已修复' when 'revoked' then '已撤销'
           when 'corrected' then '已更正' when 'not_published' then '不予公示'
       end as publicity_status_name,
       fact.national_status_code,
       case fact.punishment_state
           when 'in_force' then '执行中' when 'suspended_by_objection' then '暂停（异议核实中）'
           when 'ended_by_revocation' then '终止（撤销）' when 'ended_by_repair' then '终止（修复）'
           when 'ended_by_period' then '终止（期满）'
       end as punishment_state_name,
       fact.repaired_on,
       case
           when fact.repair_source = 'national' then '国家修复'
           when fact.publicity_status = 'revoked' and fact.verified_wrong_on is null then '国家撤销'
       end as national_result""", "fct_admin_penalty", "penalty_id")

_LISTING_PUNISHMENT = """case fact.punishment_state
           when 'in_force' then '执行中' when 'suspended_by_objection' then '暂停（异议核实中）'
           when 'ended_by_revocation' then '终止（撤销）' when 'ended_by_exit' then '终止（移出）'
           when 'ended_by_period' then '终止（期满）' when 'not_yet_in_force' then '未生效'
       end"""

LISTS = _facts(f"""
       fact.list_membership_id, fact.list_type_name, fact.list_name,
       {_MASKED.format(type='fact.subject_type', name='fact.subject_name')} as subject_name,
       {_CATEGORY.format(col='fact.subject_type')} as subject_category,
       fact.uscc, fact.listing_reason, fact.listing_basis, fact.listing_document_number,
       fact.deciding_department, fact.entered_on, fact.valid_until, fact.exited_on, fact.exit_reason,
       {_YES_NO.format(flag='fact.is_current')} as current,
       case when fact.open_objection_count > 0 then '异议' else '正常' end as status_name,
       {_LISTING_PUNISHMENT} as punishment_state_name""", "fct_list_membership", "list_membership_id")

DEBTORS = _facts(f"""
       fact.court_debtor_id, fact.case_number,
       {_MASKED.format(type='fact.subject_type', name='fact.subject_name')} as subject_name,
       {_CATEGORY.format(col='fact.subject_type')} as subject_category,
       fact.uscc, fact.citizen_id_masked, fact.court_name, fact.filed_on, fact.basis_document_number,
       fact.performance_status, fact.dishonest_conduct, fact.listed_on, fact.removed_on,
       {_YES_NO.format(flag='fact.is_current')} as current,
       case when fact.open_objection_count > 0 then '异议' else '正常' end as status_name,
       {_LISTING_PUNISHMENT} as punishment_state_name""", "fct_court_debtor", "court_debtor_id")

#: Shijiazhuang's other administrative acts [004 (十五)] about the jurisdiction's subjects, public or
#: archived, with their kind's publicity period (seed admin_act_kinds) and state.
ACTS = _facts("""
       fact.act_id, fact.act_kind_name, fact.decision_document_name, fact.decision_document_number,
       fact.subject_name, fact.subject_category, fact.uscc, fact.citizen_id_masked, fact.act_content,
       fact.act_basis, fact.amount_10k_yuan, fact.decision_on, fact.publicity_ends_on - 1 as publicity_last_day,
       case fact.publicity_status when 'public' then '公示中' when 'expired_archived' then '公示期满' end
           as publicity_status_name,
       fact.authority_name, fact.source_department""", "fct_admin_act", "act_id")


def tables(conn: psycopg.Connection, logical_date: date, code: str) -> dict[str, list[dict]]:
    """The delivery of jurisdiction `code` for the night (the marts hold the night's state: run.py
    checks `as_of_on`)."""
    from psycopg.rows import dict_row

    params = {"code": code, "province": PROVINCE, "night": logical_date}
    with conn.cursor(row_factory=dict_row) as cur:
        return {name: cur.execute(query, params).fetchall()
                for name, query in (("subjects", SUBJECTS), ("licences", LICENCES), ("penalties", PENALTIES),
                                    ("lists", LISTS), ("debtors", DEBTORS), ("acts", ACTS))}
