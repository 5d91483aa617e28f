//! `kaiteki schema events`: the JSON Schema of every event kind, one `<kind>.schema.json` per kind.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

pub fn events(out_dir: &Path) -> anyhow::Result<ExitCode> {
    let written = kaiteki::events::schema::write_all(out_dir).with_context(|| format!("cannot write schemas to {}", out_dir.display()))?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
