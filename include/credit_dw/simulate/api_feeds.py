"""What the simulators of the HTTP-API feeds share: subjects, times, defects and the day file.

The five API feeds (`tax_a_level`, `tax_arrears`, `housing_fund`, `credit_commitments`,
`objections`) each write one JSON file per logical date under
`$CREDIT_DW_HOME/simulated_api/<source_id>/<date>.json`, which `api_server` pages out. A
simulator builds its records in memory from `random.Random` streams seeded by (feed, seed, date)
and writes the file atomically, so a rerun writes the same file (idempotent) and a reader never
sees half of one.

Subjects are shared across feeds [preamble: consistent subjects]: when the market-registry source
database holds subjects (`registry.t_sczt_djxx`), a feed draws enterprises and individual
businesses registered by the logical date from it (clean rows only: a valid code carrying one
name, a known division, 存续/在业), ordered by a hash of (feed, seed, date, id). Without that
database — or short of subjects — they come from one generated pool per (seed, date), the same
for every feed, so the tax and housing-fund feeds of a night still talk about the same companies.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

from stdnum.cn import uscc as _uscc

import credit_dw.simulate.identities as ids
from credit_dw.config import settings
from credit_dw.simulate.api_server import write_day
from credit_dw.simulate.common import SimulationSummary, day_id_range

log = logging.getLogger(__name__)

KIND_ENTERPRISE = "企业"
KIND_INDIVIDUAL = "个体工商户"
DEFAULT_DEFECT_SHARE = 0.05

#: Dates as departments mistype them: impossible days, other separators, no separators, month 13.
BAD_DATES = ("{y}-02-30", "{y}/{m:02d}/{d:02d}", "{y}{m:02d}{d:02d}", "{y}-13-{d:02d}", "{d:02d}.{m:02d}.{y}")


@dataclass(frozen=True)
class Subject:
    uscc: str
    name: str
    kind: str
    legal_representative: str
    division_code: str
    registered_on: date

    @property
    def division(self) -> ids.RegistrationDivision:
        return divisions_by_code()[self.division_code]


@cache
def divisions_by_code() -> dict[str, ids.RegistrationDivision]:
    return {d.code: d for d in ids.registration_divisions()}


def rng_for(source_id: str, seed: int, logical_date: date, stream: str) -> random.Random:
    # String seeds are hashed with SHA-512: stable across processes and Python versions.
    return random.Random(f"{source_id}:{seed}:{logical_date.isoformat()}:{stream}")


def stable_digits(text: str, n: int) -> str:
    """n decimal digits derived from text (an account number that stays the same for a subject)."""
    return str(int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16))[-n:].zfill(n)


def change_time(rng: random.Random, day: date) -> str:
    """A time inside the day as the interfaces send it: Beijing local time, no offset, mostly office hours."""
    second = rng.randint(8 * 3600 + 1800, 18 * 3600) if rng.random() < 0.85 else rng.randint(0, 86399)
    return (datetime.combine(day, time(0)) + timedelta(seconds=second)).strftime("%Y-%m-%d %H:%M:%S")


def money(rng: random.Random, low: float, high: float) -> float:
    """An amount in yuan with fen, log-uniform between low and high (most are small)."""
    import math

    return round(math.exp(rng.uniform(math.log(low), math.log(high))), 2)


# --- subjects -----------------------------------------------------------------------------

def _generated_pool(logical_date: date, seed: int, n: int, kinds: Sequence[str]) -> list[Subject]:
    """The first n subjects of the night's generated stream (feed-independent), filtered by kind."""
    rng = random.Random(f"api_subjects:{seed}:{logical_date.isoformat()}")
    divisions = ids.registration_divisions()
    weights = ids.division_weights(divisions)
    out: list[Subject] = []
    used: set[str] = set()
    while len(out) < n:
        division = rng.choices(divisions, weights=weights)[0]
        kind = KIND_INDIVIDUAL if rng.random() < 0.3 else KIND_ENTERPRISE
        back = min(int(rng.expovariate(1 / (365 * 6))), 365 * 30) + 30
        registered = logical_date - timedelta(days=back)
        code = ids.make_uscc(rng, division.code, kind="2" if kind == KIND_INDIVIDUAL else "1",
                             registered_on=registered)
        person = ids.person_name(rng)
        name = (ids.enterprise_name(rng, division.place, division.city_name) if kind == KIND_ENTERPRISE
                else ids.individual_business_name(rng, division.place, person))
        if code in used or kind not in kinds:
            continue
        used.add(code)
        out.append(Subject(code, name, kind, person, division.code, registered))
    return out


def _registry_subjects(source_id: str, logical_date: date, seed: int, n: int,
                       kinds: Sequence[str]) -> list[Subject]:
    """Up to n clean subjects from the market-registry source database; [] when it is not there."""
    import psycopg

    try:
        url = settings.libpq_url(settings.source_url("market_registry"))
        with psycopg.connect(url, connect_timeout=3) as conn:
            if conn.execute("select to_regclass('registry.t_sczt_djxx')").fetchone()[0] is None:
                return []
            next_day_first_id, _ = day_id_range(logical_date + timedelta(days=1))
            rows = conn.execute(
                """select tyshxydm, ztmc, ztlx, fddbr, djjg_xzqh, clrq from registry.t_sczt_djxx t
                   where id < %(next_id)s and clrq <= %(day)s and ztlx = any(%(kinds)s)
                     and djzt in ('存续', '在业') and tyshxydm ~ '^[0-9A-Z]+$' and length(tyshxydm) = 18
                     and not exists (select 1 from registry.t_sczt_djxx o
                                     where o.tyshxydm = t.tyshxydm and o.ztmc is distinct from t.ztmc)
                   order by md5(%(salt)s || id::text), id
                   limit %(limit)s""",
                {"next_id": next_day_first_id, "day": logical_date, "kinds": list(kinds),
                 "salt": f"{source_id}:{seed}:{logical_date.isoformat()}:", "limit": 2 * n},
            ).fetchall()
    except Exception as exc:  # no warehouse, no registry database: generate instead
        log.debug("registry subjects unavailable (%s); generating", exc)
        return []
    known = divisions_by_code()
    out, seen = [], set()
    for code, name, kind, person, division, registered in rows:
        if (code in seen or not _uscc.is_valid(code) or not (name or "").strip() or division not in known
                or not person):
            continue
        seen.add(code)
        out.append(Subject(code, name.strip(), kind, person, division, registered))
        if len(out) == n:
            break
    return out


def subjects_for(source_id: str, logical_date: date, n: int, *, seed: int,
                 kinds: Sequence[str] = (KIND_ENTERPRISE,)) -> list[Subject]:
    """n distinct subjects for a feed's night: registry subjects first, generated ones to fill up."""
    chosen = _registry_subjects(source_id, logical_date, seed, n, kinds)
    if len(chosen) < n:
        have = {s.uscc for s in chosen}
        pool = [s for s in _generated_pool(logical_date, seed, 2 * n, kinds) if s.uscc not in have]
        rng_for(source_id, seed, logical_date, "pool").shuffle(pool)
        chosen += pool[: n - len(chosen)]
    return chosen


# --- defects ------------------------------------------------------------------------------

def bad_date(rng: random.Random, day: date) -> str:
    return rng.choice(BAD_DATES).format(y=day.year, m=day.month, d=day.day)


def blank(rng: random.Random) -> str | None:
    """How a missing value arrives: null, empty, blanks, an ideographic space."""
    return rng.choice([None, "", "  ", "\u3000"])


def inject_defects(
    rng: random.Random,
    records: list[dict],
    kinds: Sequence[str],
    share: float,
    apply: Callable[[str, dict], None],
) -> dict[str, int]:
    """Give round(share * n) records one defect each, kinds in turn; returns kind -> count."""
    if not 0 <= share <= 0.5:
        raise ValueError(f"defect_share must be between 0 and 0.5: {share}")
    counts = dict.fromkeys(kinds, 0)
    picked = rng.sample(range(len(records)), round(share * len(records)))
    for k, i in enumerate(sorted(picked)):
        kind = kinds[k % len(kinds)]
        apply(kind, records[i])
        counts[kind] += 1
    return counts


def apply_common_defect(kind: str, record: dict, rng: random.Random, *, uscc_key: str, name_key: str,
                        date_key: str, day: date) -> bool:
    """The defects every feed shares; False when `kind` is not one of them."""
    if kind == "bad_check_character":
        record[uscc_key] = ids.wrong_check_character(rng, record[uscc_key])
    elif kind == "missing_name":
        value = blank(rng)
        if value is None and rng.random() < 0.5:
            record.pop(name_key, None)  # the key left out altogether
        else:
            record[name_key] = value
    elif kind == "bad_date":
        record[date_key] = bad_date(rng, day)
    else:
        return False
    return True


def finish(source_id: str, logical_date: date, records: list[dict], defects: dict[str, int], *,
           seed: int, scale: int) -> SimulationSummary:
    """Write the day file and summarise."""
    path = write_day(source_id, logical_date, records, {"seed": seed, "scale": scale})
    log.info("%s %s: %d records to %s, defects %s", source_id, logical_date, len(records), path, defects)
    return SimulationSummary.of(source_id, logical_date, defects, inserted=len(records))


def simulator(source_id: str, generate: Callable[..., tuple[list[dict], dict[str, int]]]
              ) -> Callable[..., SimulationSummary]:
    """A feed's `simulate` (the catalog convention): `generate`'s records of D into D's day file."""

    def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122,
                 defect_share: float = DEFAULT_DEFECT_SHARE) -> SimulationSummary:
        records, defects = generate(logical_date, scale=scale, seed=seed, defect_share=defect_share)
        return finish(source_id, logical_date, records, defects, seed=seed, scale=scale)

    return simulate


def check_scale(scale: int) -> None:
    if not 1 <= scale <= 10_000:
        raise ValueError(f"scale must be between 1 and 10000: {scale}")
