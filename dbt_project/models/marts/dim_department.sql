-- The departments (部门) records come from or are decided by [000 §2.3; rules §4]: every sender
-- in the departments seed, plus every deciding / accepting body the feeds name per row (行政许可
-- and 行政处罚 authorities and 数据来源单位, courts, tax bureaus, list-deciding departments,
-- commitment-accepting bodies, repair-handling departments,
-- interviewing and training departments). Grain: one row per department name;
-- department_id = md5(name) is the key the facts' *_department_id columns carry.
{%- set named = [
    {'source_id': 'admin_licence', 'model': 'stg_admin_licence__licences', 'night': 'reported_on',
     'columns': [('authority_name', 'authority_uscc'), ('source_department', 'source_department_uscc')]},
    {'source_id': 'admin_penalty', 'model': 'stg_admin_penalty__penalties', 'night': 'reported_on',
     'columns': [('authority_name', 'authority_uscc'), ('source_department', 'source_department_uscc')]},
    {'source_id': 'admin_act', 'model': 'stg_admin_act__acts', 'night': 'reported_on',
     'columns': [('authority_name', 'authority_uscc'), ('source_department', 'source_department_uscc')]},
    {'source_id': 'dept_ledgers', 'model': 'stg_dept_ledgers__decisions', 'night': 'received_on',
     'columns': [('authority_name', 'authority_uscc'), ('source_department', 'source_department_uscc')]},
    {'source_id': 'national_pushdown', 'model': 'stg_national_pushdown__decisions', 'night': 'pushed_on',
     'columns': [('authority_name', 'authority_uscc'), ('source_department', 'source_department_uscc')]},
    {'source_id': 'court_debtors', 'model': 'stg_court_debtors__listings', 'night': 'batch_logical_date',
     'columns': [('court_name', none)]},
    {'source_id': 'court_false_litigants', 'model': 'stg_court_false_litigants__listings',
     'night': 'batch_logical_date', 'columns': [('court_name', none)]},
    {'source_id': 'tax_a_level', 'model': 'stg_tax_a_level__taxpayers', 'night': 'batch_logical_date',
     'columns': [('tax_authority_name', none)]},
    {'source_id': 'tax_arrears', 'model': 'stg_tax_arrears__announcements', 'night': 'batch_logical_date',
     'columns': [('tax_authority_name', none)]},
    {'source_id': 'credit_lists', 'model': 'stg_credit_lists__entries', 'night': 'received_on',
     'columns': [('deciding_department', 'deciding_department_uscc')]},
    {'source_id': 'credit_interviews', 'model': 'stg_credit_interviews__records', 'night': 'reported_on',
     'columns': [('authority_name', 'authority_uscc'), ('source_department', 'source_department_uscc')]},
    {'source_id': 'credit_commitments', 'model': 'stg_credit_commitments__commitments',
     'night': 'batch_logical_date', 'columns': [('accepted_by', none)]},
    {'source_id': 'objections', 'model': 'stg_objections__applications', 'night': 'batch_logical_date',
     'columns': [('handled_by', none)]},
] %}
with

seeded as (
    select * from {{ ref('departments') }}
),

{% for feed in named %}
{{ feed.source_id }} as (
    {%- for name_column, uscc_column in feed.columns %}
    select
        {{ name_column }} as department_name,
        {% if uscc_column %}{{ uscc_column }}{% else %}null::text{% endif %} as department_uscc,
        '{{ feed.source_id }}'::text as source_id,
        {{ feed.night }} as seen_on
    from {{ ref(feed.model) }}
    where {{ name_column }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),
{% endfor %}

named as (
{%- for feed in named %}
    select * from {{ feed.source_id }}
    {%- if not loop.last %}
    union all
    {%- endif %}
{%- endfor %}
),

named_departments as (
    select
        department_name,
        -- The code the rows give most often (a valid one), for bodies the seed does not know.
        mode() within group (order by department_uscc) filter (where credit.is_valid_uscc(department_uscc))
            as department_uscc,
        array_agg(distinct source_id order by source_id) as source_ids,
        min(seen_on) as first_seen_on,
        max(seen_on) as last_seen_on
    from named
    group by department_name
),

final as (
    select
        md5(coalesce(seeded.department_name, named_departments.department_name)) as department_id,
        coalesce(seeded.department_name, named_departments.department_name) as department_name,
        seeded.department_code,
        coalesce(seeded.department_uscc, named_departments.department_uscc) as department_uscc,
        seeded.level as department_level,
        seeded.city_code,
        replace(seeded.feeds, '|', ',') as sent_feeds,
        array_to_string(named_departments.source_ids, ',') as named_in_feeds,
        seeded.department_code is not null as is_sender,
        named_departments.first_seen_on,
        named_departments.last_seen_on
    from seeded
    full outer join named_departments
        on named_departments.department_name = seeded.department_name
)

select * from final
