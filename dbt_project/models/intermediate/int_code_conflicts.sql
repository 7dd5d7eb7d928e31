-- 重错码 across feeds [000 §2.4]: codes and names that do not pair one to one.
--   one_code_several_names  one USCC reported under different subject names
--   one_name_several_codes  one subject name reported under different USCCs
-- Names are compared after normalisation (name_key): full-width letters, digits and the
-- ideographic space as half-width, upper case, without white space and without the brackets
-- （）/() — "河北华信（集团）有限公司" and "河北华信(集团) 有限公司" are one name.
-- Each feed and department counts with the latest name it reported for a code, so a renamed
-- subject stops conflicting once every sender has reported its new name.
-- Grain: one row per conflict and code involved (a name under two codes gives two rows, one for
-- each code's registering department). Bad check characters are the gate's business, not this.
with

codes as (
    select * from {{ ref('int_subject_codes_unioned') }}
),

normalised as (
    select
        codes.*,
        regexp_replace(
            credit.normalize_code(translate(subject_name, '（）', '()')),
            '[[:space:]()]', '', 'g'
        ) as name_key,
        row_number() over (
            partition by source_id, department, uscc
            order by batch_logical_date desc, subject_name asc
        ) as recency
    from codes
),

current_pairs as (
    select * from normalised where recency = 1
),

-- When each variant (a name under a code, or a code under a name) was first reported.
variants as (
    select uscc, name_key, min(batch_logical_date) as first_reported_on
    from current_pairs
    group by uscc, name_key
),

codes_with_several_names as (
    select
        'one_code_several_names'::text as conflict_kind,
        uscc as conflict_key,
        (array_agg(first_reported_on order by first_reported_on))[2] as first_seen_on
    from variants
    group by uscc
    having count(*) > 1
),

names_with_several_codes as (
    select
        'one_name_several_codes'::text as conflict_kind,
        name_key as conflict_key,
        (array_agg(first_reported_on order by first_reported_on))[2] as first_seen_on
    from variants
    group by name_key
    having count(*) > 1
),

conflicts as (
    select * from codes_with_several_names
    union all
    select * from names_with_several_codes
),

-- Every reported pair behind a conflict.
evidence as (
    select
        conflicts.conflict_kind,
        conflicts.conflict_key,
        conflicts.first_seen_on,
        current_pairs.*
    from conflicts
    inner join current_pairs
        on (conflicts.conflict_kind = 'one_code_several_names' and current_pairs.uscc = conflicts.conflict_key)
        or (conflicts.conflict_kind = 'one_name_several_codes' and current_pairs.name_key = conflicts.conflict_key)
),

per_conflict as (
    select
        conflict_kind,
        conflict_key,
        first_seen_on,
        array_agg(distinct uscc order by uscc) as usccs,
        array_agg(distinct subject_name order by subject_name) as subject_names,
        array_agg(distinct source_id order by source_id) as source_ids,
        array_agg(distinct department order by department) as departments,
        max(batch_logical_date) as last_seen_on
    from evidence
    group by conflict_kind, conflict_key, first_seen_on
),

final as (
    select
        md5(per_conflict.conflict_kind || ':' || per_conflict.conflict_key || ':' || involved.uscc) as conflict_id,
        per_conflict.conflict_kind,
        per_conflict.conflict_key,
        involved.uscc,
        per_conflict.usccs,
        per_conflict.subject_names,
        per_conflict.source_ids,
        per_conflict.departments,
        per_conflict.first_seen_on,
        per_conflict.last_seen_on
    from per_conflict
    cross join lateral unnest(per_conflict.usccs) as involved (uscc)
)

select * from final
