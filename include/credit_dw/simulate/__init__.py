"""Deterministic simulators of the department source systems, for development, tests and demos.

Each simulator writes one logical date's worth of a feed into a stand-in of the department's own
database (or files), seeded so that reruns reproduce the same rows, with a known share of defects.
"""

from credit_dw.simulate.market_registry import SimulationSummary, simulate_market_registry

__all__ = ["SimulationSummary", "simulate_market_registry"]
