"""What a rerun of some feeds must rebuild: the dbt models and snapshots downstream of them.

`credit-dw run --date D --feed F` re-ingests F's batch of night D and then rebuilds only what
depends on it, not the whole project. Read from the prebuilt manifest's `child_map` (no dbt
start-up), the nodes to rebuild are:

- everything downstream of F's raw source (`source:raw_F+`): its staging view, the facts, the
  profiles, the archive and the reports that read them;
- the models that read the ingest ledger (`meta.load_batches`, `meta.row_issues`) other than
  through another feed's staging view: F's batch row changed, so the quality and audit models
  that count every feed's batches change with it. Another feed's staging view reads the ledger
  only to keep its own accepted batches, which a rerun of F does not change: nothing behind it is
  rebuilt.

Staging views are read at query time, so a view not rebuilt still shows what it selects.

Only when the marts already hold that night (`marts_built_for`): a feed rerun for another night
than the one the marts were last built for builds the whole project as of that night, since every
date-dependent mart must move to it together (an export checks they all hold its night).
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache

from credit_dw.transform import dbt as transform

#: dbt resource types a rebuild selects (tests come with them: `dbt test` on the same selection).
BUILT_RESOURCE_TYPES = ("model", "snapshot")

#: The dbt sources every feed's batches are recorded in (the ingest ledger).
LEDGER_SOURCE = "meta"


@cache
def _manifest(path: str, mtime: float) -> dict:  # the arguments key the cache: a rebuilt manifest is read again
    with open(path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    return {"nodes": manifest["nodes"], "sources": manifest["sources"], "child_map": manifest["child_map"]}


def _load() -> dict:
    return _manifest(str(transform.MANIFEST), transform.MANIFEST.stat().st_mtime)


def _feed_of_staging(node: dict) -> str | None:
    """The feed a staging model belongs to (its folder, models/staging/<feed>/), else None."""
    fqn = node.get("fqn") or []
    return fqn[2] if len(fqn) > 3 and fqn[1] == "staging" else None


def _downstream(manifest: dict, start: list[str], blocked=lambda unique_id: False) -> set[str]:
    seen: set[str] = set()
    stack = list(start)
    while stack:
        for child in manifest["child_map"].get(stack.pop(), []):
            if child not in seen and not blocked(child):
                seen.add(child)
                stack.append(child)
    return {u for u in seen if u.split(".", 1)[0] in BUILT_RESOURCE_TYPES}


def built_nodes() -> set[str]:
    """Every model and snapshot of the project (unique ids)."""
    return {u for u, node in _load()["nodes"].items() if node["resource_type"] in BUILT_RESOURCE_TYPES}


def downstream_of_feeds(feeds: list[str]) -> set[str]:
    """The unique ids of the models and snapshots a rerun of `feeds` rebuilds (module docstring).

    A feed with no raw source in the project raises ValueError (the manifest is older than the
    catalog: `make manifest`)."""
    manifest = _load()
    chosen: set[str] = set()
    ledger = [u for u, s in manifest["sources"].items() if s["source_name"] == LEDGER_SOURCE]
    for feed in feeds:
        raw = [u for u, s in manifest["sources"].items() if s["source_name"] == f"raw_{feed}"]
        if not raw:
            raise ValueError(f"dbt has no source raw_{feed}: the manifest is older than the catalog (make manifest)")
        chosen |= _downstream(manifest, raw)

    def another_feeds_staging(unique_id: str) -> bool:
        feed = _feed_of_staging(manifest["nodes"].get(unique_id, {}))
        return feed is not None and feed != LEDGER_SOURCE and feed not in feeds

    return chosen | _downstream(manifest, ledger, blocked=another_feeds_staging)


def dbt_select(unique_ids: set[str]) -> list[str]:
    """`--select` arguments naming these nodes, in a stable order."""
    nodes = _load()["nodes"]
    return sorted(nodes[u]["name"] for u in unique_ids)


def marts_built_for(night: date, url: str | None = None) -> bool:
    """Whether every mart that records the night it was built as of (`as_of_on`) holds `night`:
    then rebuilding only what some feeds feed leaves the marts of one night."""
    from credit_dw.db.connect import connect

    with connect(url) as conn:
        tables = [t for (t,) in conn.execute(
            """select format('%I.%I', table_schema, table_name) from information_schema.columns
               where table_schema = 'marts' and column_name = 'as_of_on' order by 1""").fetchall()]
        for table in tables:
            other = conn.execute(f"select exists(select 1 from {table} where as_of_on is distinct from %s)",
                                 (night,)).fetchone()[0]
            if other:
                return False
    return bool(tables)
