"""The courts' lists (dishonest judgment debtors, false-litigation persons): who is listed and
which listings carry a defect, shared by `court_debtors` and `court_false_litigants`.

Apart from `common` because it draws from the simulated enterprises (`enterprises`), which build on
`common` themselves.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from datetime import date

import credit_dw.simulate.identities as ids
from credit_dw.simulate.common import day_id_range
from credit_dw.simulate.enterprises import Enterprise

#: The two kinds of subject on the courts' lists (被执行人类型, 类型).
KIND_PERSON = "自然人"
KIND_ORGANISATION = "法人或其他组织"
#: Defect kinds of the courts' lists that need a subject of one kind (the rest go to any row).
PERSON_DEFECT = "bad_citizen_id_check_character"
ORGANISATION_DEFECT = "bad_uscc_check_character"


def listing_kinds(rng: random.Random, count: int, person_share: float) -> list[str]:
    """The kind of subject of each of `count` new listings: a person with probability `person_share`."""
    return [KIND_PERSON if rng.random() < person_share else KIND_ORGANISATION for _ in range(count)]


def listed_subjects(rng: random.Random, logical_date: date, kinds: Sequence[str],
                    enterprises: Iterable[Enterprise]) -> Iterator[tuple[int, str, ids.RegistrationDivision,
                                                                          Enterprise | None]]:
    """(id, kind, division, enterprise) of each of D's new listings, in the order of `kinds`.

    An organisation is the next of `enterprises`, in its registered division; when they run out a
    person is listed instead. A person's division is drawn by population weight. Lazy: the caller
    draws the rest of a listing from `rng` before the next subject is drawn, so every simulator
    keeps its own order of draws (and its rows) whatever it adds to a listing.
    """
    divisions = ids.registration_divisions()
    by_code = {d.code: d for d in divisions}
    weights = ids.division_weights(divisions)
    first_id, _ = day_id_range(logical_date)
    remaining = iter(enterprises)
    for seq, kind in enumerate(kinds):
        enterprise = next(remaining, None) if kind == KIND_ORGANISATION else None
        if kind == KIND_ORGANISATION and enterprise is None:
            kind = KIND_PERSON  # fewer enterprises than asked for: list a person instead
        division = by_code[enterprise.division_code] if enterprise else rng.choices(divisions, weights=weights)[0]
        yield first_id + seq, kind, division, enterprise


def listing_defects(rng: random.Random, kinds: Sequence[str], defect_kinds: Sequence[str],
                    count: int) -> Iterator[tuple[str, int]]:
    """(defect kind, row index) for `count` defects among listings of subjects `kinds`, one per row.

    The defect kinds take turns; a bad citizen ID goes to a person, a bad USCC to an organisation,
    any other kind to any row; a turn whose rows are used up passes. Lazy, like `listed_subjects`:
    the caller's draws for one defect come before the next row is picked.
    """
    persons = [i for i, kind in enumerate(kinds) if kind == KIND_PERSON]
    organisations = [i for i, kind in enumerate(kinds) if kind == KIND_ORGANISATION]
    used: set[int] = set()
    for k in range(count):
        defect = defect_kinds[k % len(defect_kinds)]
        pool = persons if defect == PERSON_DEFECT else organisations if defect == ORGANISATION_DEFECT \
            else range(len(kinds))
        candidates = [i for i in pool if i not in used]
        if not candidates:
            continue
        i = rng.choice(candidates)
        used.add(i)
        yield defect, i
