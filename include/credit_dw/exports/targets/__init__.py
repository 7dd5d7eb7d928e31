"""One module per export target: the queries that cut its content from the marts.

A target module has one function, `tables(conn, logical_date) -> {file name: rows}`, each row a
mapping keyed by the column keys its catalog entry (`catalog/exports.yml`) declares. A module may
also declare `queries(logical_date) -> {file name: (sql, params)}`, the queries `tables` runs: the
export then cuts each CSV file on the server (one COPY, the same bytes: `writer.server_cut`) instead
of fetching the rows (gsxt and lending do; a target receiving XLSX or fanned out still fetches). Targets know
nothing of files, manifests or the ledger (`credit_dw.exports.delivery` does), and nothing of
each other (an import contract in pyproject.toml).
"""
