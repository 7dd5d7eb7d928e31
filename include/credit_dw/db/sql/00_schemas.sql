-- Schemas of the warehouse, and who reads them (see docs/architecture.md):
--   raw       landed source rows, all text, every row that came in (engineers)
--   meta      ledger of batches, row issues (quarantine), validation results, exports (engineers, office)
--   credit    SQL functions every layer may call (identifier checks, normalisation)
--   reference dbt seeds: divisions, departments, aliases (everyone)
--   staging   dbt staging views over accepted rows (engineers)
--   marts     curated tables for downstream platforms (everyone with a grant)
--   quality   views behind the daily quality report (the province credit office); created by
--             50_quality.sql and the dbt models under models/quality
create schema if not exists raw;
create schema if not exists meta;
create schema if not exists credit;
create schema if not exists reference;
create schema if not exists staging;
create schema if not exists marts;
