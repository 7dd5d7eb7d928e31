-- Identifier functions, usable by the gate (Great Expectations queries), dbt models and analysts.

-- Normalise a code as departments type it: full-width forms to half-width (U+FF01..U+FF5E and the
-- ideographic space), surrounding white space removed, upper case. [000 §2.4: codes must be
-- validated, never trusted — but a full-width "９１" is the same code typed on a Chinese IME.]
create or replace function credit.normalize_code(code text) returns text
language sql immutable parallel safe as $$
    select case
        when code is null then null
        -- Only single-byte (ASCII) characters: nothing to translate. The usual case, and ten times
        -- cheaper than translate() over the multibyte table (docs/benchmarks.md, "Validation").
        when octet_length(code) = length(code) then upper(btrim(code, E' \t\r\n'))
        else upper(btrim(
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
    -- The value of each character, indexed by its byte - 47: '0'-'9' are 0-9, 'A'-'Y' without
    -- I, O, S (and V) are 10-30; anything else (lower case, Z, punctuation, a byte of a multibyte
    -- character) is out of the array or null, and a null value makes the code invalid.
    char_value constant int[] := array[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, null, null, null, null, null, null, null,
        10, 11, 12, 13, 14, 15, 16, 17, null, 18, 19, 20, 21, 22, null, 23, 24, 25, null, 26, 27, null, 28, 29, 30];
    b bytea;
    v int[];
begin
    -- One expression over the bytes instead of a regex and a loop over characters: this runs once
    -- or twice per landed row in the gate, and the loop cost ~8 µs a call (docs/benchmarks.md).
    if code is null or octet_length(code) <> 18 then
        return false;
    end if;
    b := textsend(code);  -- the bytes as stored (a cast to bytea would read backslash escapes)
    v := array[char_value[get_byte(b, 0) - 47], char_value[get_byte(b, 1) - 47], char_value[get_byte(b, 2) - 47],
               char_value[get_byte(b, 3) - 47], char_value[get_byte(b, 4) - 47], char_value[get_byte(b, 5) - 47],
               char_value[get_byte(b, 6) - 47], char_value[get_byte(b, 7) - 47], char_value[get_byte(b, 8) - 47],
               char_value[get_byte(b, 9) - 47], char_value[get_byte(b, 10) - 47], char_value[get_byte(b, 11) - 47],
               char_value[get_byte(b, 12) - 47], char_value[get_byte(b, 13) - 47], char_value[get_byte(b, 14) - 47],
               char_value[get_byte(b, 15) - 47], char_value[get_byte(b, 16) - 47], char_value[get_byte(b, 17) - 47]];
    return coalesce(
        -- [1] 1-9 or A (10), N (22), Y (30); [2] 1-9; [3-8] digits; [9-18] any of the alphabet
        (v[1] between 1 and 9 or v[1] in (10, 22, 30)) and v[2] between 1 and 9
        and greatest(v[3], v[4], v[5], v[6], v[7], v[8]) <= 9 and array_position(v, null) is null
        -- the check character, weights 3^(i-1) mod 31
        and (31 - (v[1] + v[2] * 3 + v[3] * 9 + v[4] * 27 + v[5] * 19 + v[6] * 26 + v[7] * 16 + v[8] * 17
                   + v[9] * 20 + v[10] * 29 + v[11] * 25 + v[12] * 13 + v[13] * 8 + v[14] * 24 + v[15] * 10
                   + v[16] * 30 + v[17] * 28) % 31) % 31 = v[18],
        false);
end
$$;

-- Resident identity number, GB 11643-1999.
-- 17 digits + ISO 7064 MOD 11-2 check character ('X' for 10). [1-6] the division where the ID
-- was issued: only the province prefix is checked, because an ID keeps the county code of when it
-- was issued and that county may since have been abolished [rules §2]. [7-14] the birth date: a
-- real calendar date, not before 1900 and not in the future.
create or replace function credit.is_valid_citizen_id(code text) returns boolean
language plpgsql stable parallel safe as $$
declare
    total int := 0;
    check_value int;
    y int;
    m int;
    d int;
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
    -- A real calendar date, checked by arithmetic: no exception block, whose subtransaction per
    -- call makes a function unfit for parallel plans (see credit.try_date).
    y := substr(code, 7, 4)::int;
    m := substr(code, 11, 2)::int;
    d := substr(code, 13, 2)::int;
    if y < 1900 or m not between 1 and 12 or d not between 1 and 31 then
        return false;
    end if;
    birth := make_date(y, m, 1) + (d - 1);
    if extract(month from birth) <> m or birth > current_date then  -- 31 April, 29 February 2023
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
-- No exception block: PostgreSQL starts a subtransaction for every call of a block with an
-- EXCEPTION clause, which the docs rule out for functions marked PARALLEL SAFE; in a parallel
-- `create table … as` (the gate's quarantine step, dbt table models) such calls silently
-- returned null in one process. The date is checked by arithmetic instead.
create or replace function credit.try_date(value text) returns date
language plpgsql immutable parallel safe as $$
declare
    b bytea := textsend(btrim(value));
    y int;
    m int;
    d int;
    parsed date;
begin
    -- The form YYYY-MM-DD, then nothing or [ T]…, read from the bytes (48-57 digits, 45 '-', 32
    -- space, 84 'T'): the gate calls this three times per row, and a regex costs ~1 µs a call.
    if b is null or octet_length(b) < 10
       or not (get_byte(b, 0) between 48 and 57 and get_byte(b, 1) between 48 and 57
               and get_byte(b, 2) between 48 and 57 and get_byte(b, 3) between 48 and 57
               and get_byte(b, 4) = 45 and get_byte(b, 5) between 48 and 57 and get_byte(b, 6) between 48 and 57
               and get_byte(b, 7) = 45 and get_byte(b, 8) between 48 and 57 and get_byte(b, 9) between 48 and 57)
       or (octet_length(b) > 10 and get_byte(b, 10) not in (32, 84)) then
        return null;
    end if;
    y := (get_byte(b, 0) - 48) * 1000 + (get_byte(b, 1) - 48) * 100 + (get_byte(b, 2) - 48) * 10 + get_byte(b, 3) - 48;
    m := (get_byte(b, 5) - 48) * 10 + get_byte(b, 6) - 48;
    d := (get_byte(b, 8) - 48) * 10 + get_byte(b, 9) - 48;
    if y = 0 or m not between 1 and 12 or d not between 1 and 31 then  -- there is no year 0
        return null;
    end if;
    parsed := make_date(y, m, 1) + (d - 1);
    if extract(month from parsed) <> m then  -- 31 April, 29 February of a common year
        return null;
    end if;
    return parsed;
end
$$;

-- The same for timestamps (with time zone; a value without an offset is read as Beijing time).
-- Free-form timestamps cannot be checked by hand: on PostgreSQL 16 and later pg_input_is_valid()
-- asks the type's own input function without raising (parallel safe, no subtransaction); before
-- 16 the cast is tried in an exception block and the function is marked PARALLEL UNSAFE, as the
-- documentation requires for such blocks.
do $do$
begin
    if current_setting('server_version_num')::int >= 160000 then
        execute $fn$
        create or replace function credit.try_timestamptz(value text) returns timestamptz
        language plpgsql stable parallel safe as $$
        declare
            v text := btrim(value);
            beijing timestamp;
        begin
            if v is null or v = '' then
                return null;
            end if;
            -- An explicit offset after a time of day ("…08:30:00+08:00", "…Z") is kept as given.
            if v ~ '[0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)? ?([+-][0-9]{2}(:?[0-9]{2})?|Z)$' then
                if pg_input_is_valid(v, 'timestamptz') then
                    return v::timestamptz;
                end if;
                return null;
            end if;
            if not pg_input_is_valid(v, 'timestamp') then
                return null;
            end if;
            beijing := v::timestamp;
            -- Beijing time is ahead of UTC: the first hours of 4714-11-24 BC have no timestamptz.
            if beijing < timestamp '4714-11-25 00:00:00 BC' then
                return null;
            end if;
            return beijing at time zone 'Asia/Shanghai';
        end
        $$
        $fn$;
    else
        execute $fn$
        create or replace function credit.try_timestamptz(value text) returns timestamptz
        language plpgsql stable parallel unsafe as $$
        begin
            if value is null or btrim(value) = '' then
                return null;
            end if;
            if btrim(value) ~ '[0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)? ?([+-][0-9]{2}(:?[0-9]{2})?|Z)$' then
                return btrim(value)::timestamptz;
            end if;
            return btrim(value)::timestamp at time zone 'Asia/Shanghai';
        exception when others then
            return null;
        end
        $$
        $fn$;
    end if;
end
$do$;

-- Text as a department meant it: surrounding white space removed, including the ideographic
-- space U+3000 and no-break space that Chinese forms often carry; empty becomes null. A name of
-- only "　" is a missing name.
create or replace function credit.clean_text(value text) returns text
language sql immutable parallel safe as $$
    select nullif(regexp_replace(value, E'^[\\s\\u3000\\u00a0]+|[\\s\\u3000\\u00a0]+$', '', 'g'), '')
$$;
