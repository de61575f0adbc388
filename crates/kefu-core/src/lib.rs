//! kefu-core: the pure domain of kefu — the contract document, business
//! calendars, the phone channel's calls and service levels. No I/O, no async, no SQL.

pub mod access;
pub mod calendar;
pub mod chat;
pub mod contract;
pub mod mask;
pub mod phone;
pub mod staff_policy;
pub mod staffing;
