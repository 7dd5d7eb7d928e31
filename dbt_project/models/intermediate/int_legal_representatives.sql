-- Enterprise → natural person: who the registry names as an organisation's legal representative
-- (法定代表人) or an individual business's operator (经营者), and over which nights. Serious
-- dishonesty of an enterprise is also recorded against its legal representative [001 2017 §4.1;
-- 004 §11]; the profile reads these links to carry it over.
-- The person is keyed like every natural person, by the keyed hash of the resident ID the registry
-- sends (法定代表人证件号码, hashed in staging), never by the clear ID [rules §9]. Registry rows
-- without a valid ID link nobody, and end the previous representative's link.
-- Validity follows the nights the warehouse learned of it (batch_logical_date), so a profile
-- built "as of" a night sees the representatives known by then: valid_from_on is the night the
-- registry first sent the person for the enterprise, valid_to_on the night it first sent someone
-- else (or no valid ID), null while current. A person who leaves and comes back has two rows.
-- Grain: one row per enterprise and continuous spell of one person as its representative.
with

registrations as (
    select * from {{ ref('stg_market_registry__subjects') }}
),

ordered as (
    select
        uscc,
        subject_type,
        legal_representative_id_hash,
        legal_representative_id_masked,
        batch_logical_date,
        lag(legal_representative_id_hash) over by_night as previous_hash,
        row_number() over by_night as row_in_subject
    from registrations
    window by_night as (
        partition by uscc
        order by batch_logical_date, source_updated_at, source_row_number
    )
),

spell_starts as (
    select
        ordered.*,
        case
            when row_in_subject = 1 then 1
            when (legal_representative_id_hash is distinct from previous_hash) then 1
            else 0
        end as is_spell_start
    from ordered
),

numbered as (
    select
        spell_starts.*,
        sum(is_spell_start) over (
            partition by uscc order by row_in_subject rows unbounded preceding
        ) as spell_number
    from spell_starts
),

spells as (
    select
        uscc,
        spell_number,
        min(legal_representative_id_hash) as person_subject_id,
        min(legal_representative_id_masked) as person_citizen_id_masked,
        (array_agg(subject_type order by row_in_subject desc))[1] as enterprise_subject_type,
        min(batch_logical_date) as valid_from_on,
        max(batch_logical_date) as last_reported_on
    from numbered
    group by uscc, spell_number
),

bounded as (
    select
        spells.*,
        lead(valid_from_on) over (partition by uscc order by spell_number) as valid_to_on
    from spells
),

final as (
    select
        md5(uscc || '|' || person_subject_id || '|' || valid_from_on::text) as legal_representative_link_id,
        uscc as enterprise_subject_id,
        enterprise_subject_type,
        person_subject_id,
        person_citizen_id_masked,
        case enterprise_subject_type
            when 'individual_business' then 'operator'
            else 'legal_representative'
        end as representative_role,
        valid_from_on,
        valid_to_on,
        valid_to_on is null as is_current,
        last_reported_on
    from bounded
    where person_subject_id is not null
)

select * from final
