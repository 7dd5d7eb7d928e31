-- Accepted 海关高级认证企业 rows only: the batch passed the gate and the row has no critical issue.
-- One row per certification decision 石家庄海关 delivered (a new advanced certification, status
-- 有效, or a revocation, status 撤销) [000 §2.7]. Renames to English, normalises codes, casts dates.
with

{{ accepted_rows('customs_certified', 'certifications') }},

final as (
    select
        {{ landed_row('reported_on', origin='file') }},
        credit.clean_text(enterprise_name) as enterprise_name,
        credit.normalize_code(uscc) as uscc,
        credit.normalize_code(customs_code) as customs_code,
        credit.clean_text(certification_type) as certification_type,
        credit.try_date(certified_on) as certified_on,
        credit.clean_text(certification_status) as certification_status,
        credit.clean_text(certification_status) = '撤销' as is_revoked,
        credit.try_date(revoked_on) as revoked_on,
        _extra as extra_columns
    from accepted
)

select * from final
