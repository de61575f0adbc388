//! Phone records: one module per source format, each a streaming reader that
//! yields calls, agent events and rejected rows with their line numbers.

pub mod cdr;
pub mod connect;
pub mod generate;
pub mod mapped;
pub mod queue_log;
pub mod source;
