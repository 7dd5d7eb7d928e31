"""The two national identifiers' alphabets and check characters, once for the Python side.

The warehouse checks codes with its SQL functions (`credit.is_valid_uscc`,
`credit.is_valid_citizen_id`, `db/sql/10_identifiers.sql`); Python code (the simulators, the
benchmarks) computes check characters here, through python-stdnum's public API (`stdnum.cn.uscc`,
`stdnum.cn.ric`) wherever stdnum's rule is the standard's, and by hand only where stdnum has no
function (the GB 11714 organisation code inside a USCC) or judges differently from the warehouse
(a citizen ID's birthplace: see `is_valid_citizen_id`).

Nothing here reads settings or touches a database.
"""

from __future__ import annotations

from datetime import date

from stdnum.cn import ric, uscc

#: GB 32100-2015's 31 characters: digits and capitals without I, O, S, V, Z, in the order their
#: values run (0-30). python-stdnum computes the check character with the same alphabet but keeps
#: it private (`uscc._alphabet`); `tests/test_identifiers.py` holds the two together.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

#: The form `credit.is_valid_uscc` accepts, as a regular expression: registration authority 1-9 or
#: the amendment codes A, N, Y; subject kind 1-9; a 6-digit division; ten characters of the alphabet.
USCC_FORM = rf"^[1-9ANY][1-9][0-9]{{6}}[{USCC_ALPHABET}]{{10}}$"

#: What the 18th character of a resident ID can be (ISO 7064 MOD 11-2, 'X' for 10).
CITIZEN_ID_CHECK_CHARACTERS = "0123456789X"


def uscc_check_character(first17: str) -> str:
    """The GB 32100 mod-31 check character of a USCC's first 17 characters."""
    return uscc.calc_check_digit(first17)


def with_uscc_check_character(first17: str) -> str:
    """The 17 characters with their check character appended."""
    return first17 + uscc_check_character(first17)


def has_uscc_check_character(code: str) -> bool:
    """Whether an 18-character code of the alphabet ends in its check character (nothing else checked)."""
    return uscc_check_character(code[:17]) == code[17]


def organisation_code_check(body8: str) -> str:
    """GB 11714 check character of an 8-character organisation code body (python-stdnum has none)."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, weights, strict=True))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def citizen_id_check_character(first17: str) -> str:
    """GB 11643-1999 check character of a resident ID's first 17 digits: ISO 7064 MOD 11-2, 'X' for 10."""
    return ric.calc_check_digit(first17 + "0")  # stdnum takes the whole number, check digit included


def is_valid_citizen_id(code: str | None) -> bool:
    """Form, birth date and check character (the warehouse's `credit.is_valid_citizen_id`, in Python).

    Not `stdnum.cn.ric.is_valid`: that ties the county code to the birth year, and an ID keeps the
    code of a county abolished since it was issued."""
    if not code or len(code) != 18 or not code[:17].isdigit() or code[17] not in CITIZEN_ID_CHECK_CHARACTERS:
        return False
    try:
        born = date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return False
    return born.year >= 1900 and citizen_id_check_character(code[:17]) == code[17]
