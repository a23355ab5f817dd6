//! `infer-app feedback export`: users' corrections as a training line folder.

use std::process::ExitCode;

use crate::cli::FeedbackCommand;
use crate::monitor::{export, store::Store};

pub fn run(command: FeedbackCommand) -> anyhow::Result<ExitCode> {
    match command {
        FeedbackCommand::Export(args) => {
            let store = Store::open_existing(&args.db)?;
            let exported = export::export(&store, &args.output)?;
            eprintln!(
                "{} corrected samples written to {} (manifest.json lists them)",
                exported.len(),
                args.output.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
