"""Replays the ClickHouse schema and queries of a test run on a current ClickHouse (chDB).

The tests run Debian's ClickHouse 18.16; compose and the Kubernetes overlays run a current
release. This applies every migration under migrations/clickhouse to chDB (ClickHouse 26.x,
in-process), then replays the corpus: the distinct shapes of the queries the services issued
during the test run, as 18.16's system.query_log recorded them (JSON lines of {"query": ...} on
stdin or in the file named by the first argument). Literals differ between runs, so one query
per shape is replayed, with its own literals. Inserts arrive without their rows (they travel in
the request body): each is replayed as an insert of generated rows into the same columns, so
the reads that follow run over data (arrays empty: the schema's parallel key/value arrays must
stay of equal length). Schema statements in the corpus are the migrations,
already applied. Prints a JSON summary; exits non-zero if any statement fails.
"""

import json
import pathlib
import re
import sys

from chdb import session

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATABASE = "replay"


def statements(text):
    """Statements end with `;` at the end of a line; `--` comment lines are dropped."""
    out, current = [], []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        current.append(line)
        if stripped.endswith(";"):
            out.append("\n".join(current).strip().rstrip(";").strip())
            current = []
    if current:
        out.append("\n".join(current).strip())
    return [s for s in out if s]


def shape(query):
    """The query with its literals, list lengths and whitespace normalised."""
    q = re.sub(r"'(?:[^'\\]|\\.)*'", "?", query)
    q = re.sub(r"\b\d+(\.\d+)?\b", "?", q)
    q = re.sub(r"\(\s*\?(\s*,\s*\?)*\s*\)", "(?)", q)
    return re.sub(r"\s+", " ", q).strip()


FORMAT = re.compile(r"\s+FORMAT\s+\w+\s*$", re.IGNORECASE)
INSERT = re.compile(r"^INSERT INTO\s+(\w+)\s*\(([^)]*)\)\s+FORMAT\s+\w+\s*$", re.IGNORECASE | re.DOTALL)


def main():
    source = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    corpus = [json.loads(line)["query"] for line in source if line.strip()]
    s = session.Session()
    s.query(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    s.query(f"USE {DATABASE}")
    summary = {"migrations": 0, "statements": 0, "corpus": len(corpus), "shapes": 0, "replayed": 0,
               "inserts": 0, "skipped_schema": 0, "failures": []}
    for path in sorted((ROOT / "migrations/clickhouse").glob("*.sql")):
        summary["migrations"] += 1
        for statement in statements(path.read_text()):
            s.query(statement)
            summary["statements"] += 1

    seen = set()
    for query in corpus:
        key = shape(query)
        if key in seen:
            continue
        seen.add(key)
        summary["shapes"] += 1
        head = key.split(" ", 2)[:2]
        # The migrations are applied from their files; the runner's own table
        # (schema_migrations) is created from the corpus (CREATE TABLE IF NOT EXISTS).
        if (head[0] == "DROP" or key.startswith("CREATE DATABASE")
                or (head[0] == "ALTER" and " ADD COLUMN " in key)):
            summary["skipped_schema"] += 1
            continue
        insert = INSERT.match(query.strip())
        try:
            if insert:
                table, columns = insert.group(1), [c.strip().strip("`") for c in insert.group(2).split(",")]
                types = dict(
                    line.split("\t")
                    for line in str(s.query(
                        f"SELECT name, type FROM system.columns WHERE database = '{DATABASE}' AND table = '{table}'",
                        "TSV")).splitlines()
                )
                structure = ", ".join(f"`{c}` {types[c]}" for c in columns)
                names = ", ".join(f"`{c}`" for c in columns)
                s.query(f"INSERT INTO {table} ({names}) SELECT * FROM generateRandom('{structure}', 1, 16, 0) LIMIT 20")
                summary["inserts"] += 1
            else:
                s.query(FORMAT.sub("", query.strip()), "TSV")
            summary["replayed"] += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported with its query
            summary["failures"].append({"query": query[:2000], "error": str(e)[:500]})
    print(json.dumps(summary))
    if summary["failures"]:
        sys.exit(1)


main()
