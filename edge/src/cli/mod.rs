//! Subcommands. Errors get context here (anyhow); the library returns typed errors.

pub mod check;
pub mod detect;
pub mod run;

/// Logs go to stderr; `KAITEKI_LOG` (or `RUST_LOG`) selects levels, default `info`.
pub fn init_logging(json: bool) {
    let filter = std::env::var("KAITEKI_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
