"""One module per export target: the queries that cut its content from the marts.

A target module has one function, `tables(conn, logical_date) -> {file name: rows}`, each row a
mapping keyed by the column keys its catalog entry (`catalog/exports.yml`) declares. Targets know
nothing of files, manifests or the ledger (`credit_dw.exports.delivery` does), and nothing of
each other (an import contract in pyproject.toml).
"""
