"""One module per export target: the queries that cut its content from the marts.

A target module has one function, `tables(conn, logical_date) -> {file name: rows}`, each row a
mapping keyed by the column keys its catalog entry (`catalog/exports.yml`) declares. A module may
also declare `queries(logical_date) -> {file name: (sql, params)}`, the queries `tables` runs: the
export then cuts each CSV file on the server (one COPY, the same bytes: `writer.server_cut`) instead
of fetching the rows (gsxt and lending do; a target receiving XLSX or fanned out still fetches). Targets know
nothing of files, manifests or the ledger (`credit_dw.exports.delivery` does), and nothing of
each other (an import contract in pyproject.toml).
"""

#: The national vocabulary of a repair (信用修复) as SQL over `repair` (marts.fct_repair), shared by
#: the targets that deliver repair results (national, gsxt): the path and the outcome in Chinese.
REPAIR_PATH_NAME = """case repair.repair_path
           when 'commitment' then '信用承诺' when 'rectification' then '整改' when 'verification' then '核查'
           when 'training' then '信用培训' when 'credit_report' then '信用报告' when 'public_service' then '公益服务'
       end"""
REPAIR_OUTCOME_NAME = """case repair.outcome
           when 'repaired' then '修复成功' when 'rejected' then '修复不通过' when 'refused' then '不予受理'
           else '其他'
       end"""
