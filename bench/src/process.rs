//! CPU time of the stack's processes, read from `/proc`, to say where the time goes.

use std::collections::BTreeMap;
use std::path::Path;

/// `name → pid` of the local stack's services and stores, from `scripts/stack`'s pid files.
pub fn stack_pids(stack_dir: &Path) -> BTreeMap<String, u32> {
    let mut pids = BTreeMap::new();
    let mut read = |name: &str, file: &Path| {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Ok(pid) = text.trim().parse()
        {
            pids.insert(name.to_owned(), pid);
        }
    };
    for service in ["backend", "platform-backend", "queue", "frontend"] {
        read(service, &stack_dir.join(format!("pids/{service}.pid")));
    }
    for (store, file) in [
        ("clickhouse", "clickhouse/clickhouse.pid"),
        ("redis", "redis/redis.pid"),
        ("postgres", "postgres/data/postmaster.pid"),
        ("s3", "s3/s3.pid"),
    ] {
        let path = stack_dir.join("stores").join(file);
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Some(first) = text.lines().next()
            && let Ok(pid) = first.trim().parse()
        {
            pids.insert(store.to_owned(), pid);
        }
    }
    pids.insert("bench (client)".to_owned(), std::process::id());
    pids
}

/// User plus system CPU seconds a process (and its threads) has used.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    // sysconf(_SC_CLK_TCK) is 100 on every Linux this runs on.
    100.0
}

/// Resident memory of a process, bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
