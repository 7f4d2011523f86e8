//! The ingestion benchmark. See `bench ingest --help` and BENCHMARKS.md.
//!
//! Senders post zstd multipart bodies shaped like the Python SDK's (a `post.<id>` part plus
//! `inputs`, `outputs` and `extra` parts per run, ten-run nested traces, 1–2 KB of payload per
//! run) at a target rate or as fast as the stack accepts. One run of every request is a probe:
//! a poller looks for probes in ClickHouse and records the time from the request's 202 to the
//! probe being queryable. Afterwards the same rows are inserted straight into a scratch copy
//! of the `runs` table, which gives the ClickHouse ceiling on this machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use ironsmith_analytics::clickhouse::Client as ClickHouse;
use ironsmith_analytics::runs::RunRow;
use ironsmith_runs::merge::{apply, finish, new_row};
use ironsmith_runs::pricing::PriceTable;
use ironsmith_runs::{OpKind, Payload, RunOp};
use serde_json::value::RawValue;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::process;

mod workload;

pub(crate) use workload::{Generator, Spec};

#[derive(Args, Debug, Clone)]
pub struct Options {
    /// Where to send runs: platform-backend directly, or the edge (`http://127.0.0.1:8080/api/v1`).
    #[arg(long, default_value = "http://127.0.0.1:1986")]
    api_url: String,
    /// API key; defaults to the stack's bootstrap key (`IRONSMITH_BOOTSTRAP__API_KEY`).
    #[arg(long)]
    api_key: Option<String>,
    /// Target runs per second; 0 sends as fast as the stack accepts.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Requests in flight at once (the JS SDK keeps 5; the Python SDK scales threads to 16).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Runs per request (the SDKs' default batch is 100).
    #[arg(long, default_value_t = 100)]
    runs_per_request: usize,
    /// Seconds of the raw ClickHouse insert measurement; 0 skips it.
    #[arg(long, default_value_t = 15)]
    ceiling_seconds: u64,
    /// The local stack's state folder, for per-process CPU figures.
    #[arg(long, default_value = ".stack")]
    stack_dir: std::path::PathBuf,
}

#[derive(Default)]
struct Shared {
    requests: AtomicU64,
    runs: AtomicU64,
    refused: AtomicU64,
    wire_bytes: AtomicU64,
    raw_bytes: AtomicU64,
    probes: Mutex<Vec<(Uuid, Instant)>>,
    request_ms: Mutex<Vec<f64>>,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let config = ironsmith_config::load(&ironsmith_config::LoadOptions {
        read_env: true,
        ..ironsmith_config::LoadOptions::default()
    })
    .context("loading the stack configuration (source .stack/services.env first)")?;
    let key = options
        .api_key
        .clone()
        .unwrap_or_else(|| config.bootstrap.api_key.expose().to_owned());
    let clickhouse = ironsmith_analytics::client(&config.clickhouse);
    let project = format!("bench-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S"));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency * 2)
        .timeout(Duration::from_secs(30))
        .build()?;
    let info: serde_json::Value = http
        .get(format!("{}/info", options.api_url))
        .send()
        .await?
        .json()
        .await
        .context("GET /info")?;
    eprintln!(
        "bench: server version {}; project {project}",
        info["version"]
    );

    let pids = process::stack_pids(&options.stack_dir);
    let cpu_before: Vec<(String, f64)> = pids
        .iter()
        .filter_map(|(name, pid)| Some((name.clone(), process::cpu_seconds(*pid)?)))
        .collect();

    let shared = Arc::new(Shared::default());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.duration);
    let mut senders = Vec::new();
    for worker in 0..options.concurrency {
        let shared = shared.clone();
        let http = http.clone();
        let options = options.clone();
        let key = key.clone();
        let project = project.clone();
        senders.push(tokio::spawn(async move {
            let mut generator =
                Generator::new(0x9e37_79b9_7f4a_7c15 ^ (worker as u64 + 1), &project);
            let boundary = Uuid::new_v4().simple().to_string();
            let url = format!("{}/runs/multipart", options.api_url);
            while Instant::now() < deadline {
                if options.rate > 0 {
                    let allowed = options.rate as f64 * started.elapsed().as_secs_f64();
                    if shared.runs.load(Ordering::Relaxed) as f64 >= allowed {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    }
                }
                let (body, raw, probe) = generator.body(options.runs_per_request, &boundary);
                let wire = body.len();
                let sent = Instant::now();
                let answer = http
                    .post(&url)
                    .header("x-api-key", &key)
                    .header(
                        "content-type",
                        format!("multipart/form-data; boundary={boundary}"),
                    )
                    .header("content-encoding", "zstd")
                    .header("x-pre-compressed-size", raw.to_string())
                    .header("x-post-compressed-size", wire.to_string())
                    .body(body)
                    .send()
                    .await;
                let accepted_at = Instant::now();
                match answer {
                    Ok(response) if response.status().as_u16() == 202 => {
                        shared.requests.fetch_add(1, Ordering::Relaxed);
                        shared
                            .runs
                            .fetch_add(options.runs_per_request as u64, Ordering::Relaxed);
                        shared.wire_bytes.fetch_add(wire as u64, Ordering::Relaxed);
                        shared.raw_bytes.fetch_add(raw as u64, Ordering::Relaxed);
                        shared.probes.lock().await.push((probe, accepted_at));
                        shared
                            .request_ms
                            .lock()
                            .await
                            .push((accepted_at - sent).as_secs_f64() * 1000.0);
                    }
                    Ok(response) => {
                        shared.refused.fetch_add(1, Ordering::Relaxed);
                        let status = response.status();
                        let text = response.text().await.unwrap_or_default();
                        eprintln!("bench: refused {status}: {text}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(error) => {
                        shared.refused.fetch_add(1, Ordering::Relaxed);
                        eprintln!("bench: request failed: {error}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }

    // Probe poller and visibility sampler, until every accepted run is visible.
    let mut latencies: Vec<f64> = Vec::new();
    let mut pending: Vec<(Uuid, Instant)> = Vec::new();
    let mut tenant: Option<(Uuid, Uuid)> = None;
    let mut visible_at_deadline: Option<u64> = None;
    let mut all_visible_at: Option<Duration> = None;
    let give_up = deadline + Duration::from_secs(120);
    loop {
        pending.extend(shared.probes.lock().await.drain(..));
        if tenant.is_none()
            && let Some((probe, _)) = pending.first()
        {
            tenant = clickhouse
                .query("SELECT tenant_id, session_id FROM run_ids WHERE id = ? LIMIT 1")
                .bind(*probe)
                .fetch_optional::<Placement>()
                .await?
                .map(|p| (p.tenant_id, p.session_id));
        }
        if let Some((tenant_id, _)) = tenant
            && !pending.is_empty()
        {
            let ids: Vec<Uuid> = pending.iter().map(|(id, _)| *id).collect();
            let mut found = Vec::new();
            for chunk in ids.chunks(2000) {
                let rows: Vec<TenantId> = clickhouse
                    .query("SELECT id FROM run_ids WHERE tenant_id = ? AND id IN ?")
                    .bind(tenant_id)
                    .bind(ironsmith_analytics::InList(chunk))
                    .fetch_all()
                    .await?;
                found.extend(rows.into_iter().map(|r| r.0));
            }
            let now = Instant::now();
            pending.retain(|(id, at)| {
                if found.contains(id) {
                    latencies.push((now - *at).as_secs_f64() * 1000.0);
                    false
                } else {
                    true
                }
            });
        }
        let sending = senders.iter().any(|s| !s.is_finished());
        if !sending && visible_at_deadline.is_none() {
            visible_at_deadline = Some(visible(&clickhouse, tenant).await?);
        }
        if !sending && pending.is_empty() {
            let accepted = shared.runs.load(Ordering::Relaxed);
            if visible(&clickhouse, tenant).await? >= accepted {
                all_visible_at = Some(started.elapsed());
                break;
            }
        }
        if Instant::now() > give_up {
            eprintln!("bench: gave up waiting for visibility");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for sender in senders {
        sender.await?;
    }
    let cpu_after: Vec<(String, f64)> = pids
        .iter()
        .filter_map(|(name, pid)| Some((name.clone(), process::cpu_seconds(*pid)?)))
        .collect();
    let elapsed_send = options.duration as f64;
    let accepted = shared.runs.load(Ordering::Relaxed);
    let wall = all_visible_at
        .unwrap_or_else(|| started.elapsed())
        .as_secs_f64();

    let mut request_ms = shared.request_ms.lock().await.clone();
    println!(
        "## Ingestion: `bench ingest --rate {} --duration {} --concurrency {} --runs-per-request {}`\n",
        options.rate, options.duration, options.concurrency, options.runs_per_request
    );
    println!("| Measure | Value |\n|---|---|");
    println!(
        "| Runs accepted (202) | {accepted} in {} requests, {} refused |",
        shared.requests.load(Ordering::Relaxed),
        shared.refused.load(Ordering::Relaxed)
    );
    println!(
        "| Accepted rate | {:.0} runs/s |",
        accepted as f64 / elapsed_send
    );
    println!(
        "| Visible in ClickHouse when sending stopped | {} |",
        visible_at_deadline.unwrap_or(0)
    );
    println!(
        "| All accepted runs visible after | {wall:.1} s (sending took {elapsed_send:.0} s) |"
    );
    println!(
        "| Visible rate (accepted runs / time until all visible) | {:.0} runs/s |",
        accepted as f64 / wall
    );
    println!(
        "| 202 → queryable, p50 / p99 / max ({} probes) | {:.0} / {:.0} / {:.0} ms |",
        latencies.len(),
        pct(&mut latencies, 50.0),
        pct(&mut latencies, 99.0),
        pct(&mut latencies, 100.0)
    );
    println!(
        "| Request time to 202, p50 / p99 | {:.1} / {:.1} ms |",
        pct(&mut request_ms, 50.0),
        pct(&mut request_ms, 99.0)
    );
    println!(
        "| Bytes per run, uncompressed / on the wire (zstd 1) | {:.0} / {:.0} |",
        shared.raw_bytes.load(Ordering::Relaxed) as f64 / accepted.max(1) as f64,
        shared.wire_bytes.load(Ordering::Relaxed) as f64 / accepted.max(1) as f64
    );
    println!(
        "\n| Process | CPU seconds | Share of 2 cores over {wall:.1} s | RSS after |\n|---|---|---|---|"
    );
    for (name, after) in &cpu_after {
        let before = cpu_before
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0.0, |(_, b)| *b);
        let rss = pids
            .get(name)
            .and_then(|pid| process::rss_bytes(*pid))
            .unwrap_or(0);
        println!(
            "| {name} | {:.1} | {:.0}% | {} MiB |",
            after - before,
            (after - before) / (2.0 * wall) * 100.0,
            rss >> 20
        );
    }

    if options.ceiling_seconds > 0 {
        ceiling(&clickhouse, &project, options.ceiling_seconds).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, clickhouse::Row, serde::Deserialize)]
struct Placement {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    session_id: Uuid,
}

#[derive(Debug, Clone, Copy, clickhouse::Row, serde::Deserialize)]
struct TenantId(#[serde(with = "clickhouse::serde::uuid")] Uuid);

async fn visible(clickhouse: &ClickHouse, tenant: Option<(Uuid, Uuid)>) -> anyhow::Result<u64> {
    let Some((tenant_id, session_id)) = tenant else {
        return Ok(0);
    };
    Ok(clickhouse
        .query("SELECT uniqExact(id) FROM run_ids WHERE tenant_id = ? AND session_id = ?")
        .bind(tenant_id)
        .bind(session_id)
        .fetch_one::<u64>()
        .await?)
}

fn pct(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank.min(values.len() - 1)]
}

/// The same rows, folded by the worker's own merge code, inserted straight into a scratch copy
/// of `runs` by two inserters in batches of 5,000: the most this ClickHouse takes.
async fn ceiling(clickhouse: &ClickHouse, project: &str, seconds: u64) -> anyhow::Result<()> {
    let tenant = Uuid::now_v7();
    let session = Uuid::now_v7();
    let mut generator = Generator::new(42, project);
    let prices = PriceTable::default();
    let mut rows: Vec<RunRow> = Vec::with_capacity(100_000);
    while rows.len() < 100_000 {
        for spec in generator.trace() {
            let mut op = RunOp::new(OpKind::Post, spec.id);
            op.has_run_part = true;
            op.session_id = Some(session);
            op.name = Some(spec.name.to_owned());
            op.run_type = Some(spec.run_type.to_owned());
            op.start_time_us = Some(spec.start_us);
            op.end_time_us = Some(spec.end_us);
            op.trace_id = Some(spec.trace_id);
            op.parent_run_id = spec.parent;
            op.dotted_order = Some(spec.dotted_order);
            op.tags = Some(vec!["bench".into()]);
            op.inputs = Some(Payload::Inline(RawValue::from_string(spec.inputs)?));
            op.outputs = Some(Payload::Inline(RawValue::from_string(spec.outputs)?));
            op.extra = Some(RawValue::from_string(spec.extra)?);
            let now = chrono::Utc::now().timestamp_micros();
            let mut row = new_row(tenant, spec.id, now);
            apply(&mut row, &op, now);
            finish(&mut row, &prices, now as u64);
            rows.push(row);
        }
    }
    clickhouse
        .query("DROP TABLE IF EXISTS bench_runs")
        .execute()
        .await?;
    clickhouse
        .query("CREATE TABLE bench_runs AS runs")
        .execute()
        .await?;
    let rows = Arc::new(rows);
    let inserted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for inserter in 0..2 {
        let clickhouse = clickhouse.clone();
        let rows = rows.clone();
        let inserted = inserted.clone();
        tasks.push(tokio::spawn(async move {
            let mut offset = inserter * 5000;
            while Instant::now() < until {
                let mut insert = clickhouse.insert::<RunRow>("bench_runs")?;
                for i in 0..5000 {
                    insert.write(&rows[(offset + i) % rows.len()]).await?;
                }
                insert.end().await?;
                inserted.fetch_add(5000, Ordering::Relaxed);
                offset += 10_000;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = inserted.load(Ordering::Relaxed);
    clickhouse
        .query("DROP TABLE IF EXISTS bench_runs")
        .execute()
        .await?;
    println!("\n## ClickHouse ceiling: the same rows inserted straight into a copy of `runs`\n");
    println!("| Measure | Value |\n|---|---|");
    println!("| Rows inserted | {total} in {elapsed:.1} s (2 inserters, 5,000 rows per INSERT) |");
    println!("| Raw insert rate | {:.0} rows/s |", total as f64 / elapsed);
    Ok(())
}
