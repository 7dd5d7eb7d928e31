-- The keyed hash that stands for a natural person's resident ID number outside raw
-- [rules §9; 001 2017 §5.1-5.2]. An 18-digit ID has a known structure (division, birth date,
-- sequence, check digit): an unkeyed hash of it is reversed by trying every plausible ID, so marts
-- carry HMAC-SHA256 with a secret key, or a masked ID, never the clear number or a plain hash.
--
-- The key comes from the environment (CREDIT_DW_SUBJECT_HASH_KEY) and is installed by
-- credit_dw.privacy.install_hash_key() into restricted.subject_hash_key, which only the warehouse
-- owner reads (docs/privacy.md). The table holds the HMAC inner and outer pads (key xor 0x36 /
-- 0x5c, RFC 2104): as secret as the key itself, but each hash is then two sha256 calls.
-- PostgreSQL's built-in sha256() is used rather than pgcrypto's hmac(): the embedded server of
-- the tests ships no pgcrypto, and the result is the same HMAC-SHA256 on any PostgreSQL >= 11.

create schema if not exists restricted;
revoke all on schema restricted from public;
comment on schema restricted is
    'Secrets the warehouse needs in SQL (the subject hash key); engineers only, never granted to readers.';

create table if not exists restricted.subject_hash_key (
    key_id          smallint primary key default 1 check (key_id = 1),
    inner_pad       bytea not null check (length(inner_pad) = 64),
    outer_pad       bytea not null check (length(outer_pad) = 64),
    key_fingerprint text not null,
    installed_at    timestamptz not null default now()
);
revoke all on restricted.subject_hash_key from public;
comment on table restricted.subject_hash_key is
    'HMAC-SHA256 pads of CREDIT_DW_SUBJECT_HASH_KEY (one row), written by credit_dw.privacy.install_hash_key.';

-- HMAC-SHA256 of a resident ID as 64 lower-case hex characters; null for null. The ID is
-- normalised first (credit.normalize_code: full-width to half-width, trimmed, upper-case 'X'),
-- so the same person hashes alike whichever feed typed the number.
-- SECURITY DEFINER: callers use the key without reading it. Execute is revoked from public: a
-- caller who may hash arbitrary IDs can brute-force any hash, so only the role running dbt gets it.
create or replace function credit.subject_hash(id text) returns text
language plpgsql stable strict security definer
set search_path = pg_catalog, pg_temp as $$
declare
    ipad bytea;
    opad bytea;
begin
    select k.inner_pad, k.outer_pad into ipad, opad from restricted.subject_hash_key k where k.key_id = 1;
    if not found then
        raise exception 'no subject hash key installed in restricted.subject_hash_key'
            using hint = 'run credit_dw.privacy.install_hash_key() (set CREDIT_DW_SUBJECT_HASH_KEY first)';
    end if;
    return encode(sha256(opad || sha256(ipad || convert_to(credit.normalize_code(id), 'UTF8'))), 'hex');
end
$$;
revoke all on function credit.subject_hash(text) from public;
