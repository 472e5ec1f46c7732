"""SQL over an overlap run's parquet files with DuckDB: `wit overlap query DIR "SQL"`.

Every parquet file under DIR becomes a view named after its file stem (`overlap`,
`eval_images`, `summary`, `exclusion`), so auditors can write:

    wit overlap query out/ "SELECT eval_set, count(*) FROM overlap WHERE duplicate GROUP BY 1"
"""

from __future__ import annotations

import io
import os

import pyarrow.parquet as pq

from pipeline import storage

__all__ = ["connect", "query", "format_table"]


def connect(out: str):  # type: ignore[no-untyped-def]
    """A DuckDB connection with one view per parquet file of the run at `out`."""
    import duckdb

    con = duckdb.connect()
    paths = storage.glob(storage.join(out, "*.parquet")) + storage.glob(
        storage.join(out, "*", "*.parquet")
    )
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        if storage.is_s3(path):  # through our storage layer: DuckDB's httpfs would be downloaded
            table = pq.read_table(io.BytesIO(storage.read_bytes(path)))
            con.register(f"_{name}_table", table)
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM "_{name}_table"')
            continue
        safe = path.replace("'", "''")
        con.execute(f"CREATE OR REPLACE VIEW \"{name}\" AS SELECT * FROM read_parquet('{safe}')")
    return con


def query(out: str, sql: str) -> tuple[list[str], list[tuple]]:
    """Run `sql` against the run at `out`; returns (column names, rows)."""
    import duckdb

    from pipeline.usage import UsageError

    con = connect(out)
    try:
        cur = con.execute(sql)
    except duckdb.Error as err:
        message = " ".join(str(err).split())
        raise UsageError(f"{message}; the views are {_views(con)}") from None
    cols = [d[0] for d in cur.description] if cur.description else []
    return cols, cur.fetchall()


def _views(con) -> str:  # type: ignore[no-untyped-def]
    """`summary(eval_set, overlap_pct, ...), matches(...)`: what a query can select from."""
    rows = con.execute(
        "SELECT table_name, string_agg(column_name, ', ' ORDER BY ordinal_position) "
        "FROM information_schema.columns WHERE table_name NOT LIKE '\\_%' ESCAPE '\\' "
        "GROUP BY table_name ORDER BY table_name"
    ).fetchall()
    return "; ".join(f"{name}({cols})" for name, cols in rows)


def format_table(cols: list[str], rows: list[tuple]) -> str:
    """A plain-text, tab-separated table with a header line."""
    lines = ["\t".join(cols)]
    lines += ["\t".join("" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines)
