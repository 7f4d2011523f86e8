use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    ironsmith_listener::init_logging();
    let config = match ironsmith_listener::config::Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "listener configuration");
            return ExitCode::from(2);
        }
    };
    match ironsmith_listener::run(config, ironsmith_listener::shutdown_on_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "listener stopped");
            ExitCode::FAILURE
        }
    }
}
