-- The credit grade of every subject, A (best) to D, from a transparent score [002 #12]: the rules
-- are the seed credit_grade_weights, which the credit office changes without code
-- (docs/credit_grade.md). The grade sets the share of "double random, one public" inspections:
-- A lower, B normal, C and D higher [000 §2.10; 004 §7].
--   score = the base row's points
--         + each flag rule's points when its profile signal is true
--         + each per_record rule's points times the records its signal counts, held to max_points;
--   grade = the threshold row with the highest points not above the score (the row without points
--           is the floor), lowered by any cap rule whose signal is true (a black-listed subject is
--           D whatever else it has).
-- Explanation columns name every rule that moved the score, biggest effect first, and any cap;
-- the *_points columns split the score's moves by credit domain (the seed's domain column), the
-- per-domain view the province's evaluation asks for [000 §2.10; 002 #12]. The province's common
-- enterprise credit-risk model is not public: this is the office's interim model, as data.
-- Self-declared information (自愿注册 [004 (五)]) has its own domain (self_declared_points), so a
-- reader sees what the subject's own declarations moved, apart from any department's record.
-- The seed's punitive rules read the punishment state (the *_punishment_in_force flags,
-- penalty_in_force_count): while an objection against a listing or penalty is verified its
-- points and cap are suspended (信息核实期间暂不执行联合惩戒措施 [001 2017 §5.3; 001 2018 plan §4.9]).
{%- set domains = [
    ('lists', 'list_points'), ('judicial', 'judicial_points'), ('administrative', 'administrative_points'),
    ('tax', 'tax_points'), ('social_security', 'social_security_points'), ('utilities', 'utility_points'),
    ('commitments', 'commitment_points'), ('customs', 'customs_points'), ('self_declared', 'self_declared_points'),
] %}
-- Grain: one row per subject (every row of prf_subject_credit_profile), as of the profile's date.
with

profiles as (
    select * from {{ ref('prf_subject_credit_profile') }}
),

rules as (
    select * from {{ ref('credit_grade_weights') }}
),

-- The profile signals a rule may read, one row per subject and signal: booleans as 1 / 0.
signals as (
    select
        profiles.subject_id,
        signal_values.signal,
        signal_values.signal_value
    from profiles
    cross join lateral (
        values
            ('is_black_list_punishment_in_force', profiles.is_black_list_punishment_in_force::integer),
            ('is_court_debtor_punishment_in_force', profiles.is_court_debtor_punishment_in_force::integer),
            ('is_key_attention_punishment_in_force', profiles.is_key_attention_punishment_in_force::integer),
            ('penalty_in_force_count', profiles.penalty_in_force_count),
            ('is_on_black_list', profiles.is_on_black_list::integer),
            ('is_court_debtor', profiles.is_court_debtor::integer),
            ('linked_serious_dishonesty', profiles.linked_serious_dishonesty::integer),
            ('is_on_key_attention_list', profiles.is_on_key_attention_list::integer),
            ('public_penalty_count', profiles.public_penalty_count),
            ('archived_penalty_count', profiles.archived_penalty_count),
            ('has_tax_arrears', profiles.has_tax_arrears::integer),
            ('has_social_insurance_arrears', profiles.has_social_insurance_arrears::integer),
            ('has_housing_fund_arrears', profiles.has_housing_fund_arrears::integer),
            ('has_utility_arrears', profiles.has_utility_arrears::integer),
            ('breached_commitment_count', profiles.breached_commitment_count),
            ('is_on_red_list', profiles.is_on_red_list::integer),
            ('is_tax_a_level', profiles.is_tax_a_level::integer),
            ('is_customs_advanced_certified', profiles.is_customs_advanced_certified::integer),
            ('fulfilled_commitment_count', profiles.fulfilled_commitment_count),
            ('self_declared_verified_count', profiles.self_declared_verified_count),
            ('self_declared_disproved_count', profiles.self_declared_disproved_count),
            ('open_objection_count', profiles.open_objection_count),
            ('is_green_channel_eligible', profiles.is_green_channel_eligible::integer)
    ) as signal_values (signal, signal_value)
),

base as (
    select coalesce(sum(points), 0) as base_points from rules where rule_kind = 'base'
),

contributions as (
    select
        signals.subject_id,
        rules.rule_id,
        rules.domain,
        signals.signal_value,
        case rules.rule_kind
            when 'flag' then rules.points
            -- Per record, the total held to max_points in the rule's direction.
            when 'per_record' then
                case
                    when rules.max_points is null then rules.points * signals.signal_value
                    when rules.points < 0 then greatest(rules.points * signals.signal_value, rules.max_points)
                    else least(rules.points * signals.signal_value, rules.max_points)
                end
        end as points
    from signals
    inner join rules
        on rules.signal = signals.signal
        and rules.rule_kind in ('flag', 'per_record')
    where signals.signal_value > 0
),

caps as (
    select
        signals.subject_id,
        max(rules.grade) as cap_grade,
        string_agg(rules.rule_id, ', ' order by rules.grade desc, rules.rule_id asc) as cap_rule_ids
    from signals
    inner join rules
        on rules.signal = signals.signal
        and rules.rule_kind = 'cap'
    where signals.signal_value > 0
    group by signals.subject_id
),

scored as (
    select
        profiles.subject_id,
        profiles.subject_type,
        profiles.as_of_on,
        (base.base_points + coalesce(sum(contributions.points), 0))::numeric(9, 2) as score,
        coalesce(sum(contributions.points) filter (where contributions.points > 0), 0)::numeric(9, 2)
            as positive_points,
        coalesce(sum(contributions.points) filter (where contributions.points < 0), 0)::numeric(9, 2)
            as negative_points,
        {%- for domain, column in domains %}
        coalesce(sum(contributions.points) filter (where contributions.domain = '{{ domain }}'), 0)::numeric(9, 2)
            as {{ column }},
        {%- endfor %}
        'base ' || trim_scale(base.base_points)::text || coalesce('; ' || string_agg(
            contributions.rule_id
            || case when contributions.signal_value > 1 then ' x' || contributions.signal_value else '' end
            || ' ' || case when contributions.points > 0 then '+' else '' end
            || trim_scale(contributions.points)::text,
            '; ' order by abs(contributions.points) desc, contributions.rule_id
        ), '') as score_factors,
        (array_agg(contributions.rule_id order by contributions.points asc, contributions.rule_id asc)
            filter (where contributions.points < 0))[1] as top_negative_rule_id,
        (array_agg(contributions.rule_id order by contributions.points desc, contributions.rule_id asc)
            filter (where contributions.points > 0))[1] as top_positive_rule_id
    from profiles
    cross join base
    left join contributions
        on contributions.subject_id = profiles.subject_id
        and contributions.points <> 0
    group by profiles.subject_id, profiles.subject_type, profiles.as_of_on, base.base_points
),

thresholds as (
    select * from rules where rule_kind = 'threshold'
),

graded as (
    select
        scored.*,
        score_grade.grade as score_grade,
        caps.cap_grade,
        caps.cap_rule_ids
    from scored
    cross join lateral (
        select thresholds.grade
        from thresholds
        where thresholds.points is null or scored.score >= thresholds.points
        order by thresholds.points desc nulls last
        limit 1
    ) as score_grade
    left join caps
        on caps.subject_id = scored.subject_id
),

final as (
    select
        graded.subject_id,
        graded.subject_type,
        greatest(graded.score_grade, graded.cap_grade) as credit_grade,
        graded.score,
        graded.score_grade,
        graded.cap_grade,
        graded.cap_rule_ids,
        graded.positive_points,
        graded.negative_points,
        {%- for domain, column in domains %}
        graded.{{ column }},
        {%- endfor %}
        graded.score_factors,
        graded.top_negative_rule_id,
        graded.top_positive_rule_id,
        grade_rule.inspection_frequency,
        graded.as_of_on
    from graded
    left join thresholds as grade_rule
        on grade_rule.grade = greatest(graded.score_grade, graded.cap_grade)
)

select * from final
