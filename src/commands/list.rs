//! `matterbak list`: every team, channel, direct and group conversation the user can see.

use anyhow::{bail, Result};

use crate::cli::ListArgs;
use crate::error::Code;

pub fn run(_args: ListArgs) -> Result<Code> {
    bail!("list is not built yet")
}
