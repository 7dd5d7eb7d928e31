"""Airflow's configuration for local use, set as environment variables before Airflow is imported.

Airflow reads its configuration once, at import; `credit-dw` and the tests call `configure()`
first. Values already in the environment win, so a deployment (docker compose) keeps its own.
`make setup` also writes the same settings into `$AIRFLOW_HOME/airflow.cfg` (`write_config()`),
so a plain `airflow` command in the checkout sees them too (no example DAGs, Beijing time).
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from pathlib import Path

from credit_dw.config import settings


def defaults(home: Path | None = None) -> dict[str, str]:
    """The project's Airflow settings for an Airflow home (`settings.airflow_home()` by default)."""
    home = home or settings.airflow_home()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": settings.TIMEZONE,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # Parsing credit_transform.py (Airflow, Cosmos and the 3 MB dbt manifest) takes 3-4 s on a
        # quiet machine but passed Airflow's 30 s `dagbag_import_timeout` on a loaded 2-core one:
        # every task runner parses its DAG file at start, and a timeout there reschedules the task
        # ("Dag not found during start up"; 30 of them in one transform, issue 15). Room for load.
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "180",
        # The DAGs import cosmos; keep its cache inside the data directory.
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos-cache"),
        # Cosmos's watcher producer would otherwise rewrite one Airflow Variable holding every
        # XCom it pushed so far on each push (quadratic in the night's ~700 dbt nodes); it still
        # saves them when the producer fails, which is when a retry needs them.
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        # A government credit platform makes no outbound calls [001 2017 §5.2; 002 #11]: Cosmos's usage metrics
        # (tried on every task and DAG run) and Great Expectations' analytics off.
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
        "SCARF_NO_ANALYTICS": "true",
        "GX_ANALYTICS_ENABLED": "False",
        # Airflow's own usage data collection (Scarf) existed in 2.10 ([usage_data_collection]);
        # Airflow 3.3 has neither the option nor the call, nor any other outbound call on by default
        # (Sentry, OpenTelemetry, StatsD and lineage are off unless configured). Set anyway, so an
        # Airflow that has it never sends.
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    }


def configure(environ: MutableMapping[str, str]) -> None:
    settings.airflow_home().mkdir(parents=True, exist_ok=True)
    for key, value in defaults().items():
        environ.setdefault(key, value)


def config_options(environ: dict[str, str] | None = None) -> dict[tuple[str, str], str]:
    """The `AIRFLOW__SECTION__KEY` entries of `defaults()` (or of `environ`) as (section, key) → value."""
    environ = defaults() if environ is None else environ
    options = {}
    for name, value in environ.items():
        match = re.fullmatch(r"AIRFLOW__([A-Z0-9_]+?)__([A-Z0-9_]+)", name)
        if match:
            options[(match.group(1).lower(), match.group(2).lower())] = value
    return options


def write_config(home: Path | None = None) -> Path:
    """Write the project's Airflow settings into `<home>/airflow.cfg` (`settings.airflow_home()`).

    Run by `make setup`. Airflow writes a full `airflow.cfg` of its own defaults (load_examples =
    True, UTC) the first time any `airflow` command runs with an AIRFLOW_HOME that has none; the
    project sets its settings as environment variables (`configure()`), which a plain `airflow`
    command in a shell does not have. An existing file keeps everything else, comments included;
    each project option replaces its line in its section (or is added there). A missing file gets
    the project's options only: Airflow's defaults apply to the rest (`airflow config list --defaults`).
    """
    home = home or settings.airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    path = home / "airflow.cfg"
    options = config_options(defaults(home))
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()
    else:
        lines = [
            "# Written by `make setup` (credit_dw.config.airflow_env.write_config): the project's Airflow",
            "# settings, as credit-dw and the tests set them. Airflow's defaults apply to every other option.",
        ]
    for (section, key), value in options.items():
        lines = _set_option(lines, section, key, value)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _set_option(lines: list[str], section: str, key: str, value: str) -> list[str]:
    header = re.compile(r"^\s*\[([^\]]+)\]\s*$")
    sections = [i for i, line in enumerate(lines) if (m := header.match(line)) and m.group(1).strip() == section]
    start = sections[0] if sections else None
    if start is None:
        return [*lines, "", f"[{section}]", f"{key} = {value}"]
    end = next((i for i in range(start + 1, len(lines)) if header.match(lines[i])), len(lines))
    setting = re.compile(rf"^\s*{re.escape(key)}\s*=")
    commented = re.compile(rf"^\s*#\s*{re.escape(key)}\s*=")
    for pattern in (setting, commented):
        found = [i for i in range(start + 1, end) if pattern.match(lines[i])]
        if found:
            lines = list(lines)
            lines[found[0]] = f"{key} = {value}"
            for i in reversed(found[1:]):  # a key set twice: configparser would refuse the file
                if pattern is setting:
                    del lines[i]
            return lines
    insert_at = end
    while insert_at > start + 1 and not lines[insert_at - 1].strip():
        insert_at -= 1
    return [*lines[:insert_at], f"{key} = {value}", *lines[insert_at:]]
