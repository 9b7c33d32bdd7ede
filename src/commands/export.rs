//! `matterbak export <format>`: hands over to the exporters.

use anyhow::Result;

use crate::cli::ExportCommand;
use crate::error::Code;
use crate::export;

pub fn run(cmd: ExportCommand) -> Result<Code> {
    match cmd {
        ExportCommand::Html(a) => export::html::run(&a)?,
        ExportCommand::Md(a) => export::md::run(&a)?,
        ExportCommand::Hgf(a) => export::hgf::run(&a)?,
        ExportCommand::Jsonl(a) => export::jsonl::run(&a)?,
    }
    Ok(Code::Ok)
}
