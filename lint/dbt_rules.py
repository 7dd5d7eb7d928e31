"""The dbt project's conventions, checked by dbt-score on dbt_project/target/manifest.json.

`make lint` runs them (pyproject.toml `[tool.dbt-score]`); any violation fails it. A model's layer is
the first folder under `models/` (docs/architecture.md, "Checks"):

- `staging`: `stg_`; reads sources and seeds.
- `intermediate`: `int_`; reads staging, intermediate, seeds.
- `marts`: `fct_`, `dim_`, `rpt_`, `prf_` (per-subject profiles and grades), `arc_` (archives); reads
  staging, intermediate, marts, seeds, snapshots.
- `quality`: `qa_`; reads staging, intermediate, marts, quality, seeds, snapshots.

Every model also has a primary-key test and a description, and names no warehouse relation by hand
(`ref()` or `source()` instead, so the DAG and the lineage know the dependency).
"""

import re

from dbt_score import Model, RuleViolation, Seed, Severity, Snapshot, Source, rule

#: Layer (folder under models/) -> the prefixes its model names take.
LAYER_PREFIXES: dict[str, tuple[str, ...]] = {
    "staging": ("stg_",),
    "intermediate": ("int_",),
    "marts": ("fct_", "dim_", "rpt_", "prf_", "arc_"),
    "quality": ("qa_",),
}

#: Layer -> what its models may read: `source`, `seed`, `snapshot`, or a model layer.
LAYER_PARENTS: dict[str, tuple[str, ...]] = {
    "staging": ("source", "seed"),
    "intermediate": ("staging", "intermediate", "seed"),
    "marts": ("staging", "intermediate", "marts", "seed", "snapshot"),
    "quality": ("staging", "intermediate", "marts", "quality", "seed", "snapshot"),
}

#: Generic tests that assert a key over several columns (dbt_utils' name, or a project macro of that name).
COMBINATION_TESTS: tuple[str, ...] = ("unique_combination_of_columns",)

#: The warehouse's schemas: `from <schema>.<table>` in a model is a relation named by hand.
WAREHOUSE_SCHEMAS: tuple[str, ...] = (
    "raw", "meta", "credit", "reference", "staging", "intermediate", "marts", "quality", "archive", "public",
)


def layer_of(model: Model) -> str | None:
    """The first folder under models/ (`models/marts/fct_x.sql` -> `marts`); None at the top."""
    parts = model.original_file_path.replace("\\", "/").split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "models" else None


def _parent_kind(parent: Model | Source | Snapshot | Seed) -> str:
    if isinstance(parent, Model):
        return layer_of(parent) or "models/"
    if isinstance(parent, Source):
        return "source"
    if isinstance(parent, Snapshot):
        return "snapshot"
    return "seed"


@rule(severity=Severity.HIGH)
def model_name_has_layer_prefix(model: Model, prefixes: dict = LAYER_PREFIXES) -> RuleViolation | None:
    """A model lives in a layer folder and its name starts with that layer's prefix."""
    layer = layer_of(model)
    if layer not in prefixes:
        return RuleViolation(f"{model.original_file_path} is outside the layer folders ({', '.join(prefixes)}).")
    if not model.name.startswith(tuple(prefixes[layer])):
        return RuleViolation(f"A {layer} model's name starts with {' or '.join(prefixes[layer])}.")
    return None


@rule(severity=Severity.HIGH)
def model_reads_only_lower_layers(model: Model, allowed: dict = LAYER_PARENTS) -> RuleViolation | None:
    """A model reads only what its layer may read: marts and quality never a source() directly."""
    layer = layer_of(model)
    if layer not in allowed:
        return None  # model_name_has_layer_prefix reports a model outside the layer folders
    wrong = sorted(
        f"{getattr(parent, 'name', parent)} ({kind})"
        for parent in model.parents
        if (kind := _parent_kind(parent)) not in allowed[layer]
    )
    if wrong:
        return RuleViolation(f"A {layer} model reads {', '.join(allowed[layer])} only, not: {', '.join(wrong)}.")
    return None


@rule(severity=Severity.HIGH)
def model_has_primary_key_test(model: Model, combination_tests: tuple = COMBINATION_TESTS) -> RuleViolation | None:
    """A model has a primary-key test: `unique` and `not_null` on one column, or a unique combination."""
    tested: dict[str, set[str]] = {}
    # Every test attached to the model, column tests included: dbt-score files a test under a column
    # only when the column is declared, and a key may be an expression (`column_name: "a || '|' || b"`).
    for test in model._raw_test_values:
        metadata = test.get("test_metadata") or {}
        if metadata.get("name") in combination_tests:
            return None
        column = (metadata.get("kwargs") or {}).get("column_name") or test.get("column_name")
        if column:
            tested.setdefault(column, set()).add(metadata.get("name"))
    if any({"unique", "not_null"} <= types for types in tested.values()):
        return None
    # A composite key without dbt_utils: `unique` on a row of columns, `column_name: "(a, b)"`, each
    # of them not_null (a row with a null part never equals another, so unique alone would let it by).
    for column, types in tested.items():
        parts = _row_parts(column)
        if "unique" in types and parts and all("not_null" in tested.get(part, set()) for part in parts):
            return None
    return RuleViolation(
        "No primary-key test: unique + not_null on one column, unique on a row of not_null columns "
        "(column_name: \"(a, b)\"), or a unique_combination_of_columns."
    )


def _row_parts(column: str) -> list[str]:
    """The columns of a row expression `(a, b)`; empty when `column` is not one."""
    column = column.strip()
    if not (column.startswith("(") and column.endswith(")")):
        return []
    parts = [part.strip() for part in column[1:-1].split(",")]
    return parts if len(parts) > 1 and all(re.fullmatch(r"\w+", part) for part in parts) else []


_JINJA_OR_COMMENT = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|--[^\n]*|/\*.*?\*/", re.DOTALL)


@rule(severity=Severity.HIGH)
def model_has_no_hard_coded_relations(model: Model, schemas: tuple = WAREHOUSE_SCHEMAS) -> RuleViolation | None:
    """A model names the relations it reads with ref() or source(), never `schema.table` by hand."""
    code = _JINJA_OR_COMMENT.sub(" ", model.raw_code)
    pattern = re.compile(
        r"\b(?:from|join)\s+((?:" + "|".join(map(re.escape, schemas)) + r")\.\w+)\b(?!\s*\()", re.IGNORECASE
    )
    found = sorted(set(pattern.findall(code)))
    if found:
        return RuleViolation(f"Relations named by hand: {', '.join(found)} (use ref() or source()).")
    return None
