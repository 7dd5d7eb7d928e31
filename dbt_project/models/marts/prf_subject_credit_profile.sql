-- The credit profile (信用档案) of every subject of dim_subject [002 #9; 001 2018 plan §2.2]: what
-- each domain says about it as of the night built (macro as_of_on) or the run
-- date, so that the nightly snapshot credit_archive keeps how it changed.
-- Facts dated after the as-of date, or delivered after it, do not count (they did not exist yet);
-- the date-aware facts (penalties, debtors, lists, tax, commitments, objections) evaluate their
-- own status for the same var.
--
-- Serious dishonesty of an enterprise (black list, dishonest judgment debtor) is also recorded
-- against its legal representative / operator [001 2017 §4.1; 004 §11]: a person linked in
-- int_legal_representatives while the enterprise is listed (the link is current on the as-of date,
-- or was when the listing began) gets linked_serious_dishonesty.
--
-- Punishment (联合惩戒) reads the punishment_state the facts compute (docs/record_lifecycle.md),
-- never their raw rows: a penalty, black or key-attention listing or dishonest-debtor listing
-- whose objection is being verified stays published and listed (is_on_black_list, …) but its
-- punishment is suspended (信息核实期间暂不执行联合惩戒措施 [001 2017 §5.3; 001 2018 plan §4.9]), so
-- the *_punishment_in_force flags and penalty_in_force_count the grade reads leave it out. A record
-- revoked or corrected after verification is not a bad record at all.
--
-- Green channel (绿色通道, 容缺受理) [001 2017 §3.2]: an honest model (诚信典型: on the as-of date
-- on a red list the office counts as one, seed honour_kinds) or 3 consecutive years without a bad
-- record; green_channel_ground says which (honest_model first when both hold). Either way no
-- dishonesty may be in force.
-- A bad record is, dated on or before the as-of date:
--   an administrative penalty decision (行政处罚, by decision date, whatever its publicity status:
--     repair ends publicity, not the fact that the violation happened);
--   a listing as dishonest judgment debtor (失信被执行人), by listing date;
--   a listing as false-litigation dishonest person (虚假诉讼失信人), by listing date;
--   an entry on the black list (失信黑名单) or the key-attention list (重点关注名单), by entry date;
--   a tax-arrears announcement (欠税公告), by announcement date;
--   a credit commitment assessed as broken (未履约), by assessment date;
--   a voluntarily registered declaration found untrue (核验不实 [004 (五)]), by that date;
-- and no listing may be in force on the as-of date (debtor, false litigant, black, key attention,
-- or the linked dishonesty of a person), however old its entry. Contribution and bill arrears (social
-- insurance, housing fund, utilities) weigh in the grade but are not bad records: they are
-- payment states, not decisions about the subject.
-- The years are counted from the latest bad record, or for a subject without one from its
-- registration date (registered subjects) or the first night a feed reported it: the platform
-- cannot vouch for years before it knew the subject.
-- Grain: one row per subject (every row of dim_subject).
with

subjects as (
    select * from {{ ref('dim_subject') }}
),

licences as (
    select * from {{ ref('fct_admin_licence') }}
),

penalties as (
    select * from {{ ref('fct_admin_penalty') }}
),

penalty_subjects as (
    select * from {{ ref('int_penalties_subjects_keyed') }}
),

admin_acts as (
    select * from {{ ref('fct_admin_act') }}
),

court_debtors as (
    select * from {{ ref('fct_court_debtor') }}
),

false_litigants as (
    select * from {{ ref('fct_false_litigant') }}
),

credit_interviews as (
    select * from {{ ref('fct_credit_interview') }}
),

tax_status as (
    select * from {{ ref('fct_tax_status') }}
),

list_memberships as (
    select * from {{ ref('fct_list_membership') }}
),

-- The red-list honours the office counts as honest models (诚信典型) for the green channel.
honour_kinds as (
    select * from {{ ref('honour_kinds') }}
    where counts_as_honest_model
),

commitments as (
    select * from {{ ref('fct_commitment') }}
),

voluntary_declarations as (
    select * from {{ ref('fct_voluntary_declaration') }}
),

objections as (
    select * from {{ ref('fct_objection') }}
),

certifications as (
    select * from {{ ref('stg_customs_certified__certifications') }}
),

social_insurance as (
    select * from {{ ref('fct_social_insurance') }}
),

housing_fund as (
    select * from {{ ref('fct_housing_fund') }}
),

utility_payments as (
    select * from {{ ref('fct_utility_payment') }}
),

representatives as (
    select * from {{ ref('int_legal_representatives') }}
),

{{ as_of_cte() }},

-- Licences ------------------------------------------------------------------------------------

licence_facts as (
    select
        licences.subject_id,
        count(*)::integer as licence_count,
        (count(*) filter (where licences.is_valid))::integer as valid_licence_count,
        max(licences.decision_on) as latest_licence_on
    from licences
    cross join as_of
    where licences.decision_on <= as_of.as_of_on
        and licences.first_reported_on <= as_of.as_of_on
    group by licences.subject_id
),

-- Penalties: fct_admin_penalty already leaves out decisions after the as-of date ---------------

penalty_facts as (
    select
        penalty_subjects.subject_id,
        count(*)::integer as penalty_count,
        (count(*) filter (where penalties.is_public))::integer as public_penalty_count,
        (count(*) filter (where penalties.punishment_state = 'in_force'))::integer as penalty_in_force_count,
        (count(*) filter (where penalties.punishment_state = 'suspended_by_objection'))::integer
            as suspended_penalty_count,
        (count(*) filter (where penalties.punishment_state = 'ended_by_revocation'))::integer
            as revoked_penalty_count,
        (count(*) filter (where penalties.publicity_status = 'repaired'))::integer as repaired_penalty_count,
        (count(*) filter (where penalties.publicity_status = 'expired_archived'))::integer
            as archived_penalty_count,
        max(penalties.publicity_start_on) filter (
            where penalties.punishment_state is distinct from 'ended_by_revocation'
        ) as latest_penalty_on
    from penalties
    inner join penalty_subjects
        on penalty_subjects.penalty_id = penalties.penalty_id
    cross join as_of
    where penalty_subjects.subject_id is not null
        and penalties.first_reported_on <= as_of.as_of_on
    group by penalty_subjects.subject_id
),

-- Shijiazhuang's other administrative acts (shown, not scored): fct_admin_act already leaves out
-- acts decided or first delivered after the as-of date --------------------------------------------

admin_act_facts as (
    select
        admin_acts.subject_id,
        count(*)::integer as admin_act_count,
        (count(*) filter (where admin_acts.is_public))::integer as public_admin_act_count,
        string_agg(distinct admin_acts.act_kind, ',' order by admin_acts.act_kind) as admin_act_kinds,
        max(admin_acts.decision_on) as latest_admin_act_on
    from admin_acts
    group by admin_acts.subject_id
),

-- Credit interviews and repair training (shown, not scored; part of the credit record [004 (十二)]):
-- fct_credit_interview already leaves out records held or first delivered after the as-of date ---------

credit_interview_facts as (
    select
        credit_interviews.subject_id,
        (count(*) filter (where credit_interviews.is_interview))::integer as credit_interview_count,
        (count(*) filter (where not credit_interviews.is_interview))::integer as repair_training_count,
        (count(*) filter (where credit_interviews.is_rectification_overdue))::integer
            as overdue_rectification_count,
        max(credit_interviews.held_on) as latest_credit_interview_on,
        -- The kind of the latest record (a warning interview before a reminder held the same day).
        (array_agg(
            credit_interviews.record_kind
            order by credit_interviews.held_on desc, credit_interviews.record_kind desc
        ))[1] as latest_credit_interview_kind
    from credit_interviews
    group by credit_interviews.subject_id
),

-- Dishonest judgment debtors -----------------------------------------------------------------

court_debtor_facts as (
    select
        court_debtors.subject_id,
        count(*)::integer as court_debtor_case_count,
        (count(*) filter (where court_debtors.is_current))::integer as current_court_debtor_case_count,
        coalesce(bool_or(court_debtors.is_current), false) as is_court_debtor,
        coalesce(bool_or(court_debtors.punishment_state = 'in_force'), false) as is_court_debtor_punishment_in_force,
        (count(*) filter (where court_debtors.punishment_state = 'suspended_by_objection'))::integer
            as suspended_court_debtor_count,
        min(court_debtors.listed_on) filter (
            where court_debtors.punishment_state = 'in_force'
        ) as court_debtor_since_on,
        max(court_debtors.listed_on) filter (
            where court_debtors.punishment_state is distinct from 'ended_by_revocation'
        ) as latest_court_debtor_listed_on
    from court_debtors
    cross join as_of
    where court_debtors.listed_on <= as_of.as_of_on
        and court_debtors.first_reported_on <= as_of.as_of_on
    group by court_debtors.subject_id
),

-- False-litigation dishonest persons (虚假诉讼失信人 [004 (十五)]) -------------------------------------

false_litigant_facts as (
    select
        false_litigants.subject_id,
        count(*)::integer as false_litigation_case_count,
        coalesce(bool_or(false_litigants.is_current), false) as is_false_litigant,
        max(false_litigants.listed_on) as latest_false_litigation_listed_on
    from false_litigants
    cross join as_of
    where false_litigants.listed_on <= as_of.as_of_on
        and false_litigants.first_reported_on <= as_of.as_of_on
    group by false_litigants.subject_id
),

-- Tax: A-level rating of the latest year, arrears of the latest announcement -------------------

tax_facts as (
    select
        tax_status.subject_id,
        coalesce(bool_or(tax_status.is_a_level_latest_year), false) as is_tax_a_level,
        max(tax_status.period_year) filter (
            where tax_status.record_kind = 'a_level_rating' and tax_status.credit_grade = 'A'
        ) as latest_tax_a_level_year,
        coalesce(bool_or(
            tax_status.record_kind = 'arrears' and tax_status.is_current and tax_status.current_arrears_amount > 0
        ), false) as has_tax_arrears,
        max(tax_status.current_arrears_amount) filter (
            where tax_status.record_kind = 'arrears' and tax_status.is_current
        ) as tax_arrears_amount,
        max(tax_status.published_on) filter (where tax_status.record_kind = 'arrears')
            as latest_tax_arrears_announced_on
    from tax_status
    cross join as_of
    where tax_status.published_on <= as_of.as_of_on
        and tax_status.first_reported_on <= as_of.as_of_on
    group by tax_status.subject_id
),

-- Lists: red / black / key attention ----------------------------------------------------------

list_facts as (
    select
        list_memberships.subject_id,
        coalesce(bool_or(list_memberships.is_current and list_memberships.list_type = 'red'), false)
            as is_on_red_list,
        coalesce(bool_or(list_memberships.is_current and list_memberships.list_type = 'black'), false)
            as is_on_black_list,
        coalesce(bool_or(
            list_memberships.is_current and list_memberships.list_type = 'red' and honour_kinds.list_name is not null
        ), false) as is_honest_model,
        coalesce(bool_or(list_memberships.is_current and list_memberships.list_type = 'key_attention'), false)
            as is_on_key_attention_list,
        coalesce(bool_or(
            list_memberships.punishment_state = 'in_force' and list_memberships.list_type = 'black'
        ), false) as is_black_list_punishment_in_force,
        coalesce(bool_or(
            list_memberships.punishment_state = 'in_force' and list_memberships.list_type = 'key_attention'
        ), false) as is_key_attention_punishment_in_force,
        (count(*) filter (where list_memberships.punishment_state = 'suspended_by_objection'))::integer
            as suspended_list_membership_count,
        (count(*) filter (where list_memberships.is_current))::integer as current_list_membership_count,
        string_agg(distinct list_memberships.list_type, ',') filter (where list_memberships.is_current)
            as current_list_types,
        min(list_memberships.entered_on) filter (
            where list_memberships.punishment_state = 'in_force' and list_memberships.list_type = 'black'
        ) as black_list_since_on,
        max(list_memberships.entered_on) filter (
            where list_memberships.list_type in ('black', 'key_attention')
                and list_memberships.punishment_state is distinct from 'ended_by_revocation'
        ) as latest_bad_list_entry_on
    from list_memberships
    left join honour_kinds
        on honour_kinds.list_name = list_memberships.list_name
    cross join as_of
    where list_memberships.entered_on <= as_of.as_of_on
        and list_memberships.first_reported_on <= as_of.as_of_on
    group by list_memberships.subject_id
),

-- Customs advanced certification (海关高级认证), from staging: the latest delivery by the as-of date

certification_states as (
    select
        certifications.uscc as subject_id,
        certifications.certified_on,
        certifications.is_revoked,
        certifications.revoked_on,
        row_number() over (
            partition by certifications.uscc
            order by certifications.reported_on desc, certifications.source_row_number desc
        ) as recency
    from certifications
    cross join as_of
    where certifications.reported_on <= as_of.as_of_on
        and certifications.certified_on <= as_of.as_of_on
),

customs_facts as (
    select
        subject_id,
        (not (is_revoked and coalesce(revoked_on <= (select as_of.as_of_on from as_of), true)))
            as is_customs_advanced_certified,
        certified_on as customs_certified_on
    from certification_states
    where recency = 1
),

-- Credit commitments and their fulfilment -----------------------------------------------------

commitment_facts as (
    select
        commitments.subject_id,
        count(*)::integer as commitment_count,
        (count(*) filter (where commitments.is_in_force))::integer as commitments_in_force_count,
        (count(*) filter (
            where commitments.is_fulfilled and commitments.fulfilment_assessed_on <= as_of.as_of_on
        ))::integer as fulfilled_commitment_count,
        (count(*) filter (
            where commitments.is_broken and commitments.fulfilment_assessed_on <= as_of.as_of_on
        ))::integer as breached_commitment_count,
        max(commitments.fulfilment_assessed_on) filter (
            where commitments.is_broken and commitments.fulfilment_assessed_on <= as_of.as_of_on
        ) as latest_breach_on
    from commitments
    cross join as_of
    where commitments.committed_on <= as_of.as_of_on
        and commitments.first_reported_on <= as_of.as_of_on
    group by commitments.subject_id
),

-- Voluntary registration (自愿注册 [004 (五)]): self-declared, counted apart from every
-- department's record. Only a declaration verified and not withdrawn or disproved on the as-of
-- date counts for evaluation; a disproved one is a false declaration (a bad record). The states
-- are read from the fact's dates against this model's as-of date, so they hold even when the
-- fact was built for another night.

declaration_states as (
    select
        voluntary_declarations.subject_id,
        voluntary_declarations.verified_on <= as_of.as_of_on
        and (
            voluntary_declarations.evaluation_ended_on is null
            or voluntary_declarations.evaluation_ended_on > as_of.as_of_on
        ) as is_counting,
        voluntary_declarations.evaluation_ended_on <= as_of.as_of_on
        and voluntary_declarations.verification_status = 'withdrawn' as is_withdrawn,
        voluntary_declarations.evaluation_ended_on <= as_of.as_of_on
        and voluntary_declarations.is_false_declaration as is_disproved,
        voluntary_declarations.evaluation_ended_on
    from voluntary_declarations
    cross join as_of
    where voluntary_declarations.declared_on <= as_of.as_of_on
        and voluntary_declarations.first_reported_on <= as_of.as_of_on
),

self_declared_facts as (
    select
        subject_id,
        (count(*) filter (
            where not coalesce(is_counting, false) and not coalesce(is_withdrawn, false)
            and not coalesce(is_disproved, false)
        ))::integer as self_declared_pending_count,
        (count(*) filter (where is_counting))::integer as self_declared_verified_count,
        (count(*) filter (where is_withdrawn))::integer as self_declared_withdrawn_count,
        (count(*) filter (where is_disproved))::integer as self_declared_disproved_count,
        max(evaluation_ended_on) filter (where is_disproved) as latest_false_declaration_on
    from declaration_states
    group by subject_id
),

-- Objections (fct_objection names market subjects by USCC only) ---------------------------------

objection_facts as (
    select
        uscc as subject_id,
        count(*)::integer as objection_count,
        (count(*) filter (where status in ('submitted', 'accepted', 'verifying')))::integer as open_objection_count,
        (count(*) filter (where is_overdue))::integer as overdue_objection_count
    from objections
    where uscc is not null
    group by uscc
),

-- Contributions and bills: months reported by the as-of date ------------------------------------

social_insurance_facts as (
    select
        social_insurance.subject_id,
        coalesce(sum(social_insurance.arrears_amount), 0)::numeric(18, 2) as social_insurance_arrears_amount,
        max(social_insurance.contribution_month) as latest_social_insurance_month
    from social_insurance
    cross join as_of
    where social_insurance.contribution_month <= as_of.as_of_on
        and social_insurance.first_reported_on <= as_of.as_of_on
    group by social_insurance.subject_id
),

housing_fund_latest as (
    select
        housing_fund.subject_id,
        housing_fund.contribution_month,
        housing_fund.is_in_arrears,
        housing_fund.months_in_arrears,
        row_number() over (
            partition by housing_fund.subject_id
            order by housing_fund.contribution_month desc, housing_fund.housing_fund_id desc
        ) as recency
    from housing_fund
    cross join as_of
    where housing_fund.contribution_month <= as_of.as_of_on
        and housing_fund.first_reported_on <= as_of.as_of_on
),

housing_fund_facts as (
    select
        subject_id,
        coalesce(is_in_arrears, false) as has_housing_fund_arrears,
        months_in_arrears::integer as housing_fund_months_in_arrears,
        contribution_month as latest_housing_fund_month
    from housing_fund_latest
    where recency = 1
),

utility_latest as (
    select
        utility_payments.subject_id,
        utility_payments.utility,
        utility_payments.arrears_amount,
        utility_payments.is_in_arrears,
        row_number() over (
            partition by utility_payments.subject_id, utility_payments.utility
            order by utility_payments.billing_month desc, utility_payments.utility_payment_id desc
        ) as recency
    from utility_payments
    cross join as_of
    where utility_payments.billing_month <= as_of.as_of_on
        and utility_payments.first_reported_on <= as_of.as_of_on
),

utility_facts as (
    select
        subject_id,
        coalesce(bool_or(is_in_arrears), false) as has_utility_arrears,
        coalesce(sum(arrears_amount), 0)::numeric(18, 2) as utility_arrears_amount
    from utility_latest
    where recency = 1
    group by subject_id
),

-- Serious dishonesty of enterprises, carried to their representatives while its punishment is in
-- force (suspended with the enterprise's while an objection is verified) -----------------------

dishonest_enterprises as (
    select
        subjects.subject_id,
        least(list_facts.black_list_since_on, court_debtor_facts.court_debtor_since_on) as dishonest_since_on
    from subjects
    left join list_facts
        on list_facts.subject_id = subjects.subject_id
    left join court_debtor_facts
        on court_debtor_facts.subject_id = subjects.subject_id
    where subjects.subject_type <> 'natural_person'
        and (
            coalesce(list_facts.is_black_list_punishment_in_force, false)
            or coalesce(court_debtor_facts.is_court_debtor_punishment_in_force, false)
        )
),

linked_facts as (
    select
        representatives.person_subject_id as subject_id,
        count(distinct dishonest_enterprises.subject_id)::integer as linked_dishonest_enterprise_count,
        string_agg(distinct dishonest_enterprises.subject_id, ',') as linked_dishonest_enterprise_ids
    from representatives
    inner join dishonest_enterprises
        on dishonest_enterprises.subject_id = representatives.enterprise_subject_id
    cross join as_of
    where representatives.valid_from_on <= as_of.as_of_on
        and (
            representatives.valid_to_on is null
            or representatives.valid_to_on > as_of.as_of_on
            or representatives.valid_to_on > dishonest_enterprises.dishonest_since_on
        )
    group by representatives.person_subject_id
),

-- Everything per subject ----------------------------------------------------------------------

joined as (
    select
        subjects.subject_id,
        subjects.subject_type,
        subjects.uscc,
        subjects.subject_name,
        subjects.citizen_id_masked,
        subjects.jurisdiction_code,
        subjects.is_registered,
        subjects.registration_status,
        subjects.registered_on,
        subjects.first_seen_on,
        as_of.as_of_on,
        coalesce(licence_facts.licence_count, 0) as licence_count,
        coalesce(licence_facts.valid_licence_count, 0) as valid_licence_count,
        licence_facts.latest_licence_on,
        coalesce(penalty_facts.penalty_count, 0) as penalty_count,
        coalesce(penalty_facts.public_penalty_count, 0) as public_penalty_count,
        coalesce(penalty_facts.penalty_in_force_count, 0) as penalty_in_force_count,
        coalesce(penalty_facts.suspended_penalty_count, 0) as suspended_penalty_count,
        coalesce(penalty_facts.revoked_penalty_count, 0) as revoked_penalty_count,
        coalesce(penalty_facts.repaired_penalty_count, 0) as repaired_penalty_count,
        coalesce(penalty_facts.archived_penalty_count, 0) as archived_penalty_count,
        penalty_facts.latest_penalty_on,
        coalesce(admin_act_facts.admin_act_count, 0) as admin_act_count,
        coalesce(admin_act_facts.public_admin_act_count, 0) as public_admin_act_count,
        admin_act_facts.admin_act_kinds,
        admin_act_facts.latest_admin_act_on,
        coalesce(credit_interview_facts.credit_interview_count, 0) as credit_interview_count,
        coalesce(credit_interview_facts.repair_training_count, 0) as repair_training_count,
        coalesce(credit_interview_facts.overdue_rectification_count, 0) as overdue_rectification_count,
        credit_interview_facts.latest_credit_interview_on,
        credit_interview_facts.latest_credit_interview_kind,
        coalesce(court_debtor_facts.is_court_debtor, false) as is_court_debtor,
        coalesce(court_debtor_facts.is_court_debtor_punishment_in_force, false) as is_court_debtor_punishment_in_force,
        coalesce(court_debtor_facts.court_debtor_case_count, 0) as court_debtor_case_count,
        coalesce(court_debtor_facts.current_court_debtor_case_count, 0) as current_court_debtor_case_count,
        court_debtor_facts.latest_court_debtor_listed_on,
        coalesce(false_litigant_facts.is_false_litigant, false) as is_false_litigant,
        coalesce(false_litigant_facts.false_litigation_case_count, 0) as false_litigation_case_count,
        false_litigant_facts.latest_false_litigation_listed_on,
        coalesce(tax_facts.is_tax_a_level, false) as is_tax_a_level,
        tax_facts.latest_tax_a_level_year,
        coalesce(tax_facts.has_tax_arrears, false) as has_tax_arrears,
        tax_facts.tax_arrears_amount,
        tax_facts.latest_tax_arrears_announced_on,
        coalesce(social_insurance_facts.social_insurance_arrears_amount, 0) > 0 as has_social_insurance_arrears,
        social_insurance_facts.social_insurance_arrears_amount,
        coalesce(housing_fund_facts.has_housing_fund_arrears, false) as has_housing_fund_arrears,
        housing_fund_facts.housing_fund_months_in_arrears,
        coalesce(utility_facts.has_utility_arrears, false) as has_utility_arrears,
        utility_facts.utility_arrears_amount,
        coalesce(list_facts.is_on_red_list, false) as is_on_red_list,
        coalesce(list_facts.is_honest_model, false) as is_honest_model,
        coalesce(list_facts.is_on_black_list, false) as is_on_black_list,
        coalesce(list_facts.is_on_key_attention_list, false) as is_on_key_attention_list,
        coalesce(list_facts.is_black_list_punishment_in_force, false) as is_black_list_punishment_in_force,
        coalesce(list_facts.is_key_attention_punishment_in_force, false) as is_key_attention_punishment_in_force,
        coalesce(list_facts.suspended_list_membership_count, 0)
            + coalesce(court_debtor_facts.suspended_court_debtor_count, 0) as suspended_listing_count,
        coalesce(list_facts.current_list_membership_count, 0) as current_list_membership_count,
        list_facts.current_list_types,
        list_facts.latest_bad_list_entry_on,
        coalesce(customs_facts.is_customs_advanced_certified, false) as is_customs_advanced_certified,
        case when customs_facts.is_customs_advanced_certified then customs_facts.customs_certified_on end
            as customs_certified_on,
        coalesce(commitment_facts.commitment_count, 0) as commitment_count,
        coalesce(commitment_facts.commitments_in_force_count, 0) as commitments_in_force_count,
        coalesce(commitment_facts.fulfilled_commitment_count, 0) as fulfilled_commitment_count,
        coalesce(commitment_facts.breached_commitment_count, 0) as breached_commitment_count,
        commitment_facts.latest_breach_on,
        coalesce(self_declared_facts.self_declared_pending_count, 0) as self_declared_pending_count,
        coalesce(self_declared_facts.self_declared_verified_count, 0) as self_declared_verified_count,
        coalesce(self_declared_facts.self_declared_withdrawn_count, 0) as self_declared_withdrawn_count,
        coalesce(self_declared_facts.self_declared_disproved_count, 0) as self_declared_disproved_count,
        self_declared_facts.latest_false_declaration_on,
        coalesce(objection_facts.objection_count, 0) as objection_count,
        coalesce(objection_facts.open_objection_count, 0) as open_objection_count,
        coalesce(objection_facts.overdue_objection_count, 0) as overdue_objection_count,
        coalesce(linked_facts.linked_dishonest_enterprise_count, 0) > 0 as linked_serious_dishonesty,
        coalesce(linked_facts.linked_dishonest_enterprise_count, 0) as linked_dishonest_enterprise_count,
        linked_facts.linked_dishonest_enterprise_ids
    from subjects
    cross join as_of
    left join licence_facts on licence_facts.subject_id = subjects.subject_id
    left join penalty_facts on penalty_facts.subject_id = subjects.subject_id
    left join admin_act_facts on admin_act_facts.subject_id = subjects.subject_id
    left join credit_interview_facts on credit_interview_facts.subject_id = subjects.subject_id
    left join court_debtor_facts on court_debtor_facts.subject_id = subjects.subject_id
    left join false_litigant_facts on false_litigant_facts.subject_id = subjects.subject_id
    left join tax_facts on tax_facts.subject_id = subjects.subject_id
    left join social_insurance_facts on social_insurance_facts.subject_id = subjects.subject_id
    left join housing_fund_facts on housing_fund_facts.subject_id = subjects.subject_id
    left join utility_facts on utility_facts.subject_id = subjects.subject_id
    left join list_facts on list_facts.subject_id = subjects.subject_id
    left join customs_facts on customs_facts.subject_id = subjects.subject_id
    left join commitment_facts on commitment_facts.subject_id = subjects.subject_id
    left join self_declared_facts on self_declared_facts.subject_id = subjects.subject_id
    left join objection_facts on objection_facts.subject_id = subjects.subject_id
    left join linked_facts on linked_facts.subject_id = subjects.subject_id
),

with_bad_records as (
    select
        joined.*,
        nullif(greatest(
            coalesce(latest_penalty_on, '-infinity'::date),
            coalesce(latest_court_debtor_listed_on, '-infinity'::date),
            coalesce(latest_false_litigation_listed_on, '-infinity'::date),
            coalesce(latest_bad_list_entry_on, '-infinity'::date),
            coalesce(latest_tax_arrears_announced_on, '-infinity'::date),
            coalesce(latest_breach_on, '-infinity'::date),
            coalesce(latest_false_declaration_on, '-infinity'::date)
        ), '-infinity'::date) as last_bad_record_on,
        -- Dated by the as-of date itself, a listing still in force would make the profile change
        -- every night; it is its own condition instead.
        -- The green channel is a reward, not a punishment: a listing under objection still bars
        -- it until verification ends (only punishment is suspended meanwhile).
        (
            is_court_debtor or is_false_litigant or is_on_black_list or is_on_key_attention_list
            or linked_serious_dishonesty
        ) as has_dishonesty_in_force
    from joined
),

final as (
    select
        subject_id,
        subject_type,
        uscc,
        subject_name,
        citizen_id_masked,
        jurisdiction_code,
        is_registered,
        registration_status,
        licence_count,
        valid_licence_count,
        latest_licence_on,
        penalty_count,
        public_penalty_count,
        penalty_in_force_count,
        suspended_penalty_count,
        revoked_penalty_count,
        repaired_penalty_count,
        archived_penalty_count,
        latest_penalty_on,
        admin_act_count,
        public_admin_act_count,
        admin_act_kinds,
        latest_admin_act_on,
        credit_interview_count,
        repair_training_count,
        overdue_rectification_count,
        latest_credit_interview_on,
        latest_credit_interview_kind,
        is_court_debtor,
        is_court_debtor_punishment_in_force,
        court_debtor_case_count,
        current_court_debtor_case_count,
        latest_court_debtor_listed_on,
        is_false_litigant,
        false_litigation_case_count,
        latest_false_litigation_listed_on,
        is_tax_a_level,
        latest_tax_a_level_year,
        has_tax_arrears,
        tax_arrears_amount,
        has_social_insurance_arrears,
        social_insurance_arrears_amount,
        has_housing_fund_arrears,
        housing_fund_months_in_arrears,
        has_utility_arrears,
        utility_arrears_amount,
        is_on_red_list,
        is_honest_model,
        is_on_black_list,
        is_on_key_attention_list,
        is_black_list_punishment_in_force,
        is_key_attention_punishment_in_force,
        suspended_listing_count,
        current_list_membership_count,
        current_list_types,
        is_customs_advanced_certified,
        customs_certified_on,
        commitment_count,
        commitments_in_force_count,
        fulfilled_commitment_count,
        breached_commitment_count,
        self_declared_pending_count,
        self_declared_verified_count,
        self_declared_withdrawn_count,
        self_declared_disproved_count,
        latest_false_declaration_on,
        objection_count,
        open_objection_count,
        overdue_objection_count,
        linked_serious_dishonesty,
        linked_dishonest_enterprise_count,
        linked_dishonest_enterprise_ids,
        last_bad_record_on,
        has_dishonesty_in_force,
        coalesce(last_bad_record_on, registered_on, first_seen_on) as clean_record_since_on,
        case
            when has_dishonesty_in_force then false
            when is_honest_model then true
            else coalesce(
                coalesce(last_bad_record_on, registered_on, first_seen_on) <= (as_of_on - interval '3 years')::date,
                false
            )
        end as is_green_channel_eligible,
        case
            when has_dishonesty_in_force then null
            when is_honest_model then 'honest_model'
            when coalesce(last_bad_record_on, registered_on, first_seen_on) <= (as_of_on - interval '3 years')::date
                then 'three_clean_years'
        end as green_channel_ground,
        as_of_on
    from with_bad_records
)

select * from final
