-- The jurisdictions records are counted and pushed back under [rules §3; 000 §1.2, §2.4]: every
-- Hebei division code in use today, with the prefecture-level unit it reports under (one of the 11
-- cities, 定州, 辛集 or 雄安新区) and its level. Abolished codes stay in reference.hebei_divisions
-- (old IDs and codes still carry them) but are not jurisdictions. Grain: one row per current code.
with

divisions as (
    select * from {{ ref('hebei_divisions') }}
),

current_divisions as (
    select * from divisions where is_current
),

final as (
    select
        current_divisions.division_code as jurisdiction_id,
        current_divisions.division_code,
        current_divisions.division_name,
        current_divisions.division_level,
        current_divisions.city_code,
        current_divisions.city_name,
        current_divisions.reporting_unit_code,
        reporting_units.division_name as reporting_unit_name,
        current_divisions.division_code = current_divisions.reporting_unit_code as is_reporting_unit,
        -- 定州 and 辛集 are county-level cities the province treats like prefecture cities [rules §3].
        current_divisions.division_level = 'county'
            and current_divisions.division_code = current_divisions.reporting_unit_code
            as is_province_direct_county_city
    from current_divisions
    left join divisions as reporting_units
        on reporting_units.division_code = current_divisions.reporting_unit_code
)

select * from final
