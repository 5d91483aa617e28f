//! `kaiteki check -c FILE`: every problem, each with its place, or exit 0.

use std::path::Path;
use std::process::ExitCode;

pub fn check(path: &Path) -> anyhow::Result<ExitCode> {
    let loaded = match kaiteki::config::load(path) {
        Ok(l) => l,
        Err(d) => {
            eprintln!("{d}");
            eprintln!("1 problem");
            return Ok(ExitCode::FAILURE);
        }
    };
    let probe = kaiteki::source::init_gstreamer().is_ok();
    let report = loaded.validate(probe);
    for n in &report.notes {
        eprintln!("note: {n}");
    }
    for p in &report.problems {
        eprintln!("{p}");
    }
    if report.problems.is_empty() {
        println!("{}: ok ({} cameras, {} models)", path.display(), loaded.config.cameras.len(), loaded.config.models.len());
        Ok(ExitCode::SUCCESS)
    } else {
        let n = report.problems.len();
        eprintln!("{n} problem{}", if n == 1 { "" } else { "s" });
        Ok(ExitCode::FAILURE)
    }
}
