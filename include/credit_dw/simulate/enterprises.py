"""The enterprise pool the feed simulators draw organisations from.

Valid enterprises from the simulated market-registry database when it has them (one enterprise,
many feeds), else a fixed generated pool per (seed, scale). Below every feed simulator.
"""

from __future__ import annotations

import logging
import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from stdnum.cn import uscc as _uscc

import credit_dw.simulate.identities as ids
from credit_dw.config import settings
from credit_dw.simulate.common import day_id_range, seeded_rng

log = logging.getLogger(__name__)

#: The market registry's table (the registry simulator writes it; the pool reads it).
REGISTRY_SCHEMA = "registry"
REGISTRY_TABLE = f"{REGISTRY_SCHEMA}.t_sczt_djxx"
FALLBACK_POOL_PER_SCALE = 400
#: The pool's random streams carry the feed it was first drawn for, so seeded pools stay the same.
POOL_SOURCE_ID = "social_insurance"


@dataclass(frozen=True)
class Enterprise:
    """An employer / debtor organisation as another department knows it."""

    uscc: str
    name: str
    division_code: str
    legal_representative: str | None


def _rng(seed: int, logical_date: date | None, stream: str) -> random.Random:
    return seeded_rng(POOL_SOURCE_ID, seed, logical_date, stream)


def normalise_code(code: str | None) -> str:
    """NFKC (full-width → half-width), trimmed, upper case: how the registry's reshaped codes read."""
    return unicodedata.normalize("NFKC", code or "").strip().upper()


def current_county_codes() -> set[str]:
    return {d.code for d in ids.registration_divisions()}


def registry_enterprises(logical_date: date, *, seed: int, stream: str, count: int) -> list[Enterprise] | None:
    """Up to `count` valid enterprises from the market-registry database, or None when it is absent.

    Only subjects created on or before D (the registry's id encodes its creation date) and only
    columns the registry never changes afterwards, so the draw does not depend on later nights.
    Registry defects are left out: bad codes, blank names, unknown divisions, future dates, codes
    under two names (重错码) — another department knows the enterprise by its correct code.
    """
    import psycopg
    from psycopg import errors

    _, last_id = day_id_range(logical_date)
    url = settings.libpq_url(settings.source_url("market_registry"))
    try:
        conn = psycopg.connect(url, connect_timeout=10)
    except psycopg.OperationalError as exc:
        log.info("no market-registry database (%s); generating enterprises", str(exc).strip()[:200])
        return None
    with conn:
        try:
            rows = conn.execute(
                f"""select tyshxydm, ztmc, djjg_xzqh, fddbr from {REGISTRY_TABLE} t
                    where id <= %s and ztlx = '企业' and clrq <= %s
                      and not exists (select 1 from {REGISTRY_TABLE} o
                                      where o.tyshxydm = t.tyshxydm and o.id <> t.id)
                    order by md5(%s || id::text), id
                    limit %s""",
                (last_id, logical_date, f"{stream}:{seed}:{logical_date.isoformat()}:", 2 * count + 20),
            ).fetchall()
        except errors.UndefinedTable:
            return None
    known = current_county_codes()
    pool: list[Enterprise] = []
    seen: set[str] = set()
    for code, name, division, person in rows:
        code = normalise_code(code)
        name = (name or "").strip(" \u3000")
        if not name or division not in known or code in seen or not _uscc.is_valid(code):
            continue
        seen.add(code)
        pool.append(Enterprise(code, name, division, person))
        if len(pool) == count:
            break
    return pool or None


def generated_enterprises(seed: int, scale: int) -> list[Enterprise]:
    """A fixed pool per (seed, scale), independent of the date: employers recur across nights."""
    rng = _rng(seed, None, "enterprise-pool")
    divisions = ids.registration_divisions()
    weights = ids.division_weights(divisions)
    pool, used = [], set()
    for division in rng.choices(divisions, weights=weights, k=FALLBACK_POOL_PER_SCALE * scale):
        registered = date(2000, 1, 1) + timedelta(days=rng.randint(0, 365 * 21))
        code = ids.make_uscc(rng, division.code, kind="1", registered_on=registered)
        if code in used:
            continue
        used.add(code)
        pool.append(Enterprise(code, ids.enterprise_name(rng, division.place, division.city_name),
                               division.code, ids.person_name(rng)))
    return pool


def enterprises_for(logical_date: date, *, seed: int, scale: int, stream: str, count: int) -> list[Enterprise]:
    """`count` distinct enterprises: from the registry when it has enough, else the generated pool."""
    found = registry_enterprises(logical_date, seed=seed, stream=stream, count=count)
    if found is not None and len(found) == count:
        return found
    pool = generated_enterprises(seed, scale)
    rng = _rng(seed, logical_date, f"{stream}:fallback")
    extra = rng.sample(pool, min(len(pool), count - len(found or [])))
    have = {e.uscc for e in found or []}
    return (found or []) + [e for e in extra if e.uscc not in have]
