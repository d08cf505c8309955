"""Replays statements Clicktrail sent to ClickHouse 18.16 on current ClickHouse (PyPI's chdb, an
in-process ClickHouse), in order, and fails on the first one current ClickHouse refuses.

    python3 scripts/clickhouse/replay_on_chdb.py STATEMENTS.jsonl

Each line: {"database": str | null, "sql": str, "rows": str | null} (an insert's JSON lines).
"""
import json
import sys
import tempfile

import chdb
from chdb import session


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        sent = [json.loads(line) for line in f if line.strip()]
    work = tempfile.mkdtemp(prefix="clicktrail-chdb-")
    s = session.Session(work)
    print(f"chdb: ClickHouse {s.query('SELECT version()', 'CSV').bytes().decode().strip()}, {len(sent)} statements")
    for n, st in enumerate(sent, 1):
        sql = st["sql"]
        if st["database"]:
            s.query(f"CREATE DATABASE IF NOT EXISTS {st['database']}")
            s.query(f"USE {st['database']}")
        if st["rows"] is not None:
            sql = sql + "\n" + st["rows"]
        try:
            s.query(sql, "JSONEachRow")
        except Exception as e:  # chdb raises its own error types
            print(f"chdb: statement {n} fails on current ClickHouse:\n{st['sql'][:2000]}\n{e}", file=sys.stderr)
            return 1
    print(f"chdb: all {len(sent)} statements ran")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
