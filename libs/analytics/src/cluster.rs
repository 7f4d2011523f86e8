//! Running on a ClickHouse cluster instead of one server.
//!
//! With `clickhouse.cluster` set (a cluster of the servers' `remote_servers`, with ZooKeeper or
//! ClickHouse Keeper), every table the migrations create becomes two: `<table>_local`, a
//! `Replicated…MergeTree` on every node (`ON CLUSTER`, replicas found through the servers'
//! `{shard}` and `{replica}` macros), and `<table>`, a `Distributed` table over them. The
//! services keep naming `<table>`: reads fan out to one replica of each shard, and inserts go
//! to the shard their row's id hashes to, so every version of a row lands on the same shard and
//! `ReplacingMergeTree` deduplication still sees them together. Mutations (deletes) name the
//! local tables, on the whole cluster. Statements run `ON CLUSTER` name their database: each
//! node executes them in its own default database.
//!
//! The migration files stay single-node SQL; [`statements_for_cluster`] rewrites each
//! statement. See <https://clickhouse.com/docs/engines/table-engines/mergetree-family/replication>
//! and <https://clickhouse.com/docs/engines/table-engines/special/distributed>.

use std::collections::HashMap;

use crate::AnalyticsError;

/// Each table's shard key, from the `CREATE TABLE` statements among `statements`.
pub fn shard_keys<'a>(statements: impl Iterator<Item = &'a str>) -> HashMap<String, &'static str> {
    statements
        .filter_map(|s| {
            let rest = s.strip_prefix("CREATE TABLE IF NOT EXISTS ")?;
            let end = rest.find(|c: char| c.is_whitespace() || c == '(')?;
            let (table, columns) = rest.split_at(end);
            Some((table.to_owned(), shard_key(columns)))
        })
        .collect()
}

/// The rewrite of one single-node migration statement for `cluster`, in order. `keys` holds
/// the shard key of every table the migrations create ([`shard_keys`]).
pub fn statements_for_cluster(
    statement: &str,
    cluster: &str,
    database: &str,
    keys: &HashMap<String, &'static str>,
) -> Result<Vec<String>, AnalyticsError> {
    let bad = |reason: &str| AnalyticsError::BadMigration {
        name: statement.lines().next().unwrap_or_default().to_owned(),
        reason: reason.to_owned(),
    };
    if let Some(rest) = statement.strip_prefix("CREATE TABLE IF NOT EXISTS ") {
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '(')
            .ok_or_else(|| bad("no table name"))?;
        let (table, rest) = rest.split_at(name_end);
        let engine_at = rest
            .find("ENGINE = ")
            .ok_or_else(|| bad("no ENGINE clause"))?;
        let (columns, engine) = rest.split_at(engine_at);
        let engine = engine.trim_start_matches("ENGINE = ");
        let open = engine
            .find('(')
            .ok_or_else(|| bad("engine without arguments"))?;
        let close = engine
            .find(')')
            .ok_or_else(|| bad("engine without arguments"))?;
        let (kind, args, after) = (
            engine.get(..open).unwrap_or_default(),
            engine.get(open + 1..close).unwrap_or_default().trim(),
            engine.get(close + 1..).unwrap_or_default(),
        );
        if !kind.ends_with("MergeTree") {
            return Err(bad("only MergeTree-family tables can be replicated"));
        }
        let path = format!("'/clickhouse/tables/{{shard}}/{database}/{table}', '{{replica}}'");
        let args = if args.is_empty() {
            path
        } else {
            format!("{path}, {args}")
        };
        let key = shard_key(columns);
        return Ok(vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {database}.{table}_local ON CLUSTER {cluster} {} ENGINE = Replicated{kind}({args}){after}",
                columns.trim()
            ),
            distributed(database, table, cluster, key),
        ]);
    }
    if let Some(rest) = statement.strip_prefix("ALTER TABLE ") {
        let name_end = rest
            .find(char::is_whitespace)
            .ok_or_else(|| bad("no table name"))?;
        let (table, change) = rest.split_at(name_end);
        let key = keys
            .get(table)
            .ok_or_else(|| bad("ALTER of a table no migration creates"))?;
        // The replicated tables first. The Distributed layer holds no data (inserts are
        // synchronous) and cannot be altered ON CLUSTER over replicated shards, so it is made
        // again with the new columns: for a moment the table is missing, and a query then
        // fails and is retried, as during any migration.
        return Ok(vec![
            format!("ALTER TABLE {database}.{table}_local ON CLUSTER {cluster}{change}"),
            format!("DROP TABLE IF EXISTS {database}.{table} ON CLUSTER {cluster}"),
            distributed(database, table, cluster, key),
        ]);
    }
    // Data statements (INSERT … SELECT) read and write through the Distributed tables.
    Ok(vec![statement.to_owned()])
}

fn distributed(database: &str, table: &str, cluster: &str, key: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {database}.{table} ON CLUSTER {cluster} AS {database}.{table}_local ENGINE = Distributed({cluster}, {database}, {table}_local, cityHash64({key}))"
    )
}

/// The column rows are sharded by: the row's id where it has one (so all its versions share a
/// shard), else the trace's, else the version's.
fn shard_key(columns: &str) -> &'static str {
    let has = |name: &str| {
        columns
            .lines()
            .map(|l| l.trim().trim_start_matches('('))
            .any(|l| l.split_whitespace().next() == Some(name))
    };
    if has("id") {
        "id"
    } else if has("trace_id") {
        "trace_id"
    } else {
        "version"
    }
}

/// The target of a mutation (`ALTER TABLE … DELETE`) on `table`: the table itself on one
/// server, its replicated local tables on every node of a cluster (named with their database:
/// each node runs the statement in its own default database).
pub fn mutation_target(table: &str, cluster: &str, database: &str) -> String {
    if cluster.is_empty() {
        table.to_owned()
    } else {
        format!("{database}.{table}_local ON CLUSTER {cluster}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_becomes_a_replicated_local_table_and_a_distributed_one() {
        let out = statements_for_cluster(
            "CREATE TABLE IF NOT EXISTS runs (\n    tenant_id UUID,\n    id UUID,\n    version UInt64\n) ENGINE = ReplacingMergeTree(version)\nPARTITION BY x\nORDER BY (tenant_id, id)",
            "c1",
            "db",
            &HashMap::new(),
        )
        .expect("rewrites");
        assert_eq!(out.len(), 2);
        assert!(out[0].starts_with("CREATE TABLE IF NOT EXISTS db.runs_local ON CLUSTER c1 ("));
        assert!(out[0].contains(
            "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/runs', '{replica}', version)\nPARTITION BY x"
        ));
        assert_eq!(
            out[1],
            "CREATE TABLE IF NOT EXISTS db.runs ON CLUSTER c1 AS db.runs_local ENGINE = Distributed(c1, db, runs_local, cityHash64(id))"
        );
    }

    #[test]
    fn engines_without_arguments_and_tables_without_ids() {
        let out = statements_for_cluster(
            "CREATE TABLE IF NOT EXISTS trace_upgrades (\n    tenant_id UUID,\n    trace_id UUID\n) ENGINE = ReplacingMergeTree()\nORDER BY (tenant_id, trace_id)",
            "c1",
            "db",
            &HashMap::new(),
        )
        .expect("rewrites");
        assert!(out[0].contains("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/trace_upgrades', '{replica}')"));
        assert!(out[1].ends_with("cityHash64(trace_id))"));
        assert!(
            statements_for_cluster(
                "CREATE TABLE IF NOT EXISTS m (x UInt8) ENGINE = Memory()",
                "c1",
                "db",
                &HashMap::new()
            )
            .is_err()
        );
    }

    #[test]
    fn alters_change_both_layers_and_data_statements_pass_through() {
        let keys = shard_keys(
            ["CREATE TABLE IF NOT EXISTS runs (\n    id UUID\n) ENGINE = MergeTree() ORDER BY id"]
                .into_iter(),
        );
        let out = statements_for_cluster(
            "ALTER TABLE runs\n    ADD COLUMN a String AFTER b",
            "c1",
            "db",
            &keys,
        )
        .expect("rewrites");
        assert_eq!(
            out,
            [
                "ALTER TABLE db.runs_local ON CLUSTER c1\n    ADD COLUMN a String AFTER b",
                "DROP TABLE IF EXISTS db.runs ON CLUSTER c1",
                "CREATE TABLE IF NOT EXISTS db.runs ON CLUSTER c1 AS db.runs_local ENGINE = Distributed(c1, db, runs_local, cityHash64(id))"
            ]
        );
        assert!(
            statements_for_cluster("ALTER TABLE other ADD COLUMN a String", "c1", "db", &keys)
                .is_err()
        );
        let insert = "INSERT INTO a (x) SELECT x FROM b";
        assert_eq!(
            statements_for_cluster(insert, "c1", "db", &keys).expect("same"),
            [insert]
        );
        assert_eq!(mutation_target("runs", "", "db"), "runs");
        assert_eq!(
            mutation_target("runs", "c1", "db"),
            "db.runs_local ON CLUSTER c1"
        );
    }
}
