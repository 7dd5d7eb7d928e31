"""Simulator of the 行政许可 (administrative licence) file drops; see `dual_publicity`."""

from __future__ import annotations

from datetime import date

from credit_dw.simulate.common import SimulationSummary
from credit_dw.simulate.dual_publicity import LICENCE, write_day

SOURCE_ID = LICENCE


def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention (`credit_dw.simulate.simulate_all`): D's files into the feed's inbox."""
    return write_day(SOURCE_ID, logical_date, scale=scale, seed=seed).summary
