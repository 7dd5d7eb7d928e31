"""Every mart column is described, and the data dictionary covers every mart (from dbt's manifest)."""

from __future__ import annotations

import json

from credit_dw.config import settings
from credit_dw.transform import data_dictionary
from credit_dw.transform.dbt import ensure_manifest


def test_every_mart_column_is_described_and_listed():
    manifest_path = ensure_manifest()
    assert data_dictionary.undocumented_mart_columns(manifest_path) == []
    manifest = json.loads(manifest_path.read_text())
    rendered = data_dictionary.render(manifest_path)
    marts = [n for n in manifest["nodes"].values()
             if n["resource_type"] == "model" and "models/marts/" in n["original_file_path"]]
    assert marts
    for node in marts:
        assert f"`{node['schema']}.{node['name']}`" in rendered
        for column in node["columns"]:
            assert f"| `{column}` |" in rendered


def test_the_committed_dictionary_is_current():
    """docs/data_dictionary.md is what `make docs` would write now (regenerate it when models change)."""
    committed = (settings.PROJECT_ROOT / "docs" / "data_dictionary.md").read_text(encoding="utf-8")
    assert committed == data_dictionary.render(ensure_manifest()), "run `make docs` and commit docs/data_dictionary.md"
