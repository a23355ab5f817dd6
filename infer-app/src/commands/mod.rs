//! One file per subcommand.

mod eval;
mod feedback;
mod lambda;
mod monitor;
mod ocr;
mod serve;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand and returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ocr(args) => ocr::run(args, &cli.global),
        Command::Eval(args) => eval::run(args, &cli.global),
        Command::Serve(args) => serve::run(args, &cli.global),
        Command::Lambda(args) => lambda::run(args, &cli.global),
        Command::Feedback(command) => feedback::run(command),
        Command::Monitor(command) => monitor::run(command, &cli.global),
    }
}
