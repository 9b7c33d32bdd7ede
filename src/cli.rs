//! The command line: the original matterbak's options, plus room for subcommands.

// The doc comments of this module are clap's `--help` text, written for a terminal: a bare URL
// or `<user>` in them is meant as it stands.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::error::{exit_status_help, exit_status_help_all, Code};
use crate::export::csv::CsvOptions;
use crate::export::hgf::HgfOptions;
use crate::export::html::HtmlOptions;
use crate::export::jsonl::JsonlOptions;
use crate::export::md::MdOptions;
use crate::export::txt::TxtOptions;
use crate::search::SearchOptions;

/// The sources of a login, for the long help of `backup` and `list`.
macro_rules! login_help {
    () => {
        "\
LOGGING IN:
    The server URL, the user name and the password or token each come from the first of:
      1. the flags --url and --user
      2. MATTERBAK_URL, MATTERBAK_USER, MATTERBAK_TOKEN, MATTERBAK_PASSWORD
      3. the credentials file (--credentials, or credentials.json if it exists)
      4. ~/.netrc (or $NETRC): `machine HOST login USER password SECRET`
    A token beats a password from the same place. With MFA, pass --mfa-token CODE; on a
    terminal matterbak asks for the code when the server wants one.

"
    };
}

/// The end of `matterbak --help` (and of the man page).
fn after_help() -> String {
    format!("{}{}", login_help!(), exit_status_help_all())
}

/// The end of `matterbak list --help`: no partial outcome, no lock.
fn list_after_help() -> String {
    let exit = exit_status_help(&[
        (Code::Ok, Some("success")),
        (
            Code::Failure,
            Some(
                "a run-time error (a server error after retries, the output could not be written)",
            ),
        ),
        (Code::Usage, Some("bad command line or credentials file")),
        (Code::Auth, None),
        (Code::Unreachable, None),
        (Code::Interrupted, Some("interrupted by Ctrl+C or SIGTERM")),
    ]);
    format!(
        "\
EXAMPLES:
    matterbak list
    matterbak list --json | jq -r '.teams[].channels[].name'
    matterbak list --channels-json -o channels.json    # then edit it down and run matterbak

{}{exit}",
        login_help!()
    )
}

/// The end of `matterbak search --help`.
fn search_after_help() -> String {
    let exit = exit_status_help(&[
        (Code::Ok, Some("success (also when nothing was found)")),
        (Code::Failure, Some("the backup could not be read")),
        (
            Code::Usage,
            Some("bad command line: an unknown key:, a bad date, no such channel or user"),
        ),
        (
            Code::Partial,
            Some("the backup is damaged: some files were left out (see the warnings)"),
        ),
        (Code::Interrupted, Some("interrupted by Ctrl+C or SIGTERM")),
    ]);
    format!(
        "\
EXAMPLES:
    matterbak search deploy friday
    matterbak search -d matterbak_alice.zip '\"release notes\"' from:bob in:acme/town-square
    matterbak search --json 'invoice*' has:file after:2024-01-01 | jq -r .html_page
    matterbak search --history -d data password

{exit}"
    )
}

/// Back up Mattermost channels (direct, group and team) with all posts, threads, files,
/// users and custom emojis into a data directory, then zip it.
#[derive(Debug, Parser)]
#[command(name = "matterbak", version, about, after_help = after_help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub backup: BackupArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

impl Cli {
    /// Parses the command line like `try_parse_from`, and refuses backup options given with
    /// a subcommand (`matterbak -d x list`). clap's `args_conflicts_with_subcommands` would
    /// also refuse the global options before a subcommand (`matterbak -q list`), so this is
    /// checked here.
    ///
    /// # Errors
    /// A clap error (usage, or `--help`/`--version` to print).
    pub fn parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::parser::ValueSource;
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = Cli::command();
        let m = cmd.try_get_matches_from_mut(args)?;
        if let Some((name, _)) = m.subcommand() {
            let given = cmd.get_arguments().find(|a| {
                !a.is_global_set()
                    && m.try_contains_id(a.get_id().as_str()).unwrap_or(false)
                    && m.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine)
            });
            if let Some(a) = given {
                let flag = a
                    .get_long()
                    .map(|l| format!("--{l}"))
                    .unwrap_or_else(|| a.get_id().to_string());
                return Err(cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("the backup option '{flag}' cannot be used with the subcommand '{name}' (put options after the subcommand)"),
                ));
            }
        }
        Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd))
    }
}

/// Options of every command: how much is logged, and how. Under their own heading: otherwise
/// they show under the heading of the options flattened before them ("Server and login").
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Logging")]
pub struct GlobalArgs {
    /// More log detail: -v logs matterbak's debug messages, -vv traces everything (HTTP
    /// included; never a secret). RUST_LOG, when set, decides instead [default: info].
    #[arg(short = 'v', long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Print only errors: no log lines, no status line, and on success no summary at all
    /// (for cron, which mails whatever is printed).
    #[arg(short = 'q', long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log lines as text (on a terminal without timestamps; otherwise with UTC timestamps, no
    /// colours) or as JSON, one object per line with timestamp, level, message and fields (for
    /// log collectors; no status line, errors and the summary are JSON lines too).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// The format of log lines on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl GlobalArgs {
    pub fn json(&self) -> bool {
        self.log_format == LogFormat::Json
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the backup (the default when no subcommand is given).
    Backup(BackupArgs),
    /// Check a data dir: every JSON file parses, every attachment is there with the size its
    /// file info gives, threads match the posts, no temp files, every file and folder is what
    /// it should be. Exits 1 if anything is wrong, 6 (checking nothing) while a backup holds
    /// the data dir's lock.
    Verify(VerifyArgs),
    /// Export a backup (data dir or zip) to HTML, Markdown, HGF, bulk-import JSONL, CSV or text.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Search a backup (data dir or zip) with Mattermost's query syntax, newest first.
    ///
    /// Words must all be in a post (whole words, case- and accent-insensitive; `wor*` for a
    /// prefix), "a phrase" (quote the quotes in the shell: '"a phrase"'), -word to exclude,
    /// #hashtag, from:USER, in:CHANNEL (name, team/name, or the other members' usernames:
    /// in:bob, in:bob,carol), before:/after:/on:YYYY-MM-DD, has:file, is:pinned. Never asks
    /// the server.
    #[command(after_help = search_after_help())]
    Search(SearchOptions),
    /// Log in and list every team, channel, direct and group conversation the user can see.
    ///
    /// Prints a table (grouped by team, then direct, then groups), or with --json one JSON
    /// object, or with --channels-json a channels.json that selects everything listed. POSTS is
    /// the server's message count of the channel: posts and replies without join/leave
    /// messages, deleted posts included. Reads the server only; writes nothing but its output.
    #[command(after_help = list_after_help())]
    List(ListArgs),
    /// Zip a data dir, as a backup does at its end (entries unchanged since the previous zip
    /// are copied from it, not compressed again).
    Zip(ZipArgs),
    /// Print a shell completion script (e.g. `matterbak completions bash > /etc/bash_completion.d/matterbak`).
    #[command(hide = true)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; e.g. `matterbak man > /usr/local/share/man/man1/matterbak.1`).
    #[command(hide = true)]
    Man,
}

/// Options of `matterbak zip`.
#[derive(Debug, Clone, Args)]
pub struct ZipArgs {
    /// The data dir to zip.
    #[arg(short = 'd', long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// The zip file to write (replaced atomically).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output_zip: PathBuf,
    /// Deflate level of new entries: 1 fastest to 9 smallest, 0 stores everything.
    #[arg(long, value_name = "N", default_value_t = crate::archive::DEFAULT_LEVEL, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub zip_level: u32,
    /// Threads that compress new entries [default: one per core, at most 8]. The zip is the
    /// same whatever the number; 1 compresses on the thread that writes the zip.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub threads: Option<u64>,
}

/// The formats of `matterbak export`: the options are the exporters' own.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// A static site to read the backup offline in any browser (no server, no network).
    #[command(after_help = html_after_help())]
    Html(HtmlOptions),
    /// Markdown, as the original matterexport writes it (one channel, or every channel).
    Md(MdOptions),
    /// One channel as a zip in the format of the Helmholtz Mattermost archiver (as matterexport hgf).
    Hgf(HgfOptions),
    /// Mattermost bulk-import JSONL from one or more backups (as the original's mattermerge).
    #[command(after_help = jsonl_after_help())]
    Jsonl(JsonlOptions),
    /// One CSV row per post (RFC 4180, UTF-8, header row; times ISO 8601 UTC), for a
    /// spreadsheet or pandas.
    Csv(CsvOptions),
    /// A plain-text transcript of each channel (local times), to paste into a mail or a ticket.
    Txt(TxtOptions),
}

/// The end of `matterbak export html --help`.
fn html_after_help() -> String {
    let exit = exit_status_help(&[
        (Code::Ok, Some("the site was written")),
        (
            Code::Partial,
            Some("the backup is damaged: files named in warnings were left out or read in part"),
        ),
        (
            Code::Failure,
            Some("a run-time error (unreadable backup file, disk full, ...)"),
        ),
        (
            Code::Usage,
            Some(
                "bad command line, no backup at -d, or -o is not a folder the export may write to",
            ),
        ),
        (
            Code::Interrupted,
            Some("interrupted by Ctrl+C or SIGTERM (no index.html; a rerun replaces what was written)"),
        ),
    ]);
    format!(
        "\
Open DIR/index.html in a browser: the site works from disk, without a server, without
JavaScript, and loads nothing from the network. Channel pages are DIR/c/<channel id>/<n>.html.
A rerun into the same folder replaces what the previous export wrote there and leaves other
files alone; a folder with other content and no .matterbak-site.json is refused.

{exit}"
    )
}

/// The end of `matterbak export jsonl --help`.
fn jsonl_after_help() -> String {
    let exit = exit_status_help(&[
        (
            Code::Ok,
            Some("the JSONL file (and with -a the data/ folder) was written"),
        ),
        (
            Code::Partial,
            Some("the backup is damaged: files named in warnings were left out or read in part"),
        ),
        (
            Code::Failure,
            Some("a run-time error (unreadable backup file, disk full, ...)"),
        ),
        (
            Code::Usage,
            Some("bad command line, not a backup, or an output inside a backup or data dir"),
        ),
        (
            Code::Interrupted,
            Some("interrupted by Ctrl+C or SIGTERM (no JSONL file is left)"),
        ),
    ]);
    format!(
        "\
IMPORT:
    cd <folder of the JSONL file> && zip -r import.zip matter.jsonl data
    mmctl import validate import.zip
    mmctl import upload import.zip
    mmctl import list available
    mmctl import process <the name listed>

{exit}"
    )
}

/// Options of `matterbak list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Print JSON (one object with teams and channels) instead of a table.
    #[arg(long, conflicts_with = "channels_json")]
    pub json: bool,
    /// Print a channels.json that selects everything listed, to edit down and use with backup.
    #[arg(long)]
    pub channels_json: bool,
    /// Write to this file instead of standard output (it appears only when complete)
    /// [default: standard output].
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Maximum API requests per second; 0 disables the limit.
    #[arg(long, value_name = "PER_SEC", default_value_t = 10.0, value_parser = rate)]
    pub rate_limit: f64,
    /// Multiplies every retry wait (for tests).
    #[arg(long, hide = true, default_value_t = 1.0, value_parser = wait_scale)]
    pub retry_wait_scale: f64,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Options of `matterbak verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The data dir to check.
    #[arg(short = 'd', long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Also check this zip: every entry's data against its CRC-32, and that it holds what the
    /// data dir holds [default: the backup's default zip matterbak_<user>.zip, if it exists
    /// and the user is known from credentials.json, MATTERBAK_USER or ~/.netrc].
    #[arg(long, value_name = "FILE")]
    pub zip: Option<PathBuf>,
}

/// Options of the backup, named as in the original matterbak 0.5.2.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// JSON file listing the teams, channels, direct and group conversations to back up.
    #[arg(long, value_name = "FILE", default_value = "channels.json")]
    pub channels: PathBuf,

    /// Directory to store the backup in (created if missing; updated on every run).
    #[arg(short = 'd', long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Zip file to write [default: matterbak_<user>.zip].
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output_zip: Option<PathBuf>,

    /// Write no zip: only update the data dir (`matterbak zip` makes one later).
    #[arg(long)]
    pub no_zip: bool,

    /// Deflate level of new zip entries: 1 fastest to 9 smallest, 0 stores everything (as the
    /// original does). Entries copied from the previous zip keep theirs.
    #[arg(long, value_name = "N", default_value_t = crate::archive::DEFAULT_LEVEL, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub zip_level: u32,

    /// Also write the run's summary as JSON to this file (replaced atomically), whatever the
    /// outcome: counts, requests, failures, exit code (schema in README, "Output, logs and
    /// summary") [default: none].
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Re-read every post of every channel, not only the new ones.
    #[arg(long)]
    pub update_old_posts: bool,

    /// Also re-read in full the channels whose last full read is DAYS days old, spread so
    /// that each run reads about 1/DAYS of the channels (finds what no counter shows; costs
    /// one request per 200 posts of those channels) [default: never].
    #[arg(long, value_name = "DAYS", env = "MATTERBAK_REREAD_EVERY", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub reread_every: Option<u32>,

    /// Skip direct channels.
    #[arg(long)]
    pub skip_direct: bool,

    /// Skip group channels.
    #[arg(long)]
    pub skip_groups: bool,

    /// Skip team channels.
    #[arg(long)]
    pub skip_teams: bool,

    /// Store no personal user data (implies --skip-user-images).
    #[arg(long)]
    pub skip_users: bool,

    /// Store no profile images.
    #[arg(long)]
    pub skip_user_images: bool,

    /// Skip custom emojis.
    #[arg(long)]
    pub skip_emojis: bool,

    /// Maximum API requests per second, applied to every HTTP request; 0 disables the limit.
    #[arg(long, value_name = "PER_SEC", default_value_t = 10.0, value_parser = rate)]
    pub rate_limit: f64,

    /// Random delay of up to this many seconds before the first request (spreads cron starts).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0, value_parser = seconds)]
    pub initial_jitter: f64,

    /// Random delay of up to this many seconds between backup units
    /// (direct, groups, teams, users, emojis).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0, value_parser = seconds)]
    pub step_jitter: f64,

    /// Channels read at the same time, and attachments downloaded at the same time over all
    /// of them (a channel may always have one; profile and emoji images alike). All requests
    /// together stay within --rate-limit.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,

    /// Multiplies every retry wait (for tests).
    #[arg(long, hide = true, default_value_t = 1.0, value_parser = wait_scale)]
    pub retry_wait_scale: f64,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// The server, the login and the connection: shared by `backup` and `list`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Server and login")]
pub struct ConnectArgs {
    /// JSON file with user, password or token, and server URL (see LOGGING IN below)
    /// [default: credentials.json, if it exists].
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,

    /// The server, e.g. https://mattermost.example.org (beats the credentials file).
    #[arg(long, value_name = "URL", env = "MATTERBAK_URL")]
    pub url: Option<String>,

    /// The user name or email address to log in as (beats the credentials file).
    #[arg(long, value_name = "USER", env = "MATTERBAK_USER")]
    pub user: Option<String>,

    /// The current code of the authenticator app, for accounts with multi-factor
    /// authentication (without it, matterbak asks on a terminal).
    #[arg(
        long,
        value_name = "CODE",
        env = "MATTERBAK_MFA_TOKEN",
        hide_env_values = true
    )]
    pub mfa_token: Option<String>,

    /// Also trust the certificate authorities in this PEM file (for a server with a private or
    /// self-signed certificate).
    #[arg(long, value_name = "FILE", env = "MATTERBAK_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// Accept any server certificate. Anyone on the network path can then read the password
    /// and the data: prefer --ca-cert. Warns on every run.
    #[arg(long)]
    pub insecure: bool,

    /// How often a failed request is tried again (429, 5xx, timeouts, broken connections),
    /// with exponential backoff or as long as the server's Retry-After says.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retries: u32,

    /// Seconds to wait for a connection to the server.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = seconds)]
    pub connect_timeout: f64,

    /// Seconds of silence from the server after which a request counts as failed (and is
    /// retried); also the longest wait the server may ask for before a request (Retry-After,
    /// its rate limit: cut to 600 s), else that attempt fails.
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0, value_parser = seconds)]
    pub timeout: f64,

    /// Bytes per second under which a transfer (an answer, an image, an attachment) counts as
    /// failed when it stays that slow for --min-speed-time seconds; it is retried (attachments
    /// resume where they stopped). Suffixes K and M for KiB and MiB; 0 turns the check off.
    #[arg(
        long,
        value_name = "BYTES",
        env = "MATTERBAK_MIN_SPEED",
        default_value = "1K",
        value_parser = crate::units::parse_bytes
    )]
    pub min_speed: u64,

    /// Seconds over which --min-speed is averaged.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "MATTERBAK_MIN_SPEED_TIME",
        default_value_t = 30.0,
        value_parser = seconds
    )]
    pub min_speed_time: f64,
}

/// The longest duration an option takes: a day (`--timeout`, `--connect-timeout`,
/// `--min-speed-time`, `--initial-jitter`, `--step-jitter`).
pub const MAX_SECONDS: f64 = 86_400.0;
/// The slowest `--rate-limit` other than 0 (one request per 1000 s), and the fastest.
pub const RATE_RANGE: (f64, f64) = (0.001, 1_000_000.0);

/// A number, finite (clap names the option and where the value came from in its error).
fn number(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("`{s}` is not a finite number"))
    }
}

/// Seconds: 0 to [`MAX_SECONDS`]. Checked here, so that a duration never overflows later.
fn seconds(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if !(0.0..=MAX_SECONDS).contains(&v) {
        return Err(format!(
            "`{s}` is out of range: give seconds from 0 to {MAX_SECONDS} (one day)"
        ));
    }
    Ok(v)
}

/// Requests per second: 0 (no limit), or within [`RATE_RANGE`].
fn rate(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    let (lo, hi) = RATE_RANGE;
    if v != 0.0 && !(lo..=hi).contains(&v) {
        return Err(format!(
            "`{s}` is out of range: give 0 (no limit) or {lo} to {hi} requests per second"
        ));
    }
    Ok(v)
}

/// The hidden test factor of every retry wait: 0 to 1000.
fn wait_scale(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if !(0.0..=1000.0).contains(&v) {
        return Err(format!("`{s}` is out of range: 0 to 1000"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_original() {
        let cli = Cli::try_parse_from(["matterbak"]).unwrap();
        let b = cli.backup;
        assert!(cli.command.is_none());
        assert_eq!(b.connect.credentials, None);
        assert_eq!((b.connect.timeout, b.connect.retries), (120.0, 5));
        assert_eq!(
            (b.connect.min_speed, b.connect.min_speed_time),
            (1024, 30.0)
        );
        assert_eq!(b.channels, PathBuf::from("channels.json"));
        assert_eq!(b.data_dir, PathBuf::from("data"));
        assert_eq!(b.output_zip, None);
        assert_eq!(b.rate_limit, 10.0);
        assert_eq!(b.initial_jitter, 0.0);
        assert_eq!(b.step_jitter, 0.0);
        assert!(!b.update_old_posts && !b.skip_direct && !b.skip_users && !b.skip_emojis);
    }

    #[test]
    fn short_options_and_values() {
        let cli = Cli::try_parse_from([
            "matterbak",
            "-d",
            "x",
            "-o",
            "y.zip",
            "--rate-limit",
            "0",
            "--skip-users",
        ])
        .unwrap();
        assert_eq!(cli.backup.data_dir, PathBuf::from("x"));
        assert_eq!(cli.backup.output_zip, Some(PathBuf::from("y.zip")));
        assert_eq!(cli.backup.rate_limit, 0.0);
        assert!(cli.backup.skip_users);
    }

    #[test]
    fn negative_rate_limit_is_rejected() {
        assert!(Cli::try_parse_from(["matterbak", "--rate-limit", "-1"]).is_err());
        assert!(Cli::try_parse_from(["matterbak", "--initial-jitter", "x"]).is_err());
    }

    #[test]
    fn issue18_durations_and_rates_are_range_checked() {
        for (opt, bad) in [
            ("--timeout", "1e20"),
            ("--connect-timeout", "86401"),
            ("--min-speed-time", "inf"),
            ("--initial-jitter", "NaN"),
            ("--step-jitter=-1", ""),
            ("--rate-limit", "1e-300"),
            ("--rate-limit", "1e7"),
            ("--retry-wait-scale", "1e20"),
        ] {
            let args = if bad.is_empty() {
                vec![opt]
            } else {
                vec![opt, bad]
            };
            let e = Cli::try_parse_from(["matterbak"].into_iter().chain(args)).unwrap_err();
            let name = opt.split('=').next().unwrap();
            assert!(e.to_string().contains(name), "{opt} {bad}: {e}");
        }
        for (opt, good) in [
            ("--timeout", "86400"),
            ("--timeout", "0"),
            ("--rate-limit", "0"),
            ("--rate-limit", "0.001"),
            ("--rate-limit", "1000000"),
            ("--initial-jitter", " 2.5"),
        ] {
            assert!(
                Cli::try_parse_from(["matterbak", opt, good]).is_ok(),
                "{opt} {good}"
            );
        }
    }

    #[test]
    fn list_options() {
        let cli = Cli::try_parse_from(["matterbak", "list"]).unwrap();
        match cli.command {
            Some(Command::List(l)) => {
                assert_eq!(l.connect.credentials, None);
                assert_eq!(l.connect.connect_timeout, 30.0);
                assert!(!l.json && !l.channels_json && l.output.is_none());
                assert_eq!(l.rate_limit, 10.0);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["matterbak", "list", "--channels-json", "-o", "c.json"]);
        match cli.unwrap().command {
            Some(Command::List(l)) => {
                assert!(l.channels_json);
                assert_eq!(l.output, Some(PathBuf::from("c.json")));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["matterbak", "list", "--json", "--channels-json"]).is_err());
        assert!(Cli::try_parse_from(["matterbak", "list", "--rate-limit", "-3"]).is_err());
        let cli = Cli::try_parse_from([
            "matterbak",
            "list",
            "--url",
            "https://h",
            "--user",
            "u",
            "--mfa-token",
            "123456",
            "--ca-cert",
            "ca.pem",
            "--insecure",
            "--timeout",
            "5",
            "--min-speed",
            "2k",
            "--min-speed-time",
            "7",
        ]);
        match cli.unwrap().command {
            Some(Command::List(l)) => {
                let c = l.connect;
                assert_eq!(
                    (c.url.as_deref(), c.user.as_deref()),
                    (Some("https://h"), Some("u"))
                );
                assert_eq!(c.mfa_token.as_deref(), Some("123456"));
                assert_eq!(c.ca_cert, Some(PathBuf::from("ca.pem")));
                assert!(c.insecure);
                assert_eq!(c.timeout, 5.0);
                assert_eq!((c.min_speed, c.min_speed_time), (2048, 7.0));
            }
            other => panic!("{other:?}"),
        }
        // backup options are not list options
        assert!(Cli::try_parse_from(["matterbak", "list", "-d", "data"]).is_err());
    }

    #[test]
    fn global_options_go_before_or_after_a_subcommand_and_backup_options_only_without() {
        for args in [
            &["matterbak", "-q", "list"][..],
            &["matterbak", "list", "-q"],
            &["matterbak", "--log-format", "json", "verify"],
        ] {
            let cli = Cli::parse_args(args).unwrap();
            assert!(cli.global.quiet || cli.global.json(), "{args:?}");
            assert!(cli.command.is_some());
        }
        let cli = Cli::parse_args(["matterbak", "-vv", "--summary-json", "s.json"]).unwrap();
        assert_eq!(cli.global.verbose, 2);
        assert_eq!(cli.backup.summary_json, Some(PathBuf::from("s.json")));
        assert!(Cli::parse_args(["matterbak", "-d", "x", "list"]).is_err());
        assert!(Cli::parse_args(["matterbak", "--no-zip", "verify"]).is_err());
        assert!(Cli::parse_args(["matterbak", "-q", "-v"]).is_err());
        assert!(Cli::parse_args(["matterbak", "--log-format", "xml"]).is_err());
        assert_eq!(
            Cli::parse_args(["matterbak"]).unwrap().global.log_format,
            LogFormat::Text
        );
    }

    #[test]
    fn backup_subcommand_is_the_same_as_bare() {
        let cli = Cli::try_parse_from(["matterbak", "backup", "-d", "z"]).unwrap();
        match cli.command {
            Some(Command::Backup(b)) => assert_eq!(b.data_dir, PathBuf::from("z")),
            other => panic!("{other:?}"),
        }
    }
}
