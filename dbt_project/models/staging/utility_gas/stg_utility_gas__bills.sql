-- Accepted 供气缴费及欠费 rows that may be used: a natural person's (个人) row only with the person's
-- authorisation (是否授权 Y) [rules §4], an authorised person only as a keyed hash and a masked ID
-- [rules §9; 001 2017 §5.1]. The three utility feeds share one body: macro stg_utility_bills
-- (macros/utility_bills.sql) says what it does and why.
{{ stg_utility_bills('utility_gas') }}
