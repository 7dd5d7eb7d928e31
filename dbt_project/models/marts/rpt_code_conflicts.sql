-- 重错码 to feed back to the registering departments [000 §2.4]: every USCC caught in a
-- conflict across feeds, with who registered it and where, so the notice reaches the department
-- that issued the code (编办, 民宗, 民政, 司法, 农业农村, 市场监管, 工会) in the right city.
-- The registering authority is the code's first character and the registering division its
-- characters 3-8 (GB 32100-2015). Grain: one row per conflict and code involved.
with

conflicts as (
    select * from {{ ref('int_code_conflicts') }}
),

divisions as (
    select * from {{ ref('hebei_divisions') }}
),

located as (
    select
        conflicts.*,
        left(conflicts.uscc, 1) as registering_authority_code,
        substr(conflicts.uscc, 3, 6) as registering_division_code
    from conflicts
),

final as (
    select
        located.conflict_id,
        located.conflict_kind,
        located.uscc,
        located.registering_authority_code,
        -- GB 32100-2015 table 1, 登记管理部门代码.
        case located.registering_authority_code
            when '1' then '机构编制'
            when '2' then '外交'
            when '3' then '司法行政'
            when '4' then '文化'
            when '5' then '民政'
            when '6' then '旅游'
            when '7' then '宗教'
            when '8' then '工会'
            when '9' then '市场监管'
            when 'A' then '中央军委改革和编制办公室'
            when 'N' then '农业农村'
            when 'Y' then '其他'
        end as registering_authority,
        located.registering_division_code,
        divisions.division_name as registering_division_name,
        divisions.reporting_unit_code,
        reporting_units.division_name as reporting_unit_name,
        array_to_string(located.subject_names, '；') as subject_names,
        array_to_string(located.usccs, '；') as usccs,
        array_to_string(located.source_ids, '；') as source_ids,
        array_to_string(located.departments, '；') as departments,
        case located.conflict_kind
            when 'one_code_several_names' then
                '统一社会信用代码 ' || located.uscc || ' 被报送为不同名称：'
                || array_to_string(located.subject_names, '；')
                || '（报送部门：' || array_to_string(located.departments, '；') || '）'
            else
                '名称「' || array_to_string(located.subject_names, '；') || '」对应多个统一社会信用代码：'
                || array_to_string(located.usccs, '；')
                || '（报送部门：' || array_to_string(located.departments, '；') || '）'
        end as details,
        located.first_seen_on,
        located.last_seen_on
    from located
    left join divisions
        on divisions.division_code = located.registering_division_code
    left join divisions as reporting_units
        on reporting_units.division_code = divisions.reporting_unit_code
)

select * from final
