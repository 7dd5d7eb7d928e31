"""The dbt-score rules of `make lint` (lint/dbt_rules.py) on a small hand-made manifest: each rule
passes the house conventions and names what breaks them."""

import json

import pytest
from dbt_score.models import ManifestLoader
from dbt_score.rule import RuleViolation

from lint import dbt_rules

PROJECT = "credit_warehouse"


def _node(kind: str, name: str, path: str, depends_on: tuple[str, ...] = (), raw_code: str = "select 1") -> dict:
    return {
        "resource_type": kind, "unique_id": f"{kind}.{PROJECT}.{name}", "name": name, "alias": name,
        "relation_name": None, "description": "described", "original_file_path": path, "config": {},
        "meta": {}, "columns": {}, "package_name": PROJECT, "database": "db", "schema": "s",
        "raw_code": raw_code, "language": "sql", "access": "protected", "tags": [],
        "depends_on": {"nodes": list(depends_on), "macros": []}, "constraints": [],
    }


def _test(model: str, test: str, column: str | None = None, **kwargs) -> dict:
    suffix = f"_{column}" if column else ""
    return {
        "resource_type": "test", "unique_id": f"test.{PROJECT}.{test}_{model}{suffix}",
        "name": f"{test}_{model}{suffix}", "package_name": PROJECT, "attached_node": f"model.{PROJECT}.{model}",
        "column_name": column, "tags": [], "depends_on": {"nodes": [f"model.{PROJECT}.{model}"]},
        "test_metadata": {"name": test, "kwargs": {**({"column_name": column} if column else {}), **kwargs}},
    }


SOURCE = {
    "resource_type": "source", "unique_id": f"source.{PROJECT}.raw.penalties", "name": "penalties",
    "description": "", "source_name": "raw", "source_description": "", "original_file_path": "models/x.yml",
    "config": {}, "meta": {}, "columns": {}, "package_name": PROJECT, "database": "db", "schema": "raw",
    "identifier": "penalties", "loader": "", "tags": [],
}


@pytest.fixture
def models(tmp_path):
    nodes = [
        _node("seed", "departments", "seeds/departments.csv"),
        _node("model", "stg_penalty__penalties", "models/staging/penalty/stg_penalty__penalties.sql",
              (SOURCE["unique_id"], f"seed.{PROJECT}.departments")),
        _node("model", "fct_penalty", "models/marts/fct_penalty.sql",
              (f"model.{PROJECT}.stg_penalty__penalties",)),
        _node("model", "fct_penalty_raw", "models/marts/fct_penalty_raw.sql", (SOURCE["unique_id"],),
              raw_code="select * from {{ source('raw', 'penalties') }}\n"
                       "cross join credit.working_day_index\n"
                       "cross join credit.add_working_days(current_date, 1)\n"
                       "-- from meta.load_batches, in a comment\n"
                       "where extract(year from decided_on) > 2000"),
        _node("model", "penalty_summary", "models/marts/penalty_summary.sql"),
        _node("model", "int_penalty_keys", "models/staging/penalty/int_penalty_keys.sql"),
        _node("model", "qa_checks", "models/quality/qa_checks.sql", (f"model.{PROJECT}.fct_penalty",)),
        _node("model", "loose", "models/loose.sql"),
    ]
    tests = [
        _test("stg_penalty__penalties", "unique", "penalty_id"),
        _test("stg_penalty__penalties", "not_null", "penalty_id"),
        _test("fct_penalty", "unique", "penalty_id"),  # unique alone is no primary key
        _test("fct_penalty_raw", "not_null", "penalty_id"),
        _test("fct_penalty_raw", "unique", "penalty_id"),
        _test("qa_checks", "unique_combination_of_columns", combination_of_columns=["a", "b"]),
        _test("penalty_summary", "unique", "a || '|' || b"),
        _test("penalty_summary", "not_null", "a || '|' || b"),
    ]
    manifest = {
        "metadata": {"project_name": PROJECT},
        "nodes": {n["unique_id"]: n for n in nodes + tests},
        "sources": {SOURCE["unique_id"]: SOURCE},
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    return {model.name: model for model in ManifestLoader(path).models.values()}


def _violation(rule, model) -> str | None:
    result = rule().evaluate(model)
    return result.message if isinstance(result, RuleViolation) else None


def test_layer_prefix(models):
    rule = dbt_rules.model_name_has_layer_prefix
    for name in ("stg_penalty__penalties", "fct_penalty", "qa_checks"):
        assert _violation(rule, models[name]) is None, name
    assert "starts with fct_ or dim_ or rpt_ or prf_ or arc_" in _violation(rule, models["penalty_summary"])
    assert "starts with stg_" in _violation(rule, models["int_penalty_keys"])
    assert "outside the layer folders" in _violation(rule, models["loose"])


def test_layer_reads(models):
    rule = dbt_rules.model_reads_only_lower_layers
    for name in ("stg_penalty__penalties", "fct_penalty", "qa_checks"):
        assert _violation(rule, models[name]) is None, name
    assert "not: penalties (source)" in _violation(rule, models["fct_penalty_raw"])


def test_primary_key_test(models):
    rule = dbt_rules.model_has_primary_key_test
    for name in ("stg_penalty__penalties", "fct_penalty_raw", "qa_checks", "penalty_summary"):
        assert _violation(rule, models[name]) is None, name
    assert "No primary-key test" in _violation(rule, models["fct_penalty"])
    assert "No primary-key test" in _violation(rule, models["loose"])


def test_hand_named_relations(models):
    rule = dbt_rules.model_has_no_hard_coded_relations
    assert _violation(rule, models["fct_penalty"]) is None
    # A table named by hand; not a function in the same schema, a comment or `extract(… from col)`.
    assert _violation(rule, models["fct_penalty_raw"]) == (
        "Relations named by hand: credit.working_day_index (use ref() or source())."
    )
