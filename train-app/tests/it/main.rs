//! End-to-end tests of `train-app` (one integration binary, as ripgrep does).

mod bad_data;
mod export;
mod fine_tune;
mod flywheel;
mod lm;
mod memorize;
mod mlflow;
mod preemption;
mod registry;
mod resume;
mod runbook;
mod runs;
mod util;
