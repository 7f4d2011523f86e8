//! `bench`: load generators run against a local stack (`scripts/stack up`), reading the stack's
//! configuration from the environment like the services do (`set -a; . .stack/services.env`).
//! Results are printed as Markdown for `BENCHMARKS.md`.

// A benchmark that hits something unexpected should stop with the reason, not carry on.
#![allow(clippy::expect_used, clippy::indexing_slicing, clippy::too_many_lines)]
// The report is the program's output: it prints Markdown to stdout by design.
#![allow(clippy::print_stdout)]

mod ingest;
mod process;
mod reads;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bench",
    about = "Ironsmith benchmarks against a running local stack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drives `/runs/multipart` with realistic traces (nested runs, 1–2 KB payloads, zstd as
    /// the Python SDK sends them) and measures acceptance, visibility in ClickHouse, latency
    /// from 202 to queryable, and the raw ClickHouse insert rate of the same rows.
    Ingest(ingest::Options),
    /// Seeds one project of a million runs (once) and times the read calls against it: run
    /// lists, a 1,000-run trace, filters, statistics.
    Reads(reads::Options),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Ingest(options) => ingest::run(options).await,
        Command::Reads(options) => reads::run(options).await,
    }
}
