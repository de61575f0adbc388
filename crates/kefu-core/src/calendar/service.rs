//! A provider's service calendar: service hours in a time zone, resolved to
//! instants one local day at a time, so DST days get their true length.

use std::sync::Arc;

use jiff::civil::{Date, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use super::CalendarError;
use super::holidays::HolidayCalendar;
use super::hours::{MinuteOfDay, ServiceHours, Window, normalized};

/// How far `next_opening` / `next_closing` look ahead.
const SEARCH_DAYS: usize = 400;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Segment {
    pub start: Timestamp,
    pub end: Timestamp,
    pub open: bool,
}

/// The hours, sorted and merged per day.
#[derive(Clone, Debug)]
enum Plan {
    Every(Vec<Window>),
    Weekly([Vec<Window>; 7]),
    Working(Vec<Window>),
}

#[derive(Clone, Debug)]
pub struct ServiceCalendar {
    hours: ServiceHours,
    plan: Plan,
    tz: TimeZone,
    holidays: Arc<HolidayCalendar>,
}

/// One local day as instants: [start, end).
struct Day {
    start: Timestamp,
    end: Timestamp,
}

impl ServiceCalendar {
    pub fn new(hours: ServiceHours, tz: TimeZone, holidays: Arc<HolidayCalendar>) -> Self {
        let plan = match &hours {
            ServiceHours::Always => Plan::Every(vec![Window::ALL_DAY]),
            ServiceHours::Daily(ws) => Plan::Every(normalized(ws)),
            ServiceHours::Weekly(days) => Plan::Weekly(days.each_ref().map(|ws| normalized(ws))),
            ServiceHours::WorkingDays(ws) => Plan::Working(normalized(ws)),
        };
        ServiceCalendar {
            hours,
            plan,
            tz,
            holidays,
        }
    }

    pub fn hours(&self) -> &ServiceHours {
        &self.hours
    }

    pub fn is_open(&self, at: Timestamp) -> Result<bool, CalendarError> {
        let mut buf = Vec::new();
        let date = self.date_of(at)?;
        self.day(date, &mut buf)?;
        Ok(buf.iter().any(|&(a, b)| a <= at && at < b))
    }

    /// The first instant >= at when service is open (`at` itself if open now).
    /// None if the hours never open within about 400 days.
    pub fn next_opening(&self, at: Timestamp) -> Result<Option<Timestamp>, CalendarError> {
        if self.never_open() {
            return Ok(None);
        }
        let mut buf = Vec::new();
        let mut date = self.date_of(at)?;
        for _ in 0..SEARCH_DAYS {
            self.day(date, &mut buf)?;
            if let Some(&(a, _)) = buf.iter().find(|&&(_, b)| b > at) {
                return Ok(Some(a.max(at)));
            }
            date = next_date(date)?;
        }
        Ok(None)
    }

    /// The first instant >= at when service is closed (`at` if closed now).
    /// None for `Always`, and for hours that stay open for the next ~400 days.
    pub fn next_closing(&self, at: Timestamp) -> Result<Option<Timestamp>, CalendarError> {
        if matches!(self.hours, ServiceHours::Always) {
            return Ok(None);
        }
        let mut buf = Vec::new();
        let mut date = self.date_of(at)?;
        // The end of the open stretch we are following, once inside one.
        let mut open_until: Option<Timestamp> = None;
        for _ in 0..SEARCH_DAYS {
            let day = self.day(date, &mut buf)?;
            match open_until {
                None => match buf.iter().find(|&&(a, b)| a <= at && at < b) {
                    None => return Ok(Some(at)),
                    Some(&(_, b)) => open_until = Some(b),
                },
                Some(t) => match buf.first() {
                    // Still open across midnight.
                    Some(&(a, b)) if a <= t => open_until = Some(b),
                    _ => return Ok(Some(t)),
                },
            }
            match open_until {
                Some(t) if t < day.end => return Ok(Some(t)),
                _ => {}
            }
            date = next_date(date)?;
        }
        Ok(None)
    }

    /// Open time inside [from, to); zero when to <= from.
    pub fn business_duration(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<SignedDuration, CalendarError> {
        let mut total = SignedDuration::ZERO;
        self.each_open(from, to, |a, b| total += b.duration_since(a))?;
        Ok(total)
    }

    /// [from, to) cut into contiguous, alternating open/closed segments.
    pub fn split(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Segment>, CalendarError> {
        let mut out: Vec<Segment> = Vec::new();
        let push = |out: &mut Vec<Segment>, start: Timestamp, end: Timestamp, open: bool| match out
            .last_mut()
        {
            Some(last) if last.open == open && last.end == start => last.end = end,
            _ => out.push(Segment { start, end, open }),
        };
        let mut cursor = from;
        self.each_open(from, to, |a, b| {
            if a > cursor {
                push(&mut out, cursor, a, false);
            }
            push(&mut out, a, b, true);
            cursor = b;
        })?;
        if cursor < to {
            push(&mut out, cursor, to, false);
        }
        Ok(out)
    }

    /// The open intervals of one local date, as instants.
    pub fn open_intervals_on(
        &self,
        date: Date,
    ) -> Result<Vec<(Timestamp, Timestamp)>, CalendarError> {
        let mut buf = Vec::new();
        self.day(date, &mut buf)?;
        Ok(buf)
    }

    /// Calls `f` with each open interval clipped to [from, to), in order.
    fn each_open(
        &self,
        from: Timestamp,
        to: Timestamp,
        mut f: impl FnMut(Timestamp, Timestamp),
    ) -> Result<(), CalendarError> {
        if to <= from || self.never_open() {
            return Ok(());
        }
        let mut buf = Vec::new();
        let mut date = self.date_of(from)?;
        loop {
            let day = self.day(date, &mut buf)?;
            if day.start >= to {
                return Ok(());
            }
            for &(a, b) in &buf {
                let (a, b) = (a.max(from), b.min(to));
                if a < b {
                    f(a, b);
                }
            }
            if day.end >= to {
                return Ok(());
            }
            date = next_date(date)?;
        }
    }

    fn never_open(&self) -> bool {
        match &self.plan {
            Plan::Every(ws) | Plan::Working(ws) => ws.is_empty(),
            Plan::Weekly(days) => days.iter().all(Vec::is_empty),
        }
    }

    fn windows_on(&self, date: Date) -> Result<&[Window], CalendarError> {
        Ok(match &self.plan {
            Plan::Every(ws) => ws,
            Plan::Weekly(days) => {
                let i = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
                days.get(i).map_or(&[], Vec::as_slice)
            }
            Plan::Working(ws) if ws.is_empty() => &[],
            Plan::Working(ws) => {
                if self.holidays.is_working_day(date)? {
                    ws
                } else {
                    &[]
                }
            }
        })
    }

    /// Fills `buf` with the open intervals of `date` (sorted, disjoint,
    /// non-touching, inside the day) and returns the day's bounds.
    fn day(&self, date: Date, buf: &mut Vec<(Timestamp, Timestamp)>) -> Result<Day, CalendarError> {
        buf.clear();
        let start = self.local(date, MinuteOfDay::MIDNIGHT)?;
        let end = self.local(date, MinuteOfDay::END_OF_DAY)?;
        // `local` is monotonic, so the cursor is only a guard that keeps the
        // intervals ordered and inside the day whatever the zone does.
        let mut cursor = start;
        for w in self.windows_on(date)? {
            let a = self.local(date, w.open)?.max(cursor).min(end);
            let b = self.local(date, w.close)?.min(end);
            if b <= a {
                continue;
            }
            match buf.last_mut() {
                Some(last) if last.1 >= a => last.1 = last.1.max(b),
                _ => buf.push((a, b)),
            }
            cursor = b;
        }
        Ok(Day { start, end })
    }

    /// The instant of a wall-clock time on `date`: the first moment the clock
    /// reads that time. A repeated time (fold) takes its first instance, as
    /// jiff's "compatible" resolution does; a time skipped by a DST jump maps
    /// to the jump itself. ("Compatible" would move it forward by the whole
    /// gap, so that 02:30-03:15 would end before it starts.)
    fn local(&self, date: Date, m: MinuteOfDay) -> Result<Timestamp, CalendarError> {
        let (date, time) = if m == MinuteOfDay::END_OF_DAY {
            (next_date(date)?, Time::midnight())
        } else {
            (date, Time::constant(m.hour(), m.minute(), 0, 0))
        };
        let amb = self.tz.to_ambiguous_timestamp(date.to_datetime(time));
        let resolved = match amb.offset() {
            AmbiguousOffset::Gap { .. } => amb.earlier().map(|e| {
                self.tz
                    .following(e)
                    .next()
                    .map_or(e, |jump| jump.timestamp())
            }),
            _ => amb.compatible(),
        };
        resolved.map_err(|e| CalendarError::TimeZone {
            message: format!("{date} {time} in {}: {e}", tz_name(&self.tz)),
        })
    }

    /// The local date whose [start, end) contains `at`.
    fn date_of(&self, at: Timestamp) -> Result<Date, CalendarError> {
        let mut date = self.tz.to_datetime(at).date();
        // Usually right at once; step to the neighbour when midnight itself is
        // shifted by a transition.
        for _ in 0..3 {
            if at < self.local(date, MinuteOfDay::MIDNIGHT)? {
                date = date.yesterday().map_err(out_of_range)?;
            } else if at >= self.local(date, MinuteOfDay::END_OF_DAY)? {
                date = next_date(date)?;
            } else {
                break;
            }
        }
        Ok(date)
    }
}

fn next_date(date: Date) -> Result<Date, CalendarError> {
    date.tomorrow().map_err(out_of_range)
}

fn out_of_range(e: jiff::Error) -> CalendarError {
    CalendarError::OutOfRange {
        message: e.to_string(),
    }
}

fn tz_name(tz: &TimeZone) -> &str {
    tz.iana_name().unwrap_or("the service time zone")
}
