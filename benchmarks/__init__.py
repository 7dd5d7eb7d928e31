"""The project's benchmarks (docs/benchmarks.md): landing, SQL extraction, validation, transform.

Outside the shipped package: run them with `credit-dw bench …` (or `make bench`, or
`python -m benchmarks …` from the checkout).
"""
