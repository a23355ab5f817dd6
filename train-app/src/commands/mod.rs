//! One file per subcommand.

mod check_device;
mod convert;
mod data;
mod fine_tune;
mod lm;
mod registry;
mod runs;
mod stage;
mod train;

use crate::cli::{AttachLmArgs, Cli, Command};
use text_recognizer::StagedModel;
use text_recognizer::lm::CharLm;

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => train::run(args, &cli.global),
        Command::FineTune(args) => fine_tune::run(args, &cli.global),
        Command::Stage(args) => stage::run(args, &cli.global),
        Command::Convert(args) => convert::run(args),
        Command::CheckDevice(args) => check_device::run(args, &cli.global),
        Command::Registry(cmd) => registry::run(cmd, &cli.global),
        Command::Runs(cmd) => runs::run(cmd),
        Command::Data(cmd) => data::run(cmd),
        Command::Lm(cmd) => lm::run(cmd),
    }
}

/// `staged` with the LM `args` name attached (its weight, bonus and a beam that uses it saved
/// in the manifest), or its own removed with `--no-lm`.
pub(crate) fn attach_lm(
    mut staged: StagedModel,
    args: &AttachLmArgs,
) -> anyhow::Result<StagedModel> {
    staged = if args.no_lm {
        staged.with_lm(None)
    } else if let Some(path) = &args.lm {
        let lm = CharLm::load(path)?;
        let decode = &mut staged.manifest.preset.decode;
        if let Some(w) = args.lm_weight {
            decode.lm_weight = w;
        }
        if let Some(b) = args.lm_bonus {
            decode.lm_bonus = b;
        }
        if args.beam.is_none() && decode.beam < 2 {
            decode.beam = 4;
            eprintln!("note: beam 4 saved with the model (an LM is used by beam search only)");
        }
        staged.with_lm(Some(lm))
    } else {
        staged
    };
    if let Some(beam) = args.beam {
        staged.manifest.preset.decode.beam = beam.max(1);
    }
    Ok(staged)
}
