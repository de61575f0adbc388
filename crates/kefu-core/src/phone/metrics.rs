//! The phone channel's service-level figures and verdicts, computed from
//! interval aggregates under the definitions the contract names
//! (DESIGN.md "Metric definitions", clause 4.1.1).
//!
//! Rules chosen here (each is a contract reading, written down so that both
//! parties can check it):
//! - **Within T means ≤ T**: a call answered after exactly 20.000 s is answered
//!   within 20 s. **Short abandon means < N**: a caller who hangs up after
//!   exactly 5.000 s is *not* a short abandon under "5s".
//! - **Offered** = every call that entered the queue inside service hours,
//!   whatever its outcome (answered, abandoned, timed out, no agents, left with
//!   a key, unknown). **Abandoned** = the caller hung up while waiting
//!   (`CallOutcome::Abandoned`); only those can be short abandons.
//!   **Unanswered** = offered − answered.
//! - **Connection rate** = answered ÷ offered, or answered ÷ (offered − short
//!   abandons), as the contract's `formula` says.
//! - **Average speed of answer** = mean (connect − enqueue) over answered calls
//!   whose connect time is known. **Service level** = answered within T ÷ the
//!   formula's denominator; an answered call with no connect time is not within T.
//! - **Abandonment rate** = abandoned ÷ offered.
//! - **Average handle time** = average talk time for now: kefu records no
//!   after-call work yet. When it does, AHT = talk + ACW.
//! - A figure whose denominator is zero is `None`, and so is a verdict's `met`.
//! - **Terms**: a day's figures and verdicts use the terms in force that day;
//!   a billing period's use the terms in force on its last day (the last day
//!   of the period on which the contract is in force), over the days of the
//!   period on which the contract is in force. The histogram makes any
//!   threshold exact, so re-reading the whole month under the final terms
//!   needs no re-import.
//! - Ratios are exact (integer numerator and denominator, compared with the
//!   target by cross-multiplication); `f64` is offered only for charts.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, DateTime};
use rust_decimal::Decimal;
use serde::Serialize;

use super::aggregate::{PhoneAggregates, PhoneBucket, Threshold, ThresholdError};
use crate::contract::{
    Assessment, ChannelKind, Clause, ConnectionRateFormula, Contract, ContractDocument, Duration,
    Metric, Percent, ServiceLevelFormula,
};

// ------------------------------------------------------------------ settings

/// The measurement settings of the phone channel, read from the contract's targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MetricSettings {
    pub connection_rate_formula: ConnectionRateFormula,
    /// Abandons with a wait below this are short abandons.
    pub short_abandon: Threshold,
    /// Service level counts answers with a wait of at most this.
    pub service_level_within: Threshold,
    pub service_level_formula: ServiceLevelFormula,
}

impl Default for MetricSettings {
    /// Used for settings the contract does not name: answered ÷ offered, no
    /// short abandons, service level within 20 s over offered.
    fn default() -> MetricSettings {
        MetricSettings {
            connection_rate_formula: ConnectionRateFormula::AnsweredOverOffered,
            short_abandon: Threshold::from_secs(0),
            service_level_within: Threshold::from_secs(20),
            service_level_formula: ServiceLevelFormula::WithinOverOffered,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("clause {clause}, phone target {metric}, `{setting}`: {source}")]
    Threshold {
        clause: Clause,
        metric: &'static str,
        setting: &'static str,
        source: ThresholdError,
    },
}

impl MetricSettings {
    /// The settings of the contract's phone targets; the defaults for what it leaves out.
    pub fn from_contract(c: &Contract) -> Result<MetricSettings, SettingsError> {
        let mut s = MetricSettings::default();
        let Some(ch) = c.channel(ChannelKind::Phone) else {
            return Ok(s);
        };
        for t in &ch.targets {
            let thr = |d: Duration, setting: &'static str| {
                Threshold::new(d).map_err(|source| SettingsError::Threshold {
                    clause: t.clause.clone(),
                    metric: t.name(),
                    setting,
                    source,
                })
            };
            match &t.metric {
                Metric::ConnectionRate {
                    formula,
                    short_abandon,
                    ..
                } => {
                    s.connection_rate_formula = *formula;
                    s.short_abandon = thr(*short_abandon, "short_abandon")?;
                }
                Metric::ServiceLevel {
                    within, formula, ..
                } => {
                    s.service_level_within = thr(*within, "within")?;
                    s.service_level_formula = *formula;
                }
                _ => {}
            }
        }
        Ok(s)
    }
}

// ------------------------------------------------------------------ exact values

/// An exact share: numerator ÷ denominator, denominator > 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Ratio {
    pub numerator: u64,
    pub denominator: u64,
}

/// `p` as an exact fraction num/den of one (95% → 95/100). Percentages with
/// more than 12 decimals are rounded up to 12 (never reached by a contract).
pub(crate) fn percent_fraction(p: Percent) -> (i128, i128) {
    let mut d = p.points().normalize();
    if d.scale() > 12 {
        d = d.round_dp_with_strategy(12, rust_decimal::RoundingStrategy::AwayFromZero);
    }
    (d.mantissa(), 100 * 10i128.pow(d.scale()))
}

impl Ratio {
    /// None when the denominator is zero.
    pub fn new(numerator: u64, denominator: u64) -> Option<Ratio> {
        (denominator > 0).then_some(Ratio {
            numerator,
            denominator,
        })
    }
    /// The share as a fraction of one (exact when it has ≤ 28 significant digits).
    pub fn fraction(self) -> Decimal {
        Decimal::from(self.numerator) / Decimal::from(self.denominator)
    }
    /// The share in percentage points (95 for 95%).
    pub fn percent(self) -> Decimal {
        Decimal::from(self.numerator) * Decimal::ONE_HUNDRED / Decimal::from(self.denominator)
    }
    /// Percentage points rounded half-up to `dp` decimals, for display.
    pub fn percent_rounded(self, dp: u32) -> Decimal {
        self.percent()
            .round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    }
    /// For charts only: never decide a verdict with it.
    pub fn to_f64(self) -> f64 {
        self.numerator as f64 / self.denominator as f64
    }
    /// Exactly: numerator ÷ denominator ≥ p.
    pub fn at_least(self, p: Percent) -> bool {
        let (pn, pd) = percent_fraction(p);
        i128::from(self.numerator).saturating_mul(pd)
            >= pn.saturating_mul(i128::from(self.denominator))
    }
}

/// An exact mean of durations: total ÷ count, count > 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct MeanDuration {
    pub total_ms: u64,
    pub count: u64,
}

impl MeanDuration {
    pub fn new(total_ms: u64, count: u64) -> Option<MeanDuration> {
        (count > 0).then_some(MeanDuration { total_ms, count })
    }
    /// The mean in milliseconds (exact when it has ≤ 28 significant digits).
    pub fn millis(self) -> Decimal {
        Decimal::from(self.total_ms) / Decimal::from(self.count)
    }
    /// The mean in seconds.
    pub fn seconds(self) -> Decimal {
        Decimal::from(self.total_ms) / Decimal::from(self.count) / Decimal::ONE_THOUSAND
    }
    /// For charts only.
    pub fn to_f64_seconds(self) -> f64 {
        self.total_ms as f64 / self.count as f64 / 1000.0
    }
    /// Exactly: the mean ≤ max.
    pub fn at_most(self, max: Duration) -> bool {
        u128::from(self.total_ms) <= u128::from(max.as_millis()) * u128::from(self.count)
    }
}

// ------------------------------------------------------------------ figures

/// The figures of any set of buckets under one set of settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PhoneFigures {
    pub settings: MetricSettings,
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// Abandons with a wait below `settings.short_abandon`.
    pub short_abandoned: u64,
    /// offered − answered (abandoned, timed out, no agents, left with a key, unknown).
    pub unanswered: u64,
    pub timed_out: u64,
    pub no_agents: u64,
    pub exited_with_key: u64,
    pub unknown: u64,
    /// Answered with a wait ≤ `settings.service_level_within`.
    pub answered_within: u64,
    pub connection_rate: Option<Ratio>,
    pub average_speed_of_answer: Option<MeanDuration>,
    pub service_level: Option<Ratio>,
    pub abandonment_rate: Option<Ratio>,
    pub average_talk: Option<MeanDuration>,
    /// = average talk: no after-call work is recorded yet.
    pub average_handle: Option<MeanDuration>,
    pub longest_wait_ms: Option<u64>,
    pub unanswered_rings: u64,
    pub transfers: u64,
}

impl PhoneFigures {
    pub fn from_bucket(b: &PhoneBucket, s: &MetricSettings) -> PhoneFigures {
        let short = b.short_abandoned(s.short_abandon);
        let within = b.answered_within(s.service_level_within);
        let less_short = b.offered.saturating_sub(short);
        let connection_rate = match s.connection_rate_formula {
            ConnectionRateFormula::AnsweredOverOffered => Ratio::new(b.answered, b.offered),
            ConnectionRateFormula::AnsweredOverOfferedLessShortAbandons => {
                Ratio::new(b.answered, less_short)
            }
        };
        let service_level = match s.service_level_formula {
            ServiceLevelFormula::WithinOverOffered => Ratio::new(within, b.offered),
            ServiceLevelFormula::WithinOverAnswered => Ratio::new(within, b.answered),
            ServiceLevelFormula::WithinOverOfferedLessShortAbandons => {
                Ratio::new(within, less_short)
            }
        };
        let talk = MeanDuration::new(b.talk_ms, b.talk_count);
        PhoneFigures {
            settings: *s,
            offered: b.offered,
            answered: b.answered,
            abandoned: b.abandoned,
            short_abandoned: short,
            unanswered: b.unanswered(),
            timed_out: b.timed_out,
            no_agents: b.no_agents,
            exited_with_key: b.exited_with_key,
            unknown: b.unknown,
            answered_within: within,
            connection_rate,
            average_speed_of_answer: MeanDuration::new(
                b.answered_waits.sum_ms(),
                b.answered_waits.count(),
            ),
            service_level,
            abandonment_rate: Ratio::new(b.abandoned, b.offered),
            average_talk: talk,
            average_handle: talk,
            longest_wait_ms: b.max_wait_ms,
            unanswered_rings: b.unanswered_rings,
            transfers: b.transfers,
        }
    }

    /// The figures of the sum of `buckets`.
    pub fn of<'a>(
        buckets: impl IntoIterator<Item = &'a PhoneBucket>,
        s: &MetricSettings,
    ) -> PhoneFigures {
        PhoneFigures::from_bucket(&PhoneBucket::total(buckets), s)
    }
}

// ------------------------------------------------------------------ periods

/// Local dates `first..=last` (empty when first > last).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DateRange {
    pub first: Date,
    pub last: Date,
}

impl DateRange {
    pub fn new(first: Date, last: Date) -> DateRange {
        DateRange { first, last }
    }
    pub fn day(d: Date) -> DateRange {
        DateRange { first: d, last: d }
    }
    pub fn contains(&self, d: Date) -> bool {
        self.first <= d && d <= self.last
    }
    pub fn days(&self) -> impl Iterator<Item = Date> + use<> {
        let last = self.last;
        std::iter::successors(Some(self.first), |d| d.tomorrow().ok())
            .take_while(move |d| *d <= last)
    }
}

/// A billing period: a calendar month in the contract's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BillingPeriod {
    first: Date,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected a billing period as YYYY-MM, like \"2026-10\", found \"{0}\"")]
pub struct BillingPeriodError(String);

impl BillingPeriod {
    pub fn new(year: i16, month: i8) -> Option<BillingPeriod> {
        Date::new(year, month, 1)
            .ok()
            .map(|first| BillingPeriod { first })
    }
    /// The period containing a local date.
    pub fn of(d: Date) -> BillingPeriod {
        BillingPeriod {
            first: d.first_of_month(),
        }
    }
    pub fn first_day(self) -> Date {
        self.first
    }
    pub fn last_day(self) -> Date {
        self.first.last_of_month()
    }
    pub fn range(self) -> DateRange {
        DateRange::new(self.first_day(), self.last_day())
    }
    pub fn year(self) -> i16 {
        self.first.year()
    }
    pub fn month(self) -> i8 {
        self.first.month()
    }
}

impl FromStr for BillingPeriod {
    type Err = BillingPeriodError;
    fn from_str(s: &str) -> Result<BillingPeriod, BillingPeriodError> {
        let err = || BillingPeriodError(s.to_string());
        let (y, m) = s.trim().split_once('-').ok_or_else(err)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(err());
        }
        let y: i16 = y.parse().map_err(|_| err())?;
        let m: i8 = m.parse().map_err(|_| err())?;
        BillingPeriod::new(y, m).ok_or_else(err)
    }
}

impl fmt::Display for BillingPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl Serialize for BillingPeriod {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

// ------------------------------------------------------------------ breakdowns

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DayFigures {
    pub date: Date,
    pub figures: PhoneFigures,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueueFigures {
    pub queue: Option<String>,
    pub figures: PhoneFigures,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentFigures {
    /// None: calls no agent answered (abandoned and the like).
    pub agent: Option<String>,
    pub figures: PhoneFigures,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HourFigures {
    /// Local hour of day of the interval start, 0–23.
    pub hour: i8,
    pub figures: PhoneFigures,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IntervalFigures {
    /// Local start of the interval.
    pub start: DateTime,
    pub figures: PhoneFigures,
}

/// One row per date of `range`, zero-call days included.
pub fn per_day(aggs: &PhoneAggregates, range: DateRange, s: &MetricSettings) -> Vec<DayFigures> {
    let mut by_day: BTreeMap<Date, PhoneBucket> = BTreeMap::new();
    for (k, b) in aggs.between(range.first, range.last) {
        by_day.entry(k.date()).or_default().merge(b);
    }
    range
        .days()
        .map(|date| DayFigures {
            date,
            figures: PhoneFigures::from_bucket(
                by_day.get(&date).unwrap_or(&PhoneBucket::default()),
                s,
            ),
        })
        .collect()
}

/// One row per date of `range` on which the contract is in force, each under that day's terms.
pub fn per_day_in_force(
    aggs: &PhoneAggregates,
    range: DateRange,
    terms: &dyn TermsSource,
) -> Result<Vec<DayFigures>, SettingsError> {
    let mut out = Vec::new();
    for date in range.days() {
        let Some(c) = terms.contract_on(date) else {
            continue;
        };
        let s = MetricSettings::from_contract(c)?;
        out.push(DayFigures {
            date,
            figures: PhoneFigures::of(aggs.between(date, date).map(|(_, b)| b), &s),
        });
    }
    Ok(out)
}

fn group_by<K: Ord>(
    aggs: &PhoneAggregates,
    range: DateRange,
    key: impl Fn(&super::aggregate::BucketKey) -> K,
) -> BTreeMap<K, PhoneBucket> {
    let mut m: BTreeMap<K, PhoneBucket> = BTreeMap::new();
    for (k, b) in aggs.between(range.first, range.last) {
        m.entry(key(k)).or_default().merge(b);
    }
    m
}

/// One row per queue seen in `range`, in name order (no queue first).
pub fn per_queue(
    aggs: &PhoneAggregates,
    range: DateRange,
    s: &MetricSettings,
) -> Vec<QueueFigures> {
    group_by(aggs, range, |k| k.queue.clone())
        .into_iter()
        .map(|(queue, b)| QueueFigures {
            queue,
            figures: PhoneFigures::from_bucket(&b, s),
        })
        .collect()
}

/// One row per agent seen in `range`, in name order (no agent first).
pub fn per_agent(
    aggs: &PhoneAggregates,
    range: DateRange,
    s: &MetricSettings,
) -> Vec<AgentFigures> {
    group_by(aggs, range, |k| k.agent.clone())
        .into_iter()
        .map(|(agent, b)| AgentFigures {
            agent,
            figures: PhoneFigures::from_bucket(&b, s),
        })
        .collect()
}

/// 24 rows, hours 0–23, quiet hours included. The hour is that of the
/// interval's start (exact for intervals of up to one hour).
pub fn per_hour_of_day(
    aggs: &PhoneAggregates,
    range: DateRange,
    s: &MetricSettings,
) -> Vec<HourFigures> {
    let m = group_by(aggs, range, |k| k.hour());
    (0..24)
        .map(|hour| HourFigures {
            hour,
            figures: PhoneFigures::from_bucket(m.get(&hour).unwrap_or(&PhoneBucket::default()), s),
        })
        .collect()
}

/// One row per interval with calls, in time order (for "worst intervals" and heat maps).
pub fn per_interval(
    aggs: &PhoneAggregates,
    range: DateRange,
    s: &MetricSettings,
) -> Vec<IntervalFigures> {
    group_by(aggs, range, |k| k.start)
        .into_iter()
        .map(|(start, b)| IntervalFigures {
            start,
            figures: PhoneFigures::from_bucket(&b, s),
        })
        .collect()
}

// ------------------------------------------------------------------ terms

/// The contract terms in force on a day: a [`ContractDocument`] (amendments
/// applied), a single [`Contract`], or anything else that can say.
pub trait TermsSource {
    /// None when no contract is in force that day.
    fn contract_on(&self, day: Date) -> Option<&Contract>;
}

impl TermsSource for ContractDocument {
    fn contract_on(&self, day: Date) -> Option<&Contract> {
        self.terms_on(day).ok().map(|t| t.contract)
    }
}

impl TermsSource for Contract {
    fn contract_on(&self, day: Date) -> Option<&Contract> {
        self.is_in_force_on(day).then_some(self)
    }
}

// ------------------------------------------------------------------ verdicts

/// What a verdict is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Scope {
    Day(Date),
    Period(BillingPeriod),
}

/// The target as the contract writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetBound {
    /// A share of at least this (connection rate, service level).
    AtLeast(Percent),
    /// A mean time of at most this (average speed of answer).
    AtMost(Duration),
}

/// The measured value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measured {
    Ratio(Ratio),
    Mean(MeanDuration),
}

/// How far a missed target was missed: percentage points below a minimum, or
/// seconds above a maximum. Exact to 28 significant digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shortfall {
    Points(Decimal),
    Seconds(Decimal),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetVerdict {
    pub clause: Clause,
    /// "connection_rate", "average_speed_of_answer", "service_level".
    pub metric: &'static str,
    pub scope: Scope,
    /// The day whose terms decided the target and the settings.
    pub terms_of: Date,
    /// How the contract judges this target.
    pub assessed: Assessment,
    /// True when this verdict is the one the contract judges (a daily verdict
    /// of a daily target, a period verdict of a period target); the others are
    /// for monitoring.
    pub binding: bool,
    pub target: TargetBound,
    pub settings: MetricSettings,
    /// None when there was nothing to measure (no calls, or no answered call for ASA).
    pub value: Option<Measured>,
    pub met: Option<bool>,
    /// Some only when the target was missed.
    pub shortfall: Option<Shortfall>,
}

/// The verdicts of the phone targets of `contract` over `bucket`.
pub fn verdicts(
    bucket: &PhoneBucket,
    contract: &Contract,
    scope: Scope,
    terms_of: Date,
) -> Result<Vec<TargetVerdict>, SettingsError> {
    let settings = MetricSettings::from_contract(contract)?;
    let f = PhoneFigures::from_bucket(bucket, &settings);
    Ok(verdicts_of(&f, contract, scope, terms_of))
}

fn verdicts_of(
    f: &PhoneFigures,
    contract: &Contract,
    scope: Scope,
    terms_of: Date,
) -> Vec<TargetVerdict> {
    let Some(ch) = contract.channel(ChannelKind::Phone) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in &ch.targets {
        let ratio = |r: Option<Ratio>, min: Percent| {
            let met = r.map(|r| r.at_least(min));
            let shortfall = match (r, met) {
                (Some(r), Some(false)) => Some(Shortfall::Points(min.points() - r.percent())),
                _ => None,
            };
            (
                TargetBound::AtLeast(min),
                r.map(Measured::Ratio),
                met,
                shortfall,
            )
        };
        let (target, value, met, shortfall) = match &t.metric {
            Metric::ConnectionRate { min, .. } => ratio(f.connection_rate, *min),
            Metric::ServiceLevel { min, .. } => ratio(f.service_level, *min),
            Metric::AverageSpeedOfAnswer { max } => {
                let v = f.average_speed_of_answer;
                let met = v.map(|m| m.at_most(*max));
                let shortfall = match (v, met) {
                    (Some(m), Some(false)) => Some(Shortfall::Seconds(
                        m.seconds() - Decimal::from(max.as_millis()) / Decimal::ONE_THOUSAND,
                    )),
                    _ => None,
                };
                (
                    TargetBound::AtMost(*max),
                    v.map(Measured::Mean),
                    met,
                    shortfall,
                )
            }
            _ => continue,
        };
        let binding = matches!(
            (scope, t.assessed),
            (Scope::Day(_), Assessment::Day) | (Scope::Period(_), Assessment::BillingPeriod)
        );
        out.push(TargetVerdict {
            clause: t.clause.clone(),
            metric: t.name(),
            scope,
            terms_of,
            assessed: t.assessed,
            binding,
            target,
            settings: f.settings,
            value,
            met,
            shortfall,
        });
    }
    out
}

/// A day's figures and verdicts, under that day's terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DayVerdicts {
    pub date: Date,
    pub figures: PhoneFigures,
    pub verdicts: Vec<TargetVerdict>,
}

/// A billing period's figures and verdicts, under the terms of its last day in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeriodVerdicts {
    pub period: BillingPeriod,
    /// The day whose terms apply: the last day of the period on which the contract is in force.
    pub terms_of: Date,
    /// The days counted: those of the period on which the contract is in force.
    pub days: Vec<Date>,
    pub figures: PhoneFigures,
    pub verdicts: Vec<TargetVerdict>,
}

/// Figures and verdicts for each day of `range` on which a contract is in force.
pub fn daily_verdicts(
    aggs: &PhoneAggregates,
    range: DateRange,
    terms: &dyn TermsSource,
) -> Result<Vec<DayVerdicts>, SettingsError> {
    let mut out = Vec::new();
    for date in range.days() {
        let Some(c) = terms.contract_on(date) else {
            continue;
        };
        let s = MetricSettings::from_contract(c)?;
        let figures = PhoneFigures::of(aggs.between(date, date).map(|(_, b)| b), &s);
        let verdicts = verdicts_of(&figures, c, Scope::Day(date), date);
        out.push(DayVerdicts {
            date,
            figures,
            verdicts,
        });
    }
    Ok(out)
}

/// The period's figures and verdicts; None when no contract is in force on any day of it.
pub fn period_verdicts(
    aggs: &PhoneAggregates,
    period: BillingPeriod,
    terms: &dyn TermsSource,
) -> Result<Option<PeriodVerdicts>, SettingsError> {
    let days: Vec<Date> = period
        .range()
        .days()
        .filter(|d| terms.contract_on(*d).is_some())
        .collect();
    let Some(&terms_of) = days.last() else {
        return Ok(None);
    };
    let Some(c) = terms.contract_on(terms_of) else {
        return Ok(None);
    };
    let s = MetricSettings::from_contract(c)?;
    let total = period_total(aggs, &days);
    let figures = PhoneFigures::from_bucket(&total, &s);
    let verdicts = verdicts_of(&figures, c, Scope::Period(period), terms_of);
    Ok(Some(PeriodVerdicts {
        period,
        terms_of,
        days,
        figures,
        verdicts,
    }))
}

/// The sum of the buckets of `days` (sorted), one range scan per run of consecutive days.
pub(crate) fn period_total(aggs: &PhoneAggregates, days: &[Date]) -> PhoneBucket {
    let mut total = PhoneBucket::default();
    let mut i = 0;
    while i < days.len() {
        let mut j = i;
        while j + 1 < days.len() && days[j].tomorrow().ok() == Some(days[j + 1]) {
            j += 1;
        }
        for (_, b) in aggs.between(days[i], days[j]) {
            total.merge(b);
        }
        i = j + 1;
    }
    total
}
