//! `infer-app monitor report`: the prediction log's drift report.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::MonitorCommand;
use crate::monitor::{report, store::Store};

pub fn run(command: MonitorCommand, global: &crate::cli::GlobalArgs) -> anyhow::Result<ExitCode> {
    match command {
        MonitorCommand::Report(args) => {
            let since = args.since.unwrap_or_else(|| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                text_recognizer::export::utc_timestamp(now.saturating_sub(86_400))
            });
            let store = Store::open_existing(&args.db)?;
            // The served model's training inputs, when it carries their profile.
            let profile = match &args.model {
                Some(m) => {
                    let staged = crate::model::load_with(Some(m), global)?;
                    if staged.manifest.provenance.inputs.is_none() {
                        eprintln!(
                            "note: {m} carries no profile of its training inputs (staged before \
                             profiles were kept); comparing with earlier traffic only"
                        );
                    }
                    staged.manifest.provenance.inputs
                }
                None => None,
            };
            let r = report::build(&store, &since, None, profile.as_ref())?;
            print!("{}", report::text(&r));
            if let Some(path) = &args.output {
                std::fs::write(path, report::html(&r))
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("report written to {}", path.display());
            }
            Ok(if args.fail_on_drift && !r.drifted().is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
