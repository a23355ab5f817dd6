//! One file per subcommand.

mod check_device;
mod convert;
mod data;
mod registry;
mod runs;
mod stage;
mod train;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => train::run(args, &cli.global),
        Command::Stage(args) => stage::run(args, &cli.global),
        Command::Convert(args) => convert::run(args),
        Command::CheckDevice(args) => check_device::run(args, &cli.global),
        Command::Registry(cmd) => registry::run(cmd, &cli.global),
        Command::Runs(cmd) => runs::run(cmd),
        Command::Data(cmd) => data::run(cmd),
    }
}
