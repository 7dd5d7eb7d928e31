-- The subject of each administrative penalty decision, keyed like int_subjects_resolved: the USCC
-- of an organisation or individual business, the keyed hash of a natural person's resident ID
-- (never the ID itself [rules §9]), as int_penalties_publicity_windowed computes it; the profile
-- and the archive join through this narrow view rather than the window model with its clear IDs.
-- A person without a valid ID has no subject (null subject_id), as in int_subjects_resolved.
-- Grain: one row per penalty decision (penalty_id).
with

windows as (
    select * from {{ ref('int_penalties_publicity_windowed') }}
),

final as (
    select
        penalty_id,
        subject_id,
        subject_type
    from windows
)

select * from final
