//! Monitoring and the feedback loop: the SQLite record the server keeps (predictions,
//! feedback, inputs), its writer, the drift report, and the export of corrections as training
//! data.

pub mod drift;
pub mod export;
pub mod log;
pub mod report;
pub mod store;
