//! `infer-app serve`: the HTTP service on a socket, until SIGTERM or Ctrl-C (in-flight requests
//! finish first).

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::serve::{AppState, app};

pub fn run(args: ServeArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let state = AppState::build(&args.service, &args.db, global)?;
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        let addr = listener.local_addr()?;
        // On stdout, for scripts and tests that start us on port 0.
        println!("listening on http://{addr}");
        eprintln!(
            "serving {} at http://{addr}/ (feedback in {})",
            state.describe(),
            args.db.display()
        );
        let log_writer = state.take_log_writer();
        axum::serve(listener, app(state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving")?;
        // Every handle to the log is gone with the router: the writer drains and ends.
        if let Some(writer) = log_writer {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
        eprintln!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Resolves on SIGTERM (what container runtimes send) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("shutting down: finishing requests in flight");
}
