{% snapshot credit_archive %}
{#- The credit archive (信用档案的历史) of every subject: its profile and grade as each night built
    them, as SCD2 rows, so a subject can be read "as of" any past night [002 #9; rules §7]:
        select * from archive.credit_archive
        where subject_id = … and dbt_valid_from <= :day and (dbt_valid_to > :day or dbt_valid_to is null)
    Validity follows the nights built (the profile's as_of_on), not the wall clock: the timestamp
    strategy reads profile_changed_at, the night whose build first gave the subject its current
    content. A night that changes nothing about a subject keeps its archived profile_changed_at,
    so no new version is written; rerunning a night (or an earlier one) writes nothing either,
    because its timestamp is not newer than the archived one.
    Grain: one row per subject and version of its profile and grade. -#}
{{
    config(
        schema='archive',
        unique_key='subject_id',
        strategy='timestamp',
        updated_at='profile_changed_at',
    )
}}
{%- set archived = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) %}
with

profiles as (
    select * from {{ ref('prf_subject_credit_profile') }}
),

grades as (
    select * from {{ ref('prf_subject_credit_grade') }}
),

built as (
    select
        profiles.*,
        grades.credit_grade,
        grades.score,
        grades.score_grade,
        grades.cap_grade,
        grades.cap_rule_ids,
        grades.positive_points,
        grades.negative_points,
        grades.list_points,
        grades.judicial_points,
        grades.administrative_points,
        grades.tax_points,
        grades.social_security_points,
        grades.utility_points,
        grades.commitment_points,
        grades.customs_points,
        grades.self_declared_points,
        grades.score_factors,
        grades.top_negative_rule_id,
        grades.top_positive_rule_id,
        grades.inspection_frequency,
        -- What the version holds, without the date it was evaluated for.
        md5((
            (to_jsonb(profiles) - 'as_of_on')
            || (to_jsonb(grades) - 'as_of_on' - 'subject_id' - 'subject_type')
        )::text) as content_hash
    from profiles
    inner join grades
        on grades.subject_id = profiles.subject_id
),

{% if archived is not none %}
current_versions as (
    select subject_id, content_hash, profile_changed_at
    from {{ archived }}
    where dbt_valid_to is null
),
{% endif %}

final as (
    select
        built.*,
        {%- if archived is not none %}
        case
            when current_versions.content_hash = built.content_hash
                then current_versions.profile_changed_at
            else built.as_of_on::timestamp
        end as profile_changed_at
        {%- else %}
        built.as_of_on::timestamp as profile_changed_at
        {%- endif %}
    from built
    {%- if archived is not none %}
    left join current_versions
        on current_versions.subject_id = built.subject_id
    {%- endif %}
)

select * from final
{% endsnapshot %}
