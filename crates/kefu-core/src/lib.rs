pub mod calendar;
pub mod contract;
