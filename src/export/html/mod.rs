//! `matterbak export html`: a static site to read a backup offline.

use anyhow::{bail, Result};

use crate::cli::HtmlArgs;

pub fn run(_args: &HtmlArgs) -> Result<()> {
    bail!("export html is not built yet")
}
