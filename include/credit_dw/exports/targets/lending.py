"""信易贷 (`lending`): per-enterprise credit indicators for the credit-lending platform and its banks.

Organisations only (`subject_type = 'organisation'` in the marts: 法人和非法人组织 by USCC). An
individual business (个体工商户, a 92… code) is a subject of its own type in the marts
(`individual_business`), run by a natural person under his or her own name and ID, so it is left
out, as are natural persons; docs/exports.md says so.

One row per organisation of `prf_subject_credit_profile`, a full snapshot each night, read from the
states the marts compute once (never re-derived here):

- grade: `prf_subject_credit_grade` (A-D and the score);
- tax: the A-level rating of the latest year rated and the current arrears (profile, from
  `fct_tax_status`);
- social insurance and housing fund: arrears (profile) and the latest month's state
  (`fct_social_insurance`, `fct_housing_fund`, as the profile filters them for the night);
- utilities: arrears (profile) and payment regularity over the 12 billing months up to the night
  (`fct_utility_payment`: utility-months billed, those with nothing owed at month end, their share);
- dishonest judgment debtor and list status with the punishment state the facts compute
  (profile: `is_*_punishment_in_force`; a listing under objection is listed but its punishment
  suspended, 暂停（异议核实中）).

Rows are ordered by subject (the USCC), so a rerun of the night yields the same bytes.
"""

from __future__ import annotations

from datetime import date

import psycopg

_YES_NO = "case when {flag} then '是' else '否' end"
#: A listing's punishment as the profile computes it: listed and in force, or listed but suspended
#: while an objection is verified (信息核实期间暂不执行联合惩戒措施), or not listed.
_PUNISHMENT = """case when not coalesce({listed}, false) then '无'
                      when {in_force} then '执行中'
                      else '暂停（异议核实中）' end"""

ENTERPRISES = f"""
with utility_months as (
    select subject_id,
           count(*)::integer as utility_months,
           (count(*) filter (where not is_in_arrears))::integer as utility_months_clear,
           max(overdue_months) filter (where billing_month = latest_month) as utility_overdue_months
    from (
        select *, max(billing_month) over (partition by subject_id) as latest_month
        from marts.fct_utility_payment
        where billing_month <= %(night)s and billing_month > (%(night)s - interval '12 months')::date
          and first_reported_on <= %(night)s
    ) as recent
    group by subject_id
),

social_insurance_latest as (
    select distinct on (subject_id) subject_id, contribution_month, insured_headcount, is_in_arrears
    from marts.fct_social_insurance
    where contribution_month <= %(night)s and first_reported_on <= %(night)s
    order by subject_id, contribution_month desc
),

housing_fund_latest as (
    select distinct on (subject_id) subject_id, contribution_month, contribution_status, contributor_count
    from marts.fct_housing_fund
    where contribution_month <= %(night)s and first_reported_on <= %(night)s
    order by subject_id, contribution_month desc, housing_fund_id desc
)

select
    profile.uscc,
    profile.subject_name,
    profile.jurisdiction_code,
    profile.registration_status,
    grade.credit_grade,
    grade.score,
    {_YES_NO.format(flag='profile.has_dishonesty_in_force')} as dishonesty_in_force,
    {_YES_NO.format(flag='profile.is_tax_a_level')} as tax_a_level,
    profile.latest_tax_a_level_year,
    {_YES_NO.format(flag='profile.has_tax_arrears')} as tax_arrears,
    profile.tax_arrears_amount,
    to_char(si.contribution_month, 'YYYY-MM') as social_insurance_month,
    si.insured_headcount,
    {_YES_NO.format(flag='profile.has_social_insurance_arrears')} as social_insurance_arrears,
    profile.social_insurance_arrears_amount,
    to_char(hf.contribution_month, 'YYYY-MM') as housing_fund_month,
    case hf.contribution_status
        when 'paying' then '正常缴存' when 'deferred' then '缓缴' when 'in_arrears' then '欠缴'
        when 'suspended' then '封存'
    end as housing_fund_status,
    hf.contributor_count as housing_fund_contributors,
    {_YES_NO.format(flag='profile.has_housing_fund_arrears')} as housing_fund_arrears,
    profile.housing_fund_months_in_arrears,
    coalesce(utility.utility_months, 0) as utility_months,
    coalesce(utility.utility_months_clear, 0) as utility_months_clear,
    round(utility.utility_months_clear::numeric / nullif(utility.utility_months, 0), 4) as utility_clear_share,
    {_YES_NO.format(flag='profile.has_utility_arrears')} as utility_arrears,
    profile.utility_arrears_amount,
    utility.utility_overdue_months,
    {_YES_NO.format(flag='profile.is_court_debtor')} as court_debtor,
    profile.current_court_debtor_case_count,
    {_PUNISHMENT.format(listed='profile.is_court_debtor', in_force='profile.is_court_debtor_punishment_in_force')}
        as court_debtor_punishment,
    {_YES_NO.format(flag='profile.is_on_red_list')} as red_list,
    {_YES_NO.format(flag='profile.is_on_black_list')} as black_list,
    {_PUNISHMENT.format(listed='profile.is_on_black_list', in_force='profile.is_black_list_punishment_in_force')}
        as black_list_punishment,
    {_YES_NO.format(flag='profile.is_on_key_attention_list')} as key_attention_list,
    {_PUNISHMENT.format(listed='profile.is_on_key_attention_list',
                        in_force='profile.is_key_attention_punishment_in_force')} as key_attention_punishment,
    profile.penalty_in_force_count,
    profile.as_of_on
from marts.prf_subject_credit_profile as profile
inner join marts.prf_subject_credit_grade as grade
    on grade.subject_id = profile.subject_id
left join utility_months as utility
    on utility.subject_id = profile.subject_id
left join social_insurance_latest as si
    on si.subject_id = profile.subject_id
left join housing_fund_latest as hf
    on hf.subject_id = profile.subject_id
where profile.subject_type = 'organisation'
order by profile.subject_id
"""


def queries(logical_date: date) -> dict[str, tuple[str, dict]]:
    """The file's query and parameters: the export cuts it on the server (one COPY, the Python
    writer's very bytes: `writer.server_cut`)."""
    return {"enterprises": (ENTERPRISES, {"night": logical_date})}


def tables(conn: psycopg.Connection, logical_date: date) -> dict[str, list[dict]]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return {name: cur.execute(query, params).fetchall() for name, (query, params) in queries(logical_date).items()}
