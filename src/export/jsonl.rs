//! `matterbak export jsonl`: Mattermost bulk-import JSONL from one or more backups.

use anyhow::{bail, Result};

use crate::cli::JsonlArgs;

pub fn run(_args: &JsonlArgs) -> Result<()> {
    bail!("export jsonl is not built yet")
}
