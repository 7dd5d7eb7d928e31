"""Simulator of the 供水 bill files (`utility_water`); see `credit_dw.simulate.utilities`."""

from __future__ import annotations

from datetime import date

from credit_dw.simulate.common import SimulationSummary
from credit_dw.simulate.utilities import simulate_utility

SOURCE_ID = "utility_water"


def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention (`credit_dw.simulate.simulate_all`): on the 5th, last month's files."""
    return simulate_utility(SOURCE_ID, logical_date, scale=scale, seed=seed)
