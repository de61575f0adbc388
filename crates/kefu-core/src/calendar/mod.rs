//! Business calendars: when a provider's service is open. Owns service hours
//! (times of day, windows, the four kinds of weekly pattern), the PRC holiday
//! calendar (法定节假日 and 调休, from the State Council's annual notices) and
//! the arithmetic the contract needs on top of them: is it open, when does it
//! next open or close, how much open time lies between two instants.
//!
//! Pure: the holiday data is embedded with `include_str!`; extra years come in
//! as text through [`HolidayCalendar::add_year_toml`].

mod data;
mod holidays;
mod hours;
mod render;
mod service;

pub use data::{HolidayDataError, Location};
pub use holidays::{DayInfo, DayType, HolidayCalendar};
pub use hours::{MinuteOfDay, ServiceHours, Window, WindowError, validate_windows};
pub use render::{render_month, render_year};
pub use service::{Segment, ServiceCalendar};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "no holiday data for {year} (kefu has {have}); add a data file for {year} before using working-day calendars in that year"
    )]
    MissingYear { year: i16, have: String },
    #[error("cannot place local time {message}")]
    TimeZone { message: String },
    #[error("date out of range: {message}")]
    OutOfRange { message: String },
}
