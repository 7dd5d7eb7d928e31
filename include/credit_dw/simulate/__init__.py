"""Deterministic simulators of the department source systems, for development, tests and demos.

Convention: the simulator of feed `<source_id>` is the module `credit_dw.simulate.<source_id>`
with a function `simulate(logical_date, *, scale=1, seed=20261122) -> SimulationSummary`; the CLI
(`credit-dw simulate`) runs every catalog feed that has one. Each writes one logical date's worth
of the feed into a stand-in of the department's system (database, HTTP API data, or inbox files),
seeded so that reruns reproduce the same rows, with a known share of defects.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date

from credit_dw.simulate.common import SimulationSummary
from credit_dw.simulate.market_registry import simulate_market_registry

__all__ = ["SimulationSummary", "simulate_all", "simulate_market_registry", "simulation_order", "simulator_for"]


def simulator_for(source_id: str) -> Callable[..., SimulationSummary] | None:
    try:
        module = importlib.import_module(f"credit_dw.simulate.{source_id}")
    except ModuleNotFoundError as exc:
        if exc.name == f"credit_dw.simulate.{source_id}":
            return None
        raise
    return getattr(module, "simulate", None)


def simulation_order() -> list[str]:
    """Catalog feeds, the registry first: the other feeds reuse its subjects (one enterprise, many feeds)."""
    from credit_dw.catalog import source_ids

    return sorted(source_ids(), key=lambda sid: sid != "market_registry")


def simulate_all(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> list[SimulationSummary]:
    """Run the simulator of every catalog feed that has one, in `simulation_order()`."""
    summaries = []
    for source_id in simulation_order():
        simulator = simulator_for(source_id)
        if simulator is not None:
            summaries.append(simulator(logical_date, scale=scale, seed=seed))
    return summaries
