//! Subcommands. Errors get context here (anyhow); the library returns typed errors.

pub mod calibrate;
pub mod check;
pub mod detect;
pub mod eval;
pub mod model;
pub mod model_args;
pub mod run;
pub mod schema;

/// Logs go to stderr; `KAITEKI_LOG` (or `RUST_LOG`) selects levels, default `info`.
pub fn init_logging(json: bool) {
    let filter = std::env::var("KAITEKI_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter).with(kaiteki::health::logbuf::RingLayer);
    if json {
        registry.with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr)).init();
    } else {
        registry.with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)).init();
    }
}

/// `kaiteki user add`: the password comes from stdin (scripts) or a prompt; it is never an argument,
/// which would leave it in shell history and `ps`.
pub fn user_add(name: &str, role: kaiteki::dashboard::Role, from_stdin: bool) -> anyhow::Result<std::process::ExitCode> {
    use std::io::{BufRead, Write};
    if !from_stdin {
        eprint!("password for {name} (input is shown; prefer --password-stdin): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']);
    let snippet = kaiteki::dashboard::user_add(name, role, password).map_err(|e| anyhow::anyhow!("{e}"))?;
    print!("{snippet}");
    Ok(std::process::ExitCode::SUCCESS)
}
