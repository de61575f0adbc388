//! Interval aggregates of calls: the sums of one (interval start, queue, agent)
//! cell, kept up to date at ingest so that a month's figures cost O(intervals),
//! not O(calls). Events stay the truth; `tests/phone_metrics.rs` proves that
//! figures from aggregates equal figures computed from the calls themselves.
//!
//! Waits are kept as a sparse per-second histogram ([`WaitHistogram`]) so that
//! any whole-second threshold — short abandon, service level, one an amendment
//! introduces later — is answered exactly, for both "< T" and "≤ T".

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::{CallOutcome, CallRecord};
use crate::calendar::{CalendarError, HolidayCalendar, ServiceCalendar};
use crate::contract::{ChannelKind, Contract, ContractDocument, Duration};

const DAY_MS: u64 = 86_400_000;

// ------------------------------------------------------------------ thresholds

/// A wait threshold in whole seconds: the resolution at which the histogram is
/// exact. PBXs log waits in whole seconds (queue_log holdtime, CDR) and the
/// contract's thresholds are "5s", "20s"; a threshold such as "1500ms" is
/// refused rather than answered approximately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Threshold {
    secs: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    #[error(
        "the wait threshold {0} is not a whole number of seconds; waits are measured to the second, write e.g. \"5s\""
    )]
    NotWholeSeconds(Duration),
    #[error("the wait threshold {0} is too long")]
    TooLong(Duration),
}

impl Threshold {
    pub const fn from_secs(secs: u32) -> Threshold {
        Threshold { secs }
    }
    pub fn new(d: Duration) -> Result<Threshold, ThresholdError> {
        let ms = d.as_millis();
        if !ms.is_multiple_of(1000) {
            return Err(ThresholdError::NotWholeSeconds(d));
        }
        u32::try_from(ms / 1000)
            .map(Threshold::from_secs)
            .map_err(|_| ThresholdError::TooLong(d))
    }
    pub fn secs(self) -> u32 {
        self.secs
    }
    pub fn as_millis(self) -> u64 {
        u64::from(self.secs) * 1000
    }
    pub fn as_duration(self) -> Duration {
        Duration::from_secs(u64::from(self.secs))
    }
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}s", self.secs)
    }
}

// ------------------------------------------------------------------ histogram

/// One second of the wait histogram: waits in [second, second + 1) s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitBin {
    pub second: u32,
    /// Waits in [second, second + 1) s.
    pub count: u64,
    /// Of those, the waits of exactly `second` s (x.000 s). With them "≤ T"
    /// is as exact as "< T": ≤ T = (< T) + (exactly T).
    pub on_the_second: u64,
}

/// Waits as a sparse histogram: one [`WaitBin`] per second that occurs, sorted,
/// with the exact count, sum and maximum in milliseconds.
///
/// Exactness: for every whole-second threshold T, [`count_below`](Self::count_below)
/// (wait < T) and [`count_at_most`](Self::count_at_most) (wait ≤ T) equal what
/// the individual waits give. There is no overflow bin: the histogram has one
/// entry per distinct second, so it stays small (a 30-min cell holds at most
/// its calls; a month at most its longest wait in seconds) and is exact at any
/// length.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawHistogram")]
pub struct WaitHistogram {
    bins: Vec<WaitBin>,
    count: u64,
    sum_ms: u64,
    max_ms: Option<u64>,
}

#[derive(Deserialize)]
struct RawHistogram {
    bins: Vec<WaitBin>,
    count: u64,
    sum_ms: u64,
    max_ms: Option<u64>,
}

impl TryFrom<RawHistogram> for WaitHistogram {
    type Error = String;
    fn try_from(r: RawHistogram) -> Result<WaitHistogram, String> {
        if !r.bins.windows(2).all(|w| w[0].second < w[1].second) {
            return Err("wait histogram bins must be sorted by second, each once".into());
        }
        if r.bins
            .iter()
            .any(|b| b.count == 0 || b.on_the_second > b.count)
        {
            return Err("wait histogram bin counts are inconsistent".into());
        }
        if r.bins.iter().map(|b| b.count).sum::<u64>() != r.count {
            return Err("wait histogram count differs from its bins".into());
        }
        if r.max_ms.map(|m| m / 1000) != r.bins.last().map(|b| u64::from(b.second)) {
            return Err("wait histogram maximum differs from its last bin".into());
        }
        Ok(WaitHistogram {
            bins: r.bins,
            count: r.count,
            sum_ms: r.sum_ms,
            max_ms: r.max_ms,
        })
    }
}

impl WaitHistogram {
    pub fn new() -> WaitHistogram {
        WaitHistogram::default()
    }

    pub fn add(&mut self, wait_ms: u64) {
        let second = u32::try_from(wait_ms / 1000).unwrap_or(u32::MAX);
        let exact = u64::from(wait_ms.is_multiple_of(1000));
        match self.bins.binary_search_by_key(&second, |b| b.second) {
            Ok(i) => {
                self.bins[i].count += 1;
                self.bins[i].on_the_second += exact;
            }
            Err(i) => self.bins.insert(
                i,
                WaitBin {
                    second,
                    count: 1,
                    on_the_second: exact,
                },
            ),
        }
        self.count += 1;
        self.sum_ms = self.sum_ms.saturating_add(wait_ms);
        self.max_ms = Some(self.max_ms.map_or(wait_ms, |m| m.max(wait_ms)));
    }

    pub fn merge(&mut self, other: &WaitHistogram) {
        if other.bins.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(self.bins.len() + other.bins.len());
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.bins, &other.bins);
        while i < a.len() && j < b.len() {
            match a[i].second.cmp(&b[j].second) {
                std::cmp::Ordering::Less => {
                    out.push(a[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push(b[j]);
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    out.push(WaitBin {
                        second: a[i].second,
                        count: a[i].count + b[j].count,
                        on_the_second: a[i].on_the_second + b[j].on_the_second,
                    });
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        self.bins = out;
        self.count += other.count;
        self.sum_ms = self.sum_ms.saturating_add(other.sum_ms);
        self.max_ms = match (self.max_ms, other.max_ms) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
    }

    /// Number of waits recorded.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// Sum of the waits, exact, in milliseconds.
    pub fn sum_ms(&self) -> u64 {
        self.sum_ms
    }
    /// Longest wait, exact, in milliseconds.
    pub fn max_ms(&self) -> Option<u64> {
        self.max_ms
    }
    /// The non-empty seconds, in order.
    pub fn bins(&self) -> &[WaitBin] {
        &self.bins
    }

    /// Waits strictly shorter than `t` (the short-abandon rule: "abandons under 5 s").
    pub fn count_below(&self, t: Threshold) -> u64 {
        self.bins
            .iter()
            .take_while(|b| b.second < t.secs)
            .map(|b| b.count)
            .sum()
    }

    /// Waits of at most `t` (the service-level rule: "answered within 20 s" includes 20.000 s).
    pub fn count_at_most(&self, t: Threshold) -> u64 {
        let at = match self.bins.binary_search_by_key(&t.secs, |b| b.second) {
            Ok(i) => self.bins[i].on_the_second,
            Err(_) => 0,
        };
        self.count_below(t) + at
    }
}

// ------------------------------------------------------------------ interval and key

/// The length of an aggregation interval: it divides a day evenly, so an
/// interval never spans two local dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Interval {
    millis: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    #[error("an aggregation interval must divide a day evenly (15min, 30min, 1h …), found {0}")]
    DoesNotDivideADay(Duration),
}

impl Interval {
    /// 30 minutes, the contract's default staffing interval.
    pub const DEFAULT: Interval = Interval { millis: 1_800_000 };

    pub fn new(d: Duration) -> Result<Interval, IntervalError> {
        let ms = d.as_millis();
        if ms == 0 || !DAY_MS.is_multiple_of(ms) {
            return Err(IntervalError::DoesNotDivideADay(d));
        }
        Ok(Interval { millis: ms })
    }
    /// The interval of the contract's `staffing.interval`.
    pub fn of_contract(c: &Contract) -> Result<Interval, IntervalError> {
        Interval::new(c.staffing.interval)
    }
    pub fn as_millis(self) -> u64 {
        self.millis
    }
    pub fn as_duration(self) -> Duration {
        Duration::from_millis(self.millis)
    }
    /// The local start of the interval that contains `at`.
    pub fn floor(self, at: DateTime) -> DateTime {
        let t = at.time();
        let ms = u64::from(t.hour().unsigned_abs()) * 3_600_000
            + u64::from(t.minute().unsigned_abs()) * 60_000
            + u64::from(t.second().unsigned_abs()) * 1000
            + u64::from(t.subsec_nanosecond().unsigned_abs()) / 1_000_000;
        let f = ms - ms % self.millis;
        // All parts are in range by construction: f < 86 400 000.
        let time = Time::new(
            (f / 3_600_000) as i8,
            (f / 60_000 % 60) as i8,
            (f / 1000 % 60) as i8,
            ((f % 1000) * 1_000_000) as i32,
        )
        .expect("a time of day below 24 h is valid");
        at.date().to_datetime(time)
    }
}

impl Default for Interval {
    fn default() -> Interval {
        Interval::DEFAULT
    }
}

/// The cell a call is counted in: local interval start (in the contract's
/// zone), queue and agent. Ordered by start first, so a day or a month is a
/// contiguous range.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BucketKey {
    pub start: DateTime,
    pub queue: Option<String>,
    pub agent: Option<String>,
}

impl BucketKey {
    /// The local date of the interval (an interval never crosses midnight).
    pub fn date(&self) -> Date {
        self.start.date()
    }
    /// The local hour of day (0–23) of the interval's start.
    pub fn hour(&self) -> i8 {
        self.start.hour()
    }
}

/// The bucket of a call: the interval containing its `offered_at`, in local
/// time of `tz`. (In a zone with daylight saving, the repeated autumn hour
/// shares its local intervals.)
pub fn bucket_key(call: &CallRecord, interval: Interval, tz: &TimeZone) -> BucketKey {
    BucketKey {
        start: interval.floor(tz.to_datetime(call.offered_at)),
        queue: call.queue.clone(),
        agent: call.agent.clone(),
    }
}

// ------------------------------------------------------------------ bucket

/// The sums of one cell. Merging is associative and commutative, and the
/// empty bucket is its identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneBucket {
    pub offered: u64,
    pub answered: u64,
    /// Caller hung up while waiting (outcome `Abandoned`).
    pub abandoned: u64,
    pub timed_out: u64,
    pub no_agents: u64,
    pub exited_with_key: u64,
    pub unknown: u64,
    /// Waits of answered calls (connect − enqueue) whose answer time is known.
    pub answered_waits: WaitHistogram,
    /// Waits of abandoned calls (hang-up − enqueue) whose end is known.
    pub abandon_waits: WaitHistogram,
    /// Longest wait of any offered call (answered or not), in ms.
    pub max_wait_ms: Option<u64>,
    /// Talk time of answered calls, in ms, and how many had one.
    pub talk_ms: u64,
    pub talk_count: u64,
    pub unanswered_rings: u64,
    pub transfers: u64,
}

/// A call's wait in ms: until answer for answered calls, until it left the
/// queue otherwise; None when the record lacks the instant. A negative wait
/// (clocks of two systems) counts as zero.
pub fn wait_ms(call: &CallRecord) -> Option<u64> {
    let until = match call.outcome {
        CallOutcome::Answered => call.answered_at?,
        _ => call.answered_at.or(call.ended_at)?,
    };
    Some(millis(until.duration_since(call.offered_at)))
}

fn millis(d: jiff::SignedDuration) -> u64 {
    u64::try_from(d.as_millis().max(0)).unwrap_or(u64::MAX)
}

impl PhoneBucket {
    pub fn add_call(&mut self, call: &CallRecord) {
        self.offered += 1;
        let wait = wait_ms(call);
        match call.outcome {
            CallOutcome::Answered => {
                self.answered += 1;
                if let Some(w) = wait {
                    self.answered_waits.add(w);
                }
                if let Some(t) = call.talk_time() {
                    self.talk_ms = self.talk_ms.saturating_add(millis(t));
                    self.talk_count += 1;
                }
            }
            CallOutcome::Abandoned => {
                self.abandoned += 1;
                if let Some(w) = wait {
                    self.abandon_waits.add(w);
                }
            }
            CallOutcome::TimedOut => self.timed_out += 1,
            CallOutcome::NoAgents => self.no_agents += 1,
            CallOutcome::ExitedWithKey => self.exited_with_key += 1,
            CallOutcome::Unknown => self.unknown += 1,
        }
        if let Some(w) = wait {
            self.max_wait_ms = Some(self.max_wait_ms.map_or(w, |m| m.max(w)));
        }
        self.unanswered_rings += u64::from(call.unanswered_rings);
        self.transfers += u64::from(call.transferred_to.is_some());
    }

    pub fn merge(&mut self, o: &PhoneBucket) {
        self.offered += o.offered;
        self.answered += o.answered;
        self.abandoned += o.abandoned;
        self.timed_out += o.timed_out;
        self.no_agents += o.no_agents;
        self.exited_with_key += o.exited_with_key;
        self.unknown += o.unknown;
        self.answered_waits.merge(&o.answered_waits);
        self.abandon_waits.merge(&o.abandon_waits);
        self.max_wait_ms = match (self.max_wait_ms, o.max_wait_ms) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        self.talk_ms = self.talk_ms.saturating_add(o.talk_ms);
        self.talk_count += o.talk_count;
        self.unanswered_rings += o.unanswered_rings;
        self.transfers += o.transfers;
    }

    /// The sum of many buckets.
    pub fn total<'a>(buckets: impl IntoIterator<Item = &'a PhoneBucket>) -> PhoneBucket {
        let mut t = PhoneBucket::default();
        for b in buckets {
            t.merge(b);
        }
        t
    }

    /// Abandons with a wait under `t` (the short-abandon rule).
    pub fn short_abandoned(&self, t: Threshold) -> u64 {
        self.abandon_waits.count_below(t)
    }
    /// Answered calls with a wait of at most `t`.
    pub fn answered_within(&self, t: Threshold) -> u64 {
        self.answered_waits.count_at_most(t)
    }
    /// Offered calls that did not reach an agent, for any reason.
    pub fn unanswered(&self) -> u64 {
        self.offered.saturating_sub(self.answered)
    }
}

// ------------------------------------------------------------------ service hours

/// The channel's service hours over time: amendments may change them, so the
/// calendar in force on a call's local date decides whether it counts.
#[derive(Clone, Debug)]
pub struct HoursInForce {
    /// (first day, calendar); None = the channel is absent or disabled then.
    /// Empty = always open.
    epochs: Vec<(Date, Option<ServiceCalendar>)>,
}

impl HoursInForce {
    /// 24×7: every call counts.
    pub fn always() -> HoursInForce {
        HoursInForce { epochs: Vec::new() }
    }
    /// One calendar for all dates.
    pub fn fixed(cal: ServiceCalendar) -> HoursInForce {
        HoursInForce {
            epochs: vec![(Date::MIN, Some(cal))],
        }
    }
    /// A channel's hours under each set of terms of the document. Before the
    /// contract takes effect the first terms apply.
    pub fn of_document(
        doc: &ContractDocument,
        channel: ChannelKind,
        holidays: &Arc<HolidayCalendar>,
    ) -> HoursInForce {
        let mut epochs = Vec::new();
        for (i, day) in doc.effective_dates().into_iter().enumerate() {
            let cal = doc.terms_on(day).ok().and_then(|t| {
                let on = t.contract.channel(channel).is_some_and(|c| c.enabled);
                on.then(|| t.contract.service_calendar(channel, holidays.clone()))
                    .flatten()
            });
            epochs.push((if i == 0 { Date::MIN } else { day }, cal));
        }
        HoursInForce { epochs }
    }

    pub fn is_open(&self, at: Timestamp, tz: &TimeZone) -> Result<bool, CalendarError> {
        if self.epochs.is_empty() {
            return Ok(true);
        }
        let date = tz.to_datetime(at).date();
        let idx = self
            .epochs
            .partition_point(|(from, _)| *from <= date)
            .saturating_sub(1);
        match &self.epochs[idx].1 {
            Some(cal) => cal.is_open(at),
            None => Ok(false),
        }
    }
}

// ------------------------------------------------------------------ aggregates

/// Where `add_call` put a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    Counted,
    /// Offered outside the channel's service hours: not counted in any figure.
    OutsideHours,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("cannot merge aggregates of {0} intervals into aggregates of {1} intervals")]
    Interval(Duration, Duration),
    #[error("cannot merge aggregates kept in time zone {0} into aggregates kept in {1}")]
    TimeZone(String, String),
}

/// The buckets of one channel of one contract.
#[derive(Clone, Debug)]
pub struct PhoneAggregates {
    interval: Interval,
    tz: TimeZone,
    hours: HoursInForce,
    buckets: BTreeMap<BucketKey, PhoneBucket>,
    outside_hours: u64,
}

impl PhoneAggregates {
    /// Aggregates with always-open hours.
    pub fn new(interval: Interval, tz: TimeZone) -> PhoneAggregates {
        PhoneAggregates {
            interval,
            tz,
            hours: HoursInForce::always(),
            buckets: BTreeMap::new(),
            outside_hours: 0,
        }
    }

    pub fn with_hours(mut self, hours: HoursInForce) -> PhoneAggregates {
        self.hours = hours;
        self
    }

    /// Aggregates for the phone channel of a contract: its staffing interval
    /// and time zone (of the base terms) and its service hours as amended.
    pub fn for_document(
        doc: &ContractDocument,
        holidays: &Arc<HolidayCalendar>,
    ) -> Result<PhoneAggregates, IntervalError> {
        let base = doc.base();
        Ok(
            PhoneAggregates::new(Interval::of_contract(base)?, base.time_zone.clone())
                .with_hours(HoursInForce::of_document(doc, ChannelKind::Phone, holidays)),
        )
    }

    pub fn interval(&self) -> Interval {
        self.interval
    }
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }
    /// Calls left out because they were offered outside service hours.
    pub fn outside_hours(&self) -> u64 {
        self.outside_hours
    }

    /// Counts a call in the bucket of its `offered_at`, if offered inside service hours.
    pub fn add_call(&mut self, call: &CallRecord) -> Result<Placement, CalendarError> {
        if !self.hours.is_open(call.offered_at, &self.tz)? {
            self.outside_hours += 1;
            return Ok(Placement::OutsideHours);
        }
        let key = bucket_key(call, self.interval, &self.tz);
        self.buckets.entry(key).or_default().add_call(call);
        Ok(Placement::Counted)
    }

    /// Adds a stored bucket (rebuilding aggregates from the store).
    pub fn insert_bucket(&mut self, key: BucketKey, bucket: &PhoneBucket) {
        self.buckets.entry(key).or_default().merge(bucket);
    }

    /// Adds another set of aggregates of the same interval and zone (e.g. one per import worker).
    pub fn merge(&mut self, other: &PhoneAggregates) -> Result<(), MergeError> {
        if other.interval != self.interval {
            return Err(MergeError::Interval(
                other.interval.as_duration(),
                self.interval.as_duration(),
            ));
        }
        if other.tz != self.tz {
            let name = |tz: &TimeZone| tz.iana_name().unwrap_or("(unnamed)").to_string();
            return Err(MergeError::TimeZone(name(&other.tz), name(&self.tz)));
        }
        for (k, b) in &other.buckets {
            self.insert_bucket(k.clone(), b);
        }
        self.outside_hours += other.outside_hours;
        Ok(())
    }

    pub fn buckets(&self) -> impl Iterator<Item = (&BucketKey, &PhoneBucket)> {
        self.buckets.iter()
    }
    pub fn len(&self) -> usize {
        self.buckets.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The buckets of local dates `first..=last`.
    pub fn between(
        &self,
        first: Date,
        last: Date,
    ) -> impl Iterator<Item = (&BucketKey, &PhoneBucket)> {
        let lo = BucketKey {
            start: first.to_datetime(Time::midnight()),
            queue: None,
            agent: None,
        };
        let hi = last.tomorrow().ok().map(|d| BucketKey {
            start: d.to_datetime(Time::midnight()),
            queue: None,
            agent: None,
        });
        let range = match hi {
            Some(hi) if first <= last => self.buckets.range(lo..hi),
            Some(_) => self.buckets.range(lo.clone()..lo),
            None => self.buckets.range(lo..),
        };
        range.filter(move |(k, _)| k.date() <= last)
    }

    /// The sum of the buckets of local dates `first..=last`.
    pub fn total(&self, first: Date, last: Date) -> PhoneBucket {
        PhoneBucket::total(self.between(first, last).map(|(_, b)| b))
    }
}
