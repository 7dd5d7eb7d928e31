"""The data dictionary (`docs/data_dictionary.md`), generated from dbt's manifest.

Every model, seed and column with its description and declared type, grouped by layer, so
downstream platforms and auditors read the same definitions the contracts enforce. Regenerate
with `make docs` (which also builds the browsable dbt docs site under dbt_project/target/).
"""

from __future__ import annotations

import json
from pathlib import Path

from credit_dw.config import settings

LAYERS = (("marts", "Marts (curated, contracted)"),
          ("archive", "Archive (snapshots: history of profiles and grades, read \"as of\" a date)"),
          ("quality", "Quality (the credit office's data-quality measures)"),
          ("staging", "Staging (accepted rows, one per feed)"),
          ("reference", "Reference data (seeds)"))


def _layer(node: dict) -> str | None:
    if node["resource_type"] == "seed":
        return "reference"
    if node["resource_type"] == "snapshot":
        return "archive"
    if node["resource_type"] != "model":
        return None
    path = node["original_file_path"]
    for layer in ("marts", "quality", "staging"):
        if f"models/{layer}/" in path:
            return layer
    return None


def render(manifest_path: Path | None = None) -> str:
    manifest = json.loads((manifest_path or settings.DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    nodes = [n for n in manifest["nodes"].values() if n["package_name"] == "credit_warehouse" and _layer(n)]
    lines = ["# Data dictionary", "",
             "Generated from the dbt manifest by `make docs` (`credit_dw.transform.data_dictionary`); "
             "do not edit by hand.",
             "Schemas: `marts` and `archive` for downstream platforms, `quality` for the credit office and auditors, "
             "`staging` for engineers, `reference` for everyone.", ""]
    for layer, title in LAYERS:
        layer_nodes = sorted((n for n in nodes if _layer(n) == layer), key=lambda n: n["name"])
        if not layer_nodes:
            continue
        lines += [f"## {title}", ""]
        for node in layer_nodes:
            contract = node.get("config", {}).get("contract", {}).get("enforced")
            lines += [f"### `{node['schema']}.{node['name']}`" + (" (contract enforced)" if contract else ""), "",
                      " ".join(node.get("description", "").split()) or "_No description._", "",
                      "| column | type | description |", "|---|---|---|"]
            for column in node.get("columns", {}).values():
                description = " ".join((column.get("description") or "").split()).replace("|", "\\|")
                lines.append(f"| `{column['name']}` | {column.get('data_type') or ''} | {description} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def undocumented_mart_columns(manifest_path: Path | None = None) -> list[str]:
    manifest = json.loads((manifest_path or settings.DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    missing = []
    for node in manifest["nodes"].values():
        if _layer(node) in ("marts", "archive"):
            for column in node.get("columns", {}).values():
                if not (column.get("description") or "").strip():
                    missing.append(f"{node['name']}.{column['name']}")
    return missing


def write(path: Path | None = None) -> Path:
    from credit_dw.transform.dbt import ensure_manifest

    ensure_manifest()
    target = path or settings.PROJECT_ROOT / "docs" / "data_dictionary.md"
    target.write_text(render(), encoding="utf-8")
    return target


if __name__ == "__main__":
    print(write())
