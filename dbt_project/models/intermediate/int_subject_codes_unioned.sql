-- Every (USCC, subject name) pair an accepted row of any feed carries for an organisation or an
-- individual business: the evidence subject resolution and the 重错码 check work on [000 §2.4].
-- One row per accepted staging row that names an organisation. Natural persons (keyed by ID, not
-- USCC) are left out; so are codes failing GB 32100, which the gates already quarantine or warn on.
--
-- department: who vouched for the pair, as the return notice would be addressed. Feeds with a
-- system connection have one sender, the catalog entry's `department`; file-drop feeds sent on
-- behalf of many bodies (dual publicity, utilities) name it per row (数据来源单位).
{%- set feeds = [
    {'source_id': 'market_registry', 'model': 'stg_market_registry__subjects',
     'name': 'subject_name', 'night': 'batch_logical_date', 'department': "'河北省市场监督管理局'"},
    {'source_id': 'admin_licence', 'model': 'stg_admin_licence__licences',
     'name': 'subject_name', 'night': 'reported_on',
     'department': "coalesce(source_department, authority_name, '各行政许可机关')",
     'where': "subject_type <> 'natural_person'"},
    {'source_id': 'admin_penalty', 'model': 'stg_admin_penalty__penalties',
     'name': 'subject_name', 'night': 'reported_on',
     'department': "coalesce(source_department, authority_name, '各行政处罚机关')",
     'where': "subject_type <> 'natural_person'"},
    {'source_id': 'admin_act', 'model': 'stg_admin_act__acts',
     'name': 'subject_name', 'night': 'reported_on',
     'department': "coalesce(source_department, authority_name, '石家庄市各行政机关')",
     'where': "subject_type <> 'natural_person'"},
    {'source_id': 'court_debtors', 'model': 'stg_court_debtors__listings',
     'name': 'subject_name', 'night': 'batch_logical_date', 'department': "'河北省高级人民法院'"},
    {'source_id': 'court_false_litigants', 'model': 'stg_court_false_litigants__listings',
     'name': 'subject_name', 'night': 'batch_logical_date', 'department': "'河北省高级人民法院'"},
    {'source_id': 'credit_commitments', 'model': 'stg_credit_commitments__commitments',
     'name': 'subject_name', 'night': 'batch_logical_date', 'department': "'河北省社会信用体系建设领导小组办公室'"},
    {'source_id': 'credit_interviews', 'model': 'stg_credit_interviews__records',
     'name': 'subject_name', 'night': 'reported_on',
     'department': "coalesce(source_department, authority_name, '各约谈、培训组织部门')",
     'where': "subject_type <> 'natural_person'"},
    {'source_id': 'credit_lists', 'model': 'stg_credit_lists__entries',
     'name': 'subject_name', 'night': 'received_on', 'department': "coalesce(deciding_department, '各名单认定部门')"},
    {'source_id': 'customs_certified', 'model': 'stg_customs_certified__certifications',
     'name': 'enterprise_name', 'night': 'reported_on', 'department': "'石家庄海关'"},
    {'source_id': 'dept_ledgers', 'model': 'stg_dept_ledgers__decisions',
     'name': 'subject_name', 'night': 'received_on',
     'department': "coalesce(source_department, authority_name, '各行政许可、行政处罚机关')",
     'where': "subject_type <> 'natural_person'"},
    {'source_id': 'housing_fund', 'model': 'stg_housing_fund__contributions',
     'name': 'subject_name', 'night': 'batch_logical_date',
     'department': "'河北省住房和城乡建设厅（住房公积金监管）'"},
    {'source_id': 'national_pushdown', 'model': 'stg_national_pushdown__decisions',
     'name': 'subject_name', 'night': 'pushed_on',
     'department': "coalesce(source_department, authority_name, '全国信用信息共享平台')",
     'where': "subject_type <> 'natural_person'"},
    {'source_id': 'objections', 'model': 'stg_objections__applications',
     'name': 'subject_name', 'night': 'batch_logical_date',
     'department': "'河北省政务服务管理办公室（信用中国（河北）网站）'"},
    {'source_id': 'social_insurance', 'model': 'stg_social_insurance__contributions',
     'name': 'subject_name', 'night': 'batch_logical_date', 'department': "'河北省人力资源和社会保障厅'"},
    {'source_id': 'tax_a_level', 'model': 'stg_tax_a_level__taxpayers',
     'name': 'subject_name', 'night': 'batch_logical_date', 'department': "'国家税务总局河北省税务局'"},
    {'source_id': 'tax_arrears', 'model': 'stg_tax_arrears__announcements',
     'name': 'subject_name', 'night': 'batch_logical_date', 'department': "'国家税务总局河北省税务局'"},
    {'source_id': 'utility_gas', 'model': 'stg_utility_gas__bills',
     'name': 'customer_name', 'night': 'reported_on', 'department': "coalesce(utility_company, '各供气企业')"},
    {'source_id': 'utility_power', 'model': 'stg_utility_power__bills',
     'name': 'customer_name', 'night': 'reported_on', 'department': "coalesce(utility_company, '各供电企业')"},
    {'source_id': 'utility_water', 'model': 'stg_utility_water__bills',
     'name': 'customer_name', 'night': 'reported_on', 'department': "coalesce(utility_company, '各供水企业')"},
    {'source_id': 'voluntary_registration', 'model': 'stg_voluntary_registration__declarations',
     'name': 'subject_name', 'night': 'batch_logical_date',
     'department': "'石家庄市政务服务管理办公室（信用中国（河北石家庄）网站）'"},
] %}

with

{% for feed in feeds %}
{{ feed.source_id }} as (
    select
        uscc,
        {{ feed.name }} as subject_name,
        '{{ feed.source_id }}'::text as source_id,
        {{ feed.department }}::text as department,
        {{ feed.night }} as batch_logical_date,
        batch_id,
        source_row_number
    from {{ ref(feed.model) }}
    {%- if feed.where %}
    where {{ feed.where }}
    {%- endif %}
),
{% endfor %}

unioned as (
{%- for feed in feeds %}
    select * from {{ feed.source_id }}
    {%- if not loop.last %}
    union all
    {%- endif %}
{%- endfor %}
),

final as (
    select
        uscc,
        subject_name,
        source_id,
        department,
        batch_logical_date,
        batch_id,
        source_row_number
    from unioned
    where uscc is not null
        and subject_name is not null
        and credit.is_valid_uscc(uscc)
)

select * from final
