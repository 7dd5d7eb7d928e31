-- The scoring seed must make a grade for every score: one base row with points, one threshold
-- row per grade A-D with exactly one (the floor) without points, and flag / per_record / cap rows
-- naming a signal and a domain. Returns a row per problem (seeds/_credit_grade.yml).
with

rules as (
    select * from {{ ref('credit_grade_weights') }}
),

problems as (
    select 'base rows: ' || count(*) as problem
    from rules where rule_kind = 'base' and points is not null
    having count(*) <> 1
    union all
    select 'threshold rows without points (floors): ' || count(*)
    from rules where rule_kind = 'threshold' and points is null
    having count(*) <> 1
    union all
    select 'threshold grades: ' || coalesce(string_agg(grade, ',' order by grade), 'none')
    from rules where rule_kind = 'threshold'
    having coalesce(string_agg(grade, ',' order by grade), '') <> 'A,B,C,D'
    union all
    select 'threshold without inspection_frequency: ' || rule_id
    from rules where rule_kind = 'threshold' and inspection_frequency is null
    union all
    select rule_kind || ' rule without signal or points: ' || rule_id
    from rules
    where (rule_kind in ('flag', 'per_record', 'cap') and signal is null)
        or (rule_kind in ('flag', 'per_record') and points is null)
        or (rule_kind = 'cap' and grade is null)
    union all
    select rule_kind || ' rule without a domain: ' || rule_id
    from rules
    where rule_kind in ('flag', 'per_record', 'cap') and domain is null
)

select * from problems
