//! The `matterbak` binary: parses the command line and hands over to the library.

fn main() -> std::process::ExitCode {
    matterbak::commands::main()
}
