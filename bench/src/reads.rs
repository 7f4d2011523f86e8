//! `bench reads`: the read path on one large project. Seeds a project of `--runs` runs (ten-run
//! traces spread over 30 days, one 1,000-run trace, feedback on 1% of traces) straight into
//! ClickHouse, once, then times the API calls the SDKs and the UI make against it.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use ironsmith_analytics::runs::{self, FeedbackRow, RunRow};
use ironsmith_runs::merge;
use ironsmith_runs::pricing::PriceTable;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ingest::{Generator, Spec};

#[derive(Args, Debug, Clone)]
pub struct Options {
    /// The backend (or the edge's `/api/v1`).
    #[arg(long, default_value = "http://127.0.0.1:1984")]
    api_url: String,
    /// API key; defaults to the stack's bootstrap key (`IRONSMITH_BOOTSTRAP__API_KEY`).
    #[arg(long)]
    api_key: Option<String>,
    /// Runs in the project.
    #[arg(long, default_value_t = 1_000_000)]
    runs: usize,
    /// Timed repetitions of each call.
    #[arg(long, default_value_t = 30)]
    repetitions: usize,
}

const BIG_TRACE: usize = 1000;
const DAY_US: i64 = 86_400_000_000;

/// Python SDK `list_runs` default selection.
const PY_SELECT: [&str; 28] = [
    "app_path",
    "completion_cost",
    "completion_tokens",
    "dotted_order",
    "end_time",
    "error",
    "events",
    "extra",
    "feedback_stats",
    "first_token_time",
    "id",
    "inputs",
    "name",
    "outputs",
    "parent_run_id",
    "parent_run_ids",
    "prompt_cost",
    "prompt_tokens",
    "reference_example_id",
    "run_type",
    "s3_urls",
    "session_id",
    "start_time",
    "status",
    "tags",
    "total_cost",
    "total_tokens",
    "trace_id",
];

fn row(spec: &Spec, tenant_id: Uuid, session_id: Uuid, prices: &PriceTable) -> RunRow {
    let mut row = merge::new_row(tenant_id, spec.id, spec.start_us);
    row.session_id = session_id;
    row.start_time_us = spec.start_us;
    row.trace_id = spec.trace_id;
    row.parent_run_id = spec.parent;
    row.dotted_order = spec.dotted_order.clone();
    row.name = spec.name.to_owned();
    row.run_type = spec.run_type.to_owned();
    row.end_time_us = Some(spec.end_us);
    row.inputs_preview = merge::preview_of(&spec.inputs);
    row.outputs_preview = merge::preview_of(&spec.outputs);
    (row.input_keys, row.input_values) = merge::top_level_fields(&spec.inputs).into_iter().unzip();
    (row.output_keys, row.output_values) =
        merge::top_level_fields(&spec.outputs).into_iter().unzip();
    row.inputs = spec.inputs.clone();
    row.outputs = spec.outputs.clone();
    row.extra = spec.extra.clone();
    row.tags = vec!["bench".into()];
    row.trace_tier = "shortlived".into();
    row.has_create = 1;
    row.first_received_us = spec.start_us;
    row.received_us = spec.start_us;
    merge::finish(&mut row, prices, spec.start_us as u64);
    row
}

/// One trace of `BIG_TRACE` runs: a root with 40 chains of about 25 steps each.
fn big_trace(generator: &mut Generator, base: i64) -> Vec<Spec> {
    let mut specs = generator.trace_at(base);
    specs.truncate(1);
    let root_id = specs[0].id;
    let root_dotted = specs[0].dotted_order.clone();
    let mut chain: Option<(Uuid, String)> = None;
    for index in 1..BIG_TRACE {
        let start_us = base + index as i64 * 1000;
        let mut step = generator.trace_at(start_us).swap_remove(1);
        let (parent, parent_dotted) = match (&chain, index % 25) {
            (Some(chain), n) if n != 1 => chain.clone(),
            _ => (root_id, root_dotted.clone()),
        };
        step.trace_id = root_id;
        step.parent = Some(parent);
        step.dotted_order = format!(
            "{parent_dotted}.{}",
            ironsmith_runs::dotted_order::segment(start_us, step.id)
        );
        if parent == root_id {
            chain = Some((step.id, step.dotted_order.clone()));
        }
        specs.push(step);
    }
    specs
}

struct Seeded {
    project: Uuid,
    big_trace: Uuid,
}

async fn seed(
    options: &Options,
    http: &reqwest::Client,
    key: &str,
    clickhouse: &ironsmith_analytics::clickhouse::Client,
) -> anyhow::Result<Seeded> {
    let name = format!("bench-reads-{}", options.runs);
    let found: Value = http
        .get(format!("{}/sessions", options.api_url))
        .query(&[("name", name.as_str())])
        .header("x-api-key", key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let marker = format!("{name}-big-trace");
    if let Some(project) = found.get(0) {
        let project: Uuid = project["id"].as_str().context("id")?.parse()?;
        let tenant: Uuid = found[0]["tenant_id"].as_str().context("tenant")?.parse()?;
        let big: Option<String> = found[0]["extra"]["metadata"][&marker]
            .as_str()
            .map(str::to_owned);
        if let Some(big) = big
            && runs::count_runs(clickhouse, tenant, project).await? >= options.runs as u64
        {
            eprintln!("reusing the seeded project {name}");
            return Ok(Seeded {
                project,
                big_trace: big.parse()?,
            });
        }
        anyhow::bail!("project {name} exists but is incomplete: delete it and run again");
    }
    let created: Value = http
        .post(format!("{}/sessions", options.api_url))
        .header("x-api-key", key)
        .json(&json!({"name": name}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let project: Uuid = created["id"].as_str().context("id")?.parse()?;
    let tenant: Uuid = created["tenant_id"].as_str().context("tenant")?.parse()?;
    let prices = PriceTable::default();
    let mut generator = Generator::new(0x5eed, &name);
    let now = chrono::Utc::now().timestamp_micros();
    let traces = (options.runs - BIG_TRACE) / 10;
    let span = 30 * DAY_US;
    let step = span / traces.max(1) as i64;
    let started = Instant::now();
    let big = big_trace(&mut generator, now - DAY_US);
    let big_trace = big[0].id;
    let mut rows: Vec<RunRow> = big
        .iter()
        .map(|s| row(s, tenant, project, &prices))
        .collect();
    let mut feedback = Vec::new();
    let mut inserted = 0usize;
    for index in 0..traces {
        let specs = generator.trace_at(now - span + index as i64 * step);
        if index % 100 == 0 {
            let root = &specs[0];
            feedback.push(FeedbackRow {
                tenant_id: tenant,
                trace_id: root.trace_id,
                id: Uuid::now_v7(),
                run_id: Some(root.id),
                key: "correctness".into(),
                score: Some((index % 3) as f64 / 2.0),
                value: "null".into(),
                created_at_us: root.end_us,
                modified_at_us: root.end_us,
                version: root.end_us as u64,
                ..FeedbackRow::default()
            });
        }
        rows.extend(specs.iter().map(|s| row(s, tenant, project, &prices)));
        if rows.len() >= 50_000 || index + 1 == traces {
            runs::insert_runs(clickhouse, &rows, &[], |_| true).await?;
            inserted += rows.len();
            rows.clear();
            eprintln!("seeded {inserted} runs in {:.0?}", started.elapsed());
        }
    }
    runs::insert_feedback(clickhouse, &feedback).await?;
    http.patch(format!("{}/sessions/{project}", options.api_url))
        .header("x-api-key", key)
        .json(&json!({"extra": {"metadata": {marker: big_trace.to_string()}}}))
        .send()
        .await?
        .error_for_status()?;
    eprintln!(
        "seeded {inserted} runs and {} feedback records in {:.1?}",
        feedback.len(),
        started.elapsed()
    );
    Ok(Seeded { project, big_trace })
}

/// Sends one request, waiting out rate limits (their wait is not timed).
async fn timed(request: reqwest::RequestBuilder) -> anyhow::Result<(Duration, Value)> {
    loop {
        let attempt = request.try_clone().context("cloneable request")?;
        let started = Instant::now();
        let response = attempt.send().await?;
        if response.status() == 429 {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        let status = response.status();
        let body: Value = response.json().await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(status.is_success(), "{status}: {body}");
        return Ok((elapsed, body));
    }
}

/// Builds one timed request.
type Request<'a> = Box<dyn Fn() -> reqwest::RequestBuilder + 'a>;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
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
    let http = reqwest::Client::new();
    let seeded = seed(&options, &http, &key, &clickhouse).await?;
    let project = seeded.project;
    let base = &options.api_url;
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .header("x-api-key", &key)
            .json(&body)
    };
    let get = |path: &str| http.get(format!("{base}{path}")).header("x-api-key", &key);

    // (label, request, runs a page must hold; 0 for calls that are not pages)
    let cases: Vec<(&str, Request<'_>, usize)> = vec![
        (
            "Runs list, first page (100 runs, the Python SDK's default fields)",
            Box::new(|| {
                post(
                    "/runs/query",
                    json!({"session": [project], "limit": 100, "select": PY_SELECT}),
                )
            }),
            100,
        ),
        (
            "Runs list, first page of root runs (traces)",
            Box::new(|| {
                post(
                    "/runs/query",
                    json!({"session": [project], "limit": 100, "is_root": true, "select": PY_SELECT}),
                )
            }),
            100,
        ),
        (
            "1,000-run trace: `GET /runs/{root}` (with its 999 child ids)",
            Box::new(|| get(&format!("/runs/{}", seeded.big_trace))),
            0,
        ),
        (
            "1,000-run trace: first page of its runs (the SDKs' child loader)",
            Box::new(|| {
                post(
                    "/runs/query",
                    json!({"session": [project], "trace": seeded.big_trace, "is_root": false, "limit": 100, "select": PY_SELECT}),
                )
            }),
            100,
        ),
        (
            "Metadata filter `and(eq(metadata_key, \"user_id\"), eq(metadata_value, \"u-42\"))`, first page",
            Box::new(|| {
                post(
                    "/runs/query",
                    json!({"session": [project], "limit": 100, "select": PY_SELECT,
                "filter": "and(eq(metadata_key, \"user_id\"), eq(metadata_value, \"u-42\"))"}),
                )
            }),
            100,
        ),
        (
            "Feedback filter `and(eq(feedback_key, \"correctness\"), gt(feedback_score, 0.7))`, first page",
            Box::new(|| {
                post(
                    "/runs/query",
                    json!({"session": [project], "limit": 100, "select": PY_SELECT,
                "filter": "and(eq(feedback_key, \"correctness\"), gt(feedback_score, 0.7))"}),
                )
            }),
            100,
        ),
        (
            "Project statistics (`GET /sessions/{id}?include_stats=true`)",
            Box::new(|| get(&format!("/sessions/{project}?include_stats=true"))),
            0,
        ),
        (
            "`POST /runs/stats` over the project",
            Box::new(|| post("/runs/stats", json!({"session": [project]}))),
            0,
        ),
    ];

    println!(
        "Project of {} runs; {} timed repetitions after 3 warm-up calls; client-side wall time per request.\n",
        options.runs, options.repetitions
    );
    println!("| Call | p50 ms | p95 ms | max ms |");
    println!("|---|---|---|---|");
    for (label, request, expected) in &cases {
        for _ in 0..3 {
            timed(request()).await?;
        }
        let mut times = Vec::with_capacity(options.repetitions);
        for _ in 0..options.repetitions {
            let (elapsed, body) = timed(request()).await?;
            if *expected > 0 {
                let got = body["runs"].as_array().map_or(0, Vec::len);
                anyhow::ensure!(got == *expected, "{label}: {got} runs, expected {expected}");
            }
            times.push(elapsed);
        }
        times.sort();
        println!(
            "| {label} | {:.1} | {:.1} | {:.1} |",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            percentile(&times, 1.0)
        );
    }

    // The whole 1,000-run trace, paged as the SDK's child loader pages it.
    let mut whole = Vec::new();
    for _ in 0..options.repetitions.min(10) {
        let started = Instant::now();
        let mut body = json!({"session": [project], "trace": seeded.big_trace, "is_root": false, "limit": 100, "select": PY_SELECT});
        let mut seen = 0;
        loop {
            let (_, page) = timed(post("/runs/query", body.clone())).await?;
            seen += page["runs"].as_array().map_or(0, Vec::len);
            match page["cursors"]["next"].as_str() {
                Some(next) => body["cursor"] = json!(next),
                None => break,
            }
        }
        anyhow::ensure!(seen == BIG_TRACE - 1, "paged {seen} runs of the trace");
        whole.push(started.elapsed());
    }
    whole.sort();
    println!(
        "| 1,000-run trace, all 10 pages in sequence | {:.1} | {:.1} | {:.1} |",
        percentile(&whole, 0.5),
        percentile(&whole, 0.95),
        percentile(&whole, 1.0)
    );
    Ok(())
}
