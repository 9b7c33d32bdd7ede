//! `matterbak export <format>`: runs an exporter with the options parsed, prints its summary,
//! and turns files it had to leave out into exit code 3.

use std::io::Write;

use anyhow::Result;

use crate::cancel::Cancel;
use crate::cli::ExportCommand;
use crate::error::Code;
use crate::export::{csv, hgf, html, jsonl, md, txt};

/// Where a summary goes: standard error where the export may write its output to standard
/// output (md, jsonl), and as it always did for the others.
#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

pub fn run(cmd: ExportCommand, cancel: &Cancel) -> Result<Code> {
    let (lines, stream, left_out) = match cmd {
        ExportCommand::Html(o) => {
            let s = html::export_html(&o, cancel)?;
            (s.lines(), Stream::Stdout, s.left_out)
        }
        ExportCommand::Md(o) => {
            let s = md::export_md(&o, cancel)?;
            (s.lines(), Stream::Stderr, s.left_out)
        }
        ExportCommand::Hgf(o) => {
            let s = hgf::export_hgf(&o, cancel)?;
            (s.lines(), Stream::Stderr, s.left_out)
        }
        ExportCommand::Jsonl(o) => {
            let s = jsonl::export_jsonl(&o, cancel)?;
            (s.lines(), Stream::Stderr, s.left_out)
        }
        ExportCommand::Csv(o) => {
            let s = csv::export_csv(&o, cancel)?;
            (s.lines(), Stream::Stderr, s.left_out)
        }
        ExportCommand::Txt(o) => {
            let s = txt::export_txt(&o, cancel)?;
            (s.lines(), Stream::Stderr, s.left_out)
        }
    };
    print_summary(&lines, stream)?;
    match left_out {
        Some(e) => Err(e),
        None => Ok(Code::Ok),
    }
}

/// Every summary line the same way: `matterbak: <line>`.
fn print_summary(lines: &[String], stream: Stream) -> Result<()> {
    let mut text = String::new();
    for l in lines {
        text.push_str("matterbak: ");
        text.push_str(l);
        text.push('\n');
    }
    match stream {
        Stream::Stdout => std::io::stdout().lock().write_all(text.as_bytes())?,
        Stream::Stderr => std::io::stderr().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}
