//! `<binary> serve | migrate | check-config`.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ironsmith_config::{Config, LoadOptions};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve until SIGTERM (the default).
    Serve,
    /// Apply pending schema migrations and exit (binaries that own a schema).
    Migrate,
    /// Load and validate the configuration, print it with secrets redacted, and exit.
    CheckConfig,
    /// Create the initial organisation, workspace, admin and API key from `[bootstrap]` unless
    /// an organisation exists (platform-backend; it also does this on its first start).
    Bootstrap,
}

/// What a binary does for each command.
pub trait Binary {
    fn serve(
        config: Arc<Config>,
        shutdown: CancellationToken,
    ) -> impl Future<Output = anyhow::Result<()>>;

    /// `None` when the binary owns no schema.
    fn migrate(config: Arc<Config>) -> Option<impl Future<Output = anyhow::Result<()>>>;

    /// `None` when the binary does not bootstrap tenancy.
    fn bootstrap(_config: Arc<Config>) -> Option<impl Future<Output = anyhow::Result<()>>> {
        None::<std::future::Ready<anyhow::Result<()>>>
    }
}

#[allow(
    clippy::print_stdout,
    reason = "check-config prints the configuration: that is its output"
)]
/// The whole of a binary's `main`: parse the command line, load the configuration, start
/// telemetry, and run the command; SIGTERM and Ctrl-C shut `serve` down gracefully.
pub fn main_with<B: Binary>(name: &str) -> ExitCode {
    let cli = Cli::parse();
    let config = match ironsmith_config::load(&LoadOptions::from_env()) {
        Ok(config) => Arc::new(config),
        Err(error) => {
            eprintln!("{name}: {error}");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::CheckConfig = command {
        return match toml::to_string_pretty(&*config) {
            Ok(text) => {
                println!("# {name}: configuration is valid (secrets redacted)\n{text}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{name}: cannot print the configuration: {error}");
                ExitCode::FAILURE
            }
        };
    }
    if let Err(error) = ironsmith_telemetry::init(&config.telemetry) {
        eprintln!("{name}: {error}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{name}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match command {
            Command::Serve | Command::CheckConfig => {
                let shutdown = CancellationToken::new();
                ironsmith_http::shutdown_signal(shutdown.clone());
                tracing::info!(service = name, region = %config.stack.region, "starting");
                B::serve(config, shutdown).await
            }
            Command::Migrate => match B::migrate(config) {
                Some(migrate) => migrate.await,
                None => Err(anyhow::anyhow!(
                    "{name} owns no schema; run `backend migrate`"
                )),
            },
            Command::Bootstrap => match B::bootstrap(config) {
                Some(bootstrap) => bootstrap.await,
                None => Err(anyhow::anyhow!(
                    "{name} does not bootstrap; run `platform-backend bootstrap`"
                )),
            },
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "{name} failed");
            eprintln!("{name}: {error:#}");
            ExitCode::FAILURE
        }
    }
}
