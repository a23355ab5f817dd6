//! Monitoring and the feedback loop: the SQLite record the server keeps (predictions,
//! feedback, inputs), its writer, and the export of corrections as training data.

pub mod export;
pub mod log;
pub mod store;
