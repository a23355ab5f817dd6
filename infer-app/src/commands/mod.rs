//! One file per subcommand.

mod eval;
mod ocr;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand and returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ocr(args) => ocr::run(args, &cli.global),
        Command::Eval(args) => eval::run(args, &cli.global),
    }
}
