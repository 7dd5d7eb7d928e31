-- One row per administrative penalty decision (决定书文号 + subject) with its publicity window:
-- public from the decision date for at least min_months and at most max_months, by the rule of
-- the publicity_rules seed in force on the decision date [000 §2.12] (docs/record_lifecycle.md):
-- - decided from 2026-04-01 (NDRC Order 36 of 2025, 《信用修复管理办法》): the class rule of the
--   decision's severity class (minor 0-3 months, ordinary 3-12, serious 12-36). The class is the
--   department's own severity where its file carries one (a 失信行为严重程度 / 严重程度 column,
--   kept in extra_columns), else the most severe class of the penalty_severity_rules seed's kind
--   and amount rules that match, else that seed's default. A minor record is published only when
--   the department chose to (it sends a 公示截止期 after the decision date), then until the
--   earlier of that date and the class maximum; otherwise its window is empty (not published).
-- - decided before (NDRC Order 58 of 2023): every matching penalty_kind and domain rule applies
--   (several kinds in one decision: the longest period wins); the default rule only when no
--   penalty_kind rule matched.
-- A decision delivered on several nights counts once: its latest delivery.
-- National results: the national push-down's repair (已修复) and withdrawal (已撤销) results for the
-- decision, matched by document number (bracket-insensitive) and the subject's USCC, with the
-- night each first came down; fct_admin_penalty applies them from that night ("实现与国家修复结果
-- 及时更新" [000 §2.12]).
with

penalties as (
    select * from {{ ref('stg_admin_penalty__penalties') }}
),

rules as (
    select * from {{ ref('publicity_rules') }}
),

severity_rules as (
    select * from {{ ref('penalty_severity_rules') }}
),

national as (
    select * from {{ ref('stg_national_pushdown__decisions') }}
),

keyed as (
    select
        penalties.*,
        -- The subject of the decision: its USCC, else (natural persons) the ID number, else the name.
        coalesce(penalties.uscc, penalties.id_number, penalties.subject_name) as subject_key,
        credit.clean_text(coalesce(
            penalties.extra_columns::jsonb ->> '失信行为严重程度',
            penalties.extra_columns::jsonb ->> '严重程度'
        )) as department_severity
    from penalties
),

ranked as (
    {{ rank_deliveries(
        'keyed',
        ['decision_document_number', 'subject_key'],
        'reported_on desc, batch_id desc, source_row_number desc'
    ) }}
),

decisions as (
    select
        md5(decision_document_number || '|' || subject_key) as penalty_id,
        ranked.*
    from ranked
    where recency = 1
),

national_results as (
    select
        decisions.penalty_id,
        min(national.pushed_on) filter (where national.national_record_status = 'repaired')
            as national_repair_pushed_on,
        min(coalesce(national.status_changed_on, national.pushed_on))
            filter (where national.national_record_status = 'repaired') as national_repaired_on,
        min(national.pushed_on) filter (where national.national_record_status = 'withdrawn')
            as national_withdrawal_pushed_on,
        min(coalesce(national.status_changed_on, national.pushed_on))
            filter (where national.national_record_status = 'withdrawn') as national_withdrawn_on
    from decisions
    inner join national
        on national.decision_kind = 'penalty'
        and {{ document_key('national.decision_document_number') }}
            = {{ document_key('decisions.decision_document_number') }}
        and (decisions.uscc is null or national.uscc = decisions.uscc)
    where national.national_record_status in ('repaired', 'withdrawn')
    group by decisions.penalty_id
),

-- Severity class (Order 36) -----------------------------------------------------------------

severity_matches as (
    select
        decisions.penalty_id,
        severity_rules.rule_id,
        severity_rules.rule_kind,
        severity_rules.severity_class,
        case severity_rules.severity_class when 'minor' then 1 when 'ordinary' then 2 when 'serious' then 3 end
            as class_rank
    from decisions
    inner join severity_rules
        on severity_rules.rule_kind in ('department', 'kind', 'amount')
        and (
            case severity_rules.match_field
                when 'department_severity' then decisions.department_severity
                when 'penalty_category' then decisions.penalty_category
                when 'penalty_content' then decisions.penalty_content
                when 'violation_type' then decisions.violation_type
            end
        ) ~ severity_rules.match_pattern
        and (
            severity_rules.subject_types is null
            or decisions.subject_type ~ ('^(' || severity_rules.subject_types || ')$')
        )
        and (
            severity_rules.rule_kind <> 'amount'
            or (
                decisions.fine_amount_10k_yuan is not null
                and (
                    severity_rules.min_fine_10k_yuan is null
                    or severity_rules.min_fine_10k_yuan < decisions.fine_amount_10k_yuan
                )
                and (
                    severity_rules.max_fine_10k_yuan is null
                    or severity_rules.max_fine_10k_yuan >= decisions.fine_amount_10k_yuan
                )
            )
        )
),

-- The department's own severity wins; else the most severe kind or amount rule.
severity_ranked as (
    select
        severity_matches.*,
        (rule_kind = 'department') as is_department,
        row_number() over (
            partition by penalty_id
            order by (rule_kind = 'department') desc, class_rank desc, rule_id asc
        ) as precedence
    from severity_matches
),

severities as (
    select
        decisions.penalty_id,
        coalesce(severity_ranked.severity_class, default_severity.severity_class) as severity_class,
        case
            when severity_ranked.is_department then 'department'
            when severity_ranked.penalty_id is not null then 'rules'
            else 'default'
        end as severity_source,
        coalesce(
            (
                select string_agg(m.rule_id, ',' order by m.rule_id)
                from severity_ranked as m
                where m.penalty_id = decisions.penalty_id
                    and m.is_department = severity_ranked.is_department
                    and m.severity_class = severity_ranked.severity_class
            ),
            default_severity.rule_id
        ) as severity_rule_ids
    from decisions
    left join severity_ranked
        on severity_ranked.penalty_id = decisions.penalty_id
        and severity_ranked.precedence = 1
    left join severity_rules as default_severity
        on default_severity.rule_kind = 'default'
),

-- Periods: the class rule in force on the decision date (Order 36) -----------------------------

class_periods as (
    select
        decisions.penalty_id,
        rules.rule_id as applied_rule_ids,
        rules.min_months as min_publicity_months,
        rules.max_months as max_publicity_months,
        true as is_class_rule
    from decisions
    inner join severities
        on severities.penalty_id = decisions.penalty_id
    inner join rules
        on rules.rule_kind = 'class'
        and rules.severity_class = severities.severity_class
        and (rules.valid_from is null or rules.valid_from <= decisions.decision_date)
        and (rules.valid_to is null or rules.valid_to >= decisions.decision_date)
),

-- ... else the kind / domain rules in force on the decision date (Order 58) --------------------

rules_in_force as (
    select
        decisions.penalty_id,
        rules.*
    from decisions
    inner join rules
        on rules.rule_kind in ('penalty_kind', 'domain', 'default')
        and (rules.valid_from is null or rules.valid_from <= decisions.decision_date)
        and (rules.valid_to is null or rules.valid_to >= decisions.decision_date)
    where not exists (select 1 from class_periods where class_periods.penalty_id = decisions.penalty_id)
),

kind_and_domain_matches as (
    select
        decisions.penalty_id,
        rules.rule_id,
        rules.rule_kind,
        rules.min_months,
        rules.max_months
    from decisions
    inner join rules_in_force as rules
        on rules.penalty_id = decisions.penalty_id
        and rules.rule_kind in ('penalty_kind', 'domain')
        and (
            case rules.match_field
                when 'penalty_category' then decisions.penalty_category
                when 'violation_type' then decisions.violation_type
                when 'penalty_basis' then decisions.penalty_basis
                when 'authority_name' then decisions.authority_name
            end
        ) ~ rules.match_pattern
),

default_matches as (
    select
        decisions.penalty_id,
        rules.rule_id,
        rules.rule_kind,
        rules.min_months,
        rules.max_months
    from decisions
    inner join rules_in_force as rules
        on rules.penalty_id = decisions.penalty_id
    where rules.rule_kind = 'default'
        and not exists (
            select 1
            from kind_and_domain_matches
            where kind_and_domain_matches.penalty_id = decisions.penalty_id
                and kind_and_domain_matches.rule_kind = 'penalty_kind'
        )
),

applied_rules as (
    select * from kind_and_domain_matches
    union all
    select * from default_matches
),

kind_periods as (
    select
        penalty_id,
        string_agg(rule_id, ',' order by rule_id) as applied_rule_ids,
        max(min_months) as min_publicity_months,
        max(max_months) as max_publicity_months,
        false as is_class_rule
    from applied_rules
    group by penalty_id
),

periods as (
    select * from class_periods
    union all
    select * from kind_periods
),

windowed as (
    select
        decisions.*,
        severities.severity_class,
        severities.severity_source,
        severities.severity_rule_ids,
        periods.applied_rule_ids,
        periods.min_publicity_months::integer as min_publicity_months,
        periods.max_publicity_months::integer as max_publicity_months,
        -- A minor record under a class rule is published only when the department chose to.
        coalesce(
            not (periods.is_class_rule and severities.severity_class = 'minor')
            or decisions.publicity_end_date > decisions.decision_date,
            false
        ) as is_published,
        (decisions.decision_date + make_interval(months => periods.max_publicity_months::integer))::date
            as max_end_on,
        periods.is_class_rule,
        national_results.national_repair_pushed_on,
        national_results.national_repaired_on,
        national_results.national_withdrawal_pushed_on,
        national_results.national_withdrawn_on
    from decisions
    left join national_results
        on national_results.penalty_id = decisions.penalty_id
    left join severities
        on severities.penalty_id = decisions.penalty_id
    -- left join: a decision no rule covers keeps its row and fails the not_null tests on its period.
    left join periods
        on periods.penalty_id = decisions.penalty_id
),

final as (
    select
        penalty_id,
        decision_document_number,
        subject_key,
        -- The subject as int_subjects_resolved keys it: the USCC, or the keyed hash of a natural
        -- person's valid resident ID (never the ID [rules §9]); null for a person without one.
        case
            when subject_type <> 'natural_person' then uscc
            when credit.is_valid_citizen_id(credit.normalize_code(subject_key))
                then {{ subject_hash('subject_key') }}
        end as subject_id,
        subject_name,
        subject_type,
        uscc,
        penalty_category,
        violation_type,
        penalty_basis,
        authority_name,
        fine_amount_10k_yuan,
        department_severity,
        severity_class,
        severity_source,
        severity_rule_ids,
        decision_date as publicity_start_on,
        min_publicity_months,
        max_publicity_months,
        applied_rule_ids,
        is_published,
        -- The window's ends are the first days the record may be (earliest) or must be (latest)
        -- off the website: public on [publicity_start_on, latest_end_on). earliest_end_on is also
        -- the first day a repair may be applied for (the minimum period has passed).
        (decision_date + make_interval(months => min_publicity_months))::date as earliest_end_on,
        case
            when not is_published then decision_date
            -- A published minor record: until the department's 公示截止期 (its last public day),
            -- at most the class maximum.
            when is_class_rule and severity_class = 'minor' then least(publicity_end_date + 1, max_end_on)
            else max_end_on
        end as latest_end_on,
        national_repair_pushed_on,
        national_repaired_on,
        national_withdrawal_pushed_on,
        national_withdrawn_on,
        first_reported_on,
        reported_on as last_reported_on,
        delivery_count::integer as delivery_count,
        batch_id as last_batch_id
    from windowed
)

select * from final
