//! `matterbak export hgf`: not built yet.

use anyhow::{bail, Result};

use crate::cli::HgfArgs;

pub fn run(_args: &HgfArgs) -> Result<()> {
    bail!("export hgf is not built yet")
}
