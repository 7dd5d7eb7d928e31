-- Identifier functions, usable by the gate (Great Expectations queries), dbt models and analysts.

-- Normalise a code as departments type it: full-width forms to half-width (U+FF01..U+FF5E and the
-- ideographic space), surrounding white space removed, upper case. [000 §2.4: codes must be
-- validated, never trusted — but a full-width "９１" is the same code typed on a Chinese IME.]
create or replace function credit.normalize_code(code text) returns text
language sql immutable parallel safe as $$
    select case when code is null then null else upper(btrim(
        translate(code,
            '０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ　',
            '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz '),
        E' \t\r\n')) end
$$;

-- Unified Social Credit Code, GB 32100-2015.
-- 18 characters: [1] registration authority, [2] organisation type, [3-8] division code of the
-- registering authority, [9-17] organisation code, [18] check character.
-- Alphabet: 0-9 and A-Z without I, O, S, V, Z (31 characters); the check character is
-- alphabet[(31 - sum(value(c_i) * 3^i mod 31)) mod 31].
-- Registration authorities: 1-9 and the amendment codes A (军队), N (农业农村), Y (其他); the
-- organisation type is 1-9 (python-stdnum demands digits in [1-8] and so rejects real N1/Y1/A1 codes).
-- The input is checked as given; call credit.normalize_code first to accept full-width or padded input.
create or replace function credit.is_valid_uscc(code text) returns boolean
language plpgsql immutable parallel safe as $$
declare
    alphabet constant text := '0123456789ABCDEFGHJKLMNPQRTUWXY';
    weights constant int[] := array[1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28];
    total int := 0;
    pos int;
begin
    if code is null or code !~ '^[1-9ANY][1-9][0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$' then
        return false;
    end if;
    for i in 1..17 loop
        pos := strpos(alphabet, substr(code, i, 1)) - 1;
        total := total + pos * weights[i];
    end loop;
    return substr(alphabet, ((31 - total % 31) % 31) + 1, 1) = substr(code, 18, 1);
end
$$;

-- Resident identity number, GB 11643-1999.
-- 17 digits + ISO 7064 MOD 11-2 check character ('X' for 10). [1-6] the division where the ID
-- was issued: only the province prefix is checked, because an ID keeps the county code of when it
-- was issued and that county may since have been abolished [domain §2]. [7-14] the birth date: a
-- real calendar date, not before 1900 and not in the future.
create or replace function credit.is_valid_citizen_id(code text) returns boolean
language plpgsql stable parallel safe as $$
declare
    total int := 0;
    check_value int;
    birth date;
begin
    if code is null or code !~ '^[0-9]{17}[0-9X]$' then
        return false;
    end if;
    if substr(code, 1, 2) not in ('11','12','13','14','15','21','22','23','31','32','33','34','35',
                                  '36','37','41','42','43','44','45','46','50','51','52','53','54',
                                  '61','62','63','64','65','71','81','82','83') then
        return false;
    end if;
    begin
        birth := to_date(substr(code, 7, 8), 'YYYYMMDD');
    exception when others then
        return false;
    end;
    -- to_date is lenient (20230230 becomes 2023-03-02): insist the date reads back the same.
    if to_char(birth, 'YYYYMMDD') <> substr(code, 7, 8) or birth < date '1900-01-01' or birth > current_date then
        return false;
    end if;
    for i in 1..17 loop
        total := total + substr(code, i, 1)::int * ((2 ^ (18 - i))::int % 11);
    end loop;
    check_value := (12 - total % 11) % 11;
    return substr(code, 18, 1) = case when check_value = 10 then 'X' else check_value::text end;
end
$$;

-- A date typed as text by a department, or null when it is not a real ISO date (YYYY-MM-DD,
-- optionally followed by a time). Lets checks and staging cast without failing the whole query.
create or replace function credit.try_date(value text) returns date
language plpgsql immutable parallel safe as $$
declare
    parsed date;
begin
    if value is null or btrim(value) !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T].*)?$' then
        return null;
    end if;
    parsed := substr(btrim(value), 1, 10)::date;
    return parsed;
exception when others then
    return null;
end
$$;

-- The same for timestamps (with time zone; a value without an offset is read as Beijing time).
create or replace function credit.try_timestamptz(value text) returns timestamptz
language plpgsql stable parallel safe as $$
begin
    if value is null or btrim(value) = '' then
        return null;
    end if;
    -- An explicit offset after a time of day ("…08:30:00+08:00", "…Z") is kept as given.
    if btrim(value) ~ '[0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)? ?([+-][0-9]{2}(:?[0-9]{2})?|Z)$' then
        return btrim(value)::timestamptz;
    end if;
    return btrim(value)::timestamp at time zone 'Asia/Shanghai';
exception when others then
    return null;
end
$$;

-- Text as a department meant it: surrounding white space removed, including the ideographic
-- space U+3000 and no-break space that Chinese forms often carry; empty becomes null. A name of
-- only "　" is a missing name.
create or replace function credit.clean_text(value text) returns text
language sql immutable parallel safe as $$
    select nullif(regexp_replace(value, E'^[\\s\\u3000\\u00a0]+|[\\s\\u3000\\u00a0]+$', '', 'g'), '')
$$;
