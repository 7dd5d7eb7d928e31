"""The identifier SQL functions (include/credit_dw/sql/10_identifiers.sql), run in the real warehouse.

USCC (GB 32100-2015) and resident ID (GB 11643-1999) checks are compared with python-stdnum where the
two should agree, and the places where they deliberately disagree are asserted both ways, so a change
on either side shows up here [rules §2].
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from credit_dw.reference.identifiers import USCC_ALPHABET as ALPHABET  # GB 32100-2015: 0-9, A-Z without I, O, S, V, Z

DIGITS = "0123456789"
ID_CHARS = DIGITS + "X"

# Each example sends a whole batch in one round trip. No shrinking: the assertions already name the
# offending codes, and shrinking lists of hundreds of codes against the database takes minutes.
HYPOTHESIS = settings(
    max_examples=30,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
FEW = settings(HYPOTHESIS, max_examples=5)


def sql_map(conn, function: str, values: list[str | None]) -> dict[str | None, object]:
    """Evaluate credit.<function>(v) for every value in one round trip."""
    rows = conn.execute(f"select v, credit.{function}(v) from unnest(%s::text[]) as v", (values,)).fetchall()
    assert len(rows) == len(values)
    return dict(rows)


def single_character_corruptions(valid: list[str], chars: str) -> list[str]:
    """Every 18-character code one character of `chars` away from a valid one (and not valid itself)."""
    return sorted(
        {code[:i] + ch + code[i + 1 :] for code in valid for i in range(18) for ch in chars if ch != code[i]}
        - set(valid)
    )


def with_uscc_check(body: str) -> str:
    return body + uscc.calc_check_digit(body)


def with_ric_check(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


# ---------------------------------------------------------------------------------------------- USCC


def test_package_alphabet_is_stdnums():
    """The package's USCC alphabet (credit_dw.reference.identifiers) is the one python-stdnum computes
    check characters with: the first weight is 1, so a lone character's check is its value's complement."""
    assert [uscc.calc_check_digit(c) for c in ALPHABET] == [ALPHABET[(31 - v) % 31] for v in range(31)]
    for c in "IOSVZ":
        with pytest.raises(ValueError):
            uscc.calc_check_digit(c)

uscc_body = st.builds(
    lambda a, b, div, org: a + b + div + org,
    st.sampled_from("123456789"),
    st.sampled_from("123456789"),
    st.text(DIGITS, min_size=6, max_size=6),
    st.text(ALPHABET, min_size=9, max_size=9),
)

uscc_code = st.builds(
    lambda body, right, other: body + (uscc.calc_check_digit(body) if right else other),
    uscc_body,
    st.booleans(),
    st.sampled_from(ALPHABET),
)


@HYPOTHESIS
@given(codes=st.lists(uscc_code, min_size=200, max_size=200))
def test_is_valid_uscc_agrees_with_stdnum_on_numeric_prefixes(conn, codes):
    result = sql_map(conn, "is_valid_uscc", codes)
    disagreements = {c: result[c] for c in codes if result[c] is not uscc.is_valid(c)}
    assert disagreements == {}


@pytest.mark.parametrize("prefix", ["N1", "N2", "N3", "Y1", "A1"])
def test_amendment_authority_codes_accepted_though_stdnum_rejects_them(conn, prefix):
    code = with_uscc_check(prefix + "130100" + "MA0CNTK3X")
    assert conn.execute("select credit.is_valid_uscc(%s)", (code,)).fetchone()[0] is True
    # python-stdnum demands digits in the first 8 characters: documented disagreement.
    assert uscc.is_valid(code) is False
    # ... and a wrong check character on such a code is still rejected.
    wrong = code[:-1] + ALPHABET[(ALPHABET.index(code[-1]) + 1) % 31]
    assert conn.execute("select credit.is_valid_uscc(%s)", (wrong,)).fetchone()[0] is False


@FEW
@given(bodies=st.lists(uscc_body, min_size=3, max_size=3, unique=True))
def test_every_single_character_corruption_of_a_uscc_is_rejected(conn, bodies):
    valid = [with_uscc_check(b) for b in bodies]
    corrupted = single_character_corruptions(valid, ALPHABET)
    result = sql_map(conn, "is_valid_uscc", valid + corrupted)
    assert all(result[c] is True for c in valid)
    assert [c for c in corrupted if result[c] is not False] == []


@pytest.mark.parametrize(
    "code",
    [
        "lowercase",  # the valid code's lower case
        "  {}\t",
        "\t{} \r\n",
        "fullwidth",
        "fullwidth-lower",
        "\u3000fullwidth\u3000",
    ],
)
def test_uscc_rejected_as_typed_but_accepted_after_normalize_code(conn, code):
    valid = with_uscc_check("91130100MA0CNTK3X")
    full = "".join(chr(ord(c) + 0xFEE0) for c in valid)
    typed = {
        "lowercase": valid.lower(),
        "fullwidth": full,
        "fullwidth-lower": full.lower(),  # str.lower maps full-width A-Z to full-width a-z
        "\u3000fullwidth\u3000": "\u3000" + full + "\u3000",
    }.get(code, code.format(valid))
    assert typed != valid
    normalized, as_typed, after = conn.execute(
        "select credit.normalize_code(%(c)s), credit.is_valid_uscc(%(c)s),"
        " credit.is_valid_uscc(credit.normalize_code(%(c)s))",
        {"c": typed},
    ).fetchone()
    assert normalized == valid
    assert as_typed is False  # the input is checked as given
    assert after is True


def test_null_and_full_width_citizen_id(conn):
    assert conn.execute("select credit.normalize_code(null)").fetchone()[0] is None
    assert conn.execute("select credit.is_valid_uscc(null)").fetchone()[0] is False
    assert conn.execute("select credit.is_valid_citizen_id(null)").fetchone()[0] is False
    # A full-width citizen ID with a lower-case x normalises as well.
    valid = "11010519491231002X"
    assert ric.is_valid(valid)
    full = "".join(chr(ord(c) + 0xFEE0) for c in valid[:-1]) + "ｘ"
    assert conn.execute(
        "select credit.normalize_code(%s), credit.is_valid_citizen_id(credit.normalize_code(%s))", (full, full)
    ).fetchone() == (valid, True)


# --------------------------------------------------------------------------------------- citizen ID

# Current Hebei county codes that python-stdnum knows from 1983 on.
HEBEI_COUNTIES = ["130102", "130104", "130105", "130203", "130602"]
TODAY = dt.date.today()

id_body = st.builds(
    lambda county, birth, seq: county + birth.strftime("%Y%m%d") + f"{seq:03d}",
    st.sampled_from(HEBEI_COUNTIES),
    st.dates(min_value=dt.date(1983, 1, 1), max_value=TODAY - dt.timedelta(days=2)),
    st.integers(0, 999),
)


@HYPOTHESIS
@given(bodies=st.lists(id_body, min_size=50, max_size=50))
def test_citizen_id_check_character_agrees_with_stdnum(conn, bodies):
    candidates = [b + ch for b in bodies for ch in ID_CHARS]
    result = sql_map(conn, "is_valid_citizen_id", candidates)
    for body in bodies:
        right = ric.calc_check_digit(body + "0")
        for ch in ID_CHARS:
            code = body + ch
            assert result[code] is ric.is_valid(code), code
            assert result[code] is (ch == right), code


def test_x_check_character_accepted(conn):
    body = next(
        b
        for b in (f"130102199003{d:02d}{s:03d}" for d in range(1, 29) for s in range(1000))
        if ric.calc_check_digit(b + "0") == "X"
    )
    code = body + "X"
    assert ric.is_valid(code)
    assert conn.execute("select credit.is_valid_citizen_id(%s)", (code,)).fetchone()[0] is True
    assert conn.execute("select credit.is_valid_citizen_id(%s)", (body + "0",)).fetchone()[0] is False


@pytest.mark.parametrize("county", ["110105", "440301", "310115", "650102"])
def test_other_provinces_accepted(conn, county):
    code = with_ric_check(county + "20000307" + "123")
    assert ric.is_valid(code)
    assert conn.execute("select credit.is_valid_citizen_id(%s)", (code,)).fetchone()[0] is True


def test_abolished_county_code_accepted_though_stdnum_rejects(conn):
    # 130182 藁城市 (1993-2014): someone born in 1990 got the code at first issue, and keeps it.
    code = with_ric_check("130182" + "19900615" + "031")
    assert conn.execute("select credit.is_valid_citizen_id(%s)", (code,)).fetchone()[0] is True
    assert ric.is_valid(code) is False  # stdnum ties the county to the birth year: documented
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    assert conn.execute("select credit.is_valid_citizen_id(%s)", (wrong,)).fetchone()[0] is False


def test_future_birth_date_rejected_though_stdnum_accepts(conn):
    future = TODAY + dt.timedelta(days=400)
    code = with_ric_check("110105" + future.strftime("%Y%m%d") + "012")
    assert ric.is_valid(code) is True  # stdnum does not look at the calendar: documented
    assert conn.execute("select credit.is_valid_citizen_id(%s)", (code,)).fetchone()[0] is False
    yesterday = with_ric_check("110105" + (TODAY - dt.timedelta(days=2)).strftime("%Y%m%d") + "012")
    assert conn.execute("select credit.is_valid_citizen_id(%s)", (yesterday,)).fetchone()[0] is True


@pytest.mark.parametrize(
    "birth",
    ["20230230", "20230229", "19991301", "19990001", "19990100", "18991231", "00000000"],
)
def test_impossible_or_too_early_birth_date_rejected(conn, birth):
    code = with_ric_check("130102" + birth + "123")
    assert conn.execute("select credit.is_valid_citizen_id(%s)", (code,)).fetchone()[0] is False


def test_leap_day_birth_date_accepted(conn):
    code = with_ric_check("130102" + "20000229" + "123")
    assert conn.execute("select credit.is_valid_citizen_id(%s)", (code,)).fetchone()[0] is True


@pytest.mark.parametrize("province", ["99", "00", "10", "24", "80"])
def test_unknown_province_prefix_rejected(conn, province):
    code = with_ric_check(province + "0102" + "19900307" + "123")
    assert conn.execute("select credit.is_valid_citizen_id(%s)", (code,)).fetchone()[0] is False


@pytest.mark.parametrize(
    "code", ["", "13010219900307123", "1301021990030712345", "13010219900307123x", "A30102199003071234"]
)
def test_malformed_citizen_id_rejected(conn, code):
    assert conn.execute("select credit.is_valid_citizen_id(%s)", (code,)).fetchone()[0] is False


@FEW
@given(bodies=st.lists(id_body, min_size=4, max_size=4, unique=True))
def test_every_single_character_corruption_of_a_citizen_id_is_rejected(conn, bodies):
    valid = [with_ric_check(b) for b in bodies]
    corrupted = single_character_corruptions(valid, ID_CHARS)
    result = sql_map(conn, "is_valid_citizen_id", valid + corrupted)
    assert all(result[c] is True for c in valid)
    assert [c for c in corrupted if result[c] is not False] == []


# ------------------------------------------------------------------------------- try_date / timestamptz


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "abc",
        "2024-13-01",
        "2023-02-29",
        "2024-02-30",
        "2024-00-10",
        "24-02-29",
        "2024/02/29",
        "2024-02-29x",
    ],
)
def test_try_date_returns_null_for_garbage(conn, value):
    assert conn.execute("select credit.try_date(%s)", (value,)).fetchone()[0] is None


@pytest.mark.parametrize("value", ["2024-02-29", "2024-02-29 10:00:00", " 2024-02-29T23:59:59+08:00 "])
def test_try_date_reads_the_date(conn, value):
    assert conn.execute("select credit.try_date(%s)", (value,)).fetchone()[0] == dt.date(2024, 2, 29)


UTC = dt.UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20 08:00:00", dt.datetime(2026, 11, 20, 0, 0, tzinfo=UTC)),  # Beijing time
        ("2026-11-20T08:00:00", dt.datetime(2026, 11, 20, 0, 0, tzinfo=UTC)),
        ("2026-11-20T08:00:00+00:00", dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC)),  # offset kept
        ("2026-11-20 08:00:00Z", dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC)),
        ("2026-11-20 08:00:00-05", dt.datetime(2026, 11, 20, 13, 0, tzinfo=UTC)),
        ("2026-11-20", dt.datetime(2026, 11, 19, 16, 0, tzinfo=UTC)),  # bare date: Beijing midnight
        (" 2026-11-20 08:00 ", dt.datetime(2026, 11, 20, 0, 0, tzinfo=UTC)),
    ],
)
def test_try_timestamptz(conn, value, expected):
    got, equal = conn.execute(
        "select credit.try_timestamptz(%(v)s), credit.try_timestamptz(%(v)s) = %(e)s", {"v": value, "e": expected}
    ).fetchone()
    assert got == expected
    assert equal is True


@pytest.mark.parametrize("session_tz", ["UTC", "America/New_York", "Asia/Shanghai"])
def test_try_timestamptz_does_not_depend_on_session_time_zone(conn, session_tz):
    conn.execute("select set_config('TimeZone', %s, false)", (session_tz,))
    got = conn.execute("select credit.try_timestamptz('2026-11-20 08:00:00')").fetchone()[0]
    assert got == dt.datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "abc", "2026-13-20 08:00:00", "2026-11-20 25:00:00"])
def test_try_timestamptz_returns_null_for_garbage(conn, value):
    assert conn.execute("select credit.try_timestamptz(%s)", (value,)).fetchone()[0] is None
