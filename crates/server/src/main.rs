//! `pinset-server`: see the crate's README.

use clap::Parser;
use pinset_server::Config;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if config.json_logs {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let (tokens, demo_token) = match pinset_server::tokens(&config) {
        Ok(tokens) => tokens,
        Err(e) => {
            eprintln!("pinset-server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(token) = demo_token {
        // Printed once, on stderr, for the demo user; never logged.
        eprintln!("pinset-server: demo token: {}", token.as_str());
    }
    let served = pinset_server::serve(
        config,
        tokens,
        |addr| eprintln!("pinset-server: listening on http://{addr}"),
        shutdown(),
    )
    .await;
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pinset-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// SIGTERM or Ctrl-C: stop accepting, let in-flight requests finish.
async fn shutdown() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
