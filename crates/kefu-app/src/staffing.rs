//! Staffing from the store (clause 2.2): a week's plan — forecast contacts and handling time
//! per staffing interval, the agents the phone targets require (Erlang A with the patience
//! the history shows, else Erlang C), the agents actually on duty, the shortage — and the
//! stretches of service hours with nobody on duty ("service not provided") per channel.

use std::sync::Arc;

use jiff::civil::{Date, Time, Weekday};
use jiff::{SignedDuration, Timestamp, ToSpan};
use kefu_core::calendar::HolidayCalendar;
use kefu_core::contract::{ChannelKind, Contract, Metric};
use kefu_core::staffing::plan::{
    DayHistory, SlotHistory, average_on_duty, forecast_day, mean_aht_seconds, patience_seconds,
    uncovered,
};
use kefu_core::staffing::{Model, Shrinkage, Targets, Traffic, required_agents};
use kefu_store::{Channel, Store};
use serde::Serialize;

use crate::AppError;
use crate::contracts::StoredContract;

/// Weeks of history the forecast weighs.
pub const FORECAST_WEEKS: usize = 4;

/// One staffing interval of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanSlot {
    /// Local start, `YYYY-MM-DDTHH:MM`.
    pub start: String,
    pub open: bool,
    pub forecast_contacts: f64,
    pub aht_seconds: Option<f64>,
    pub traffic_erlangs: f64,
    pub required_agents: u32,
    /// Average agents on duty for the phone in the interval (past intervals only).
    pub on_duty: Option<f64>,
    /// Required minus on duty, when positive (past intervals only).
    pub shortage: Option<f64>,
}

/// A stretch of service hours with nobody on duty.
#[derive(Debug, Clone, Serialize)]
pub struct NotProvided {
    pub channel: &'static str,
    pub from: String,
    pub to: String,
    pub minutes: i64,
}

/// A week's plan for the phone channel.
#[derive(Debug, Clone, Serialize)]
pub struct WeekPlan {
    pub contract: String,
    pub week: String,
    pub interval_minutes: u32,
    pub model: &'static str,
    pub patience_seconds: Option<f64>,
    pub targets: Vec<String>,
    pub slots: Vec<PlanSlot>,
    pub peak_required: u32,
    pub intervals_short: usize,
    pub service_not_provided: Vec<NotProvided>,
}

/// `YYYY-Www` (ISO week) → its Monday.
pub fn parse_iso_week(text: &str) -> Result<Date, AppError> {
    let bad = || AppError::User(format!("week {text:?}: expected an ISO week like 2026-W48"));
    let (y, w) = text.split_once("-W").ok_or_else(bad)?;
    let year: i16 = y.parse().map_err(|_| bad())?;
    let week: i8 = w.parse().map_err(|_| bad())?;
    let iso = jiff::civil::ISOWeekDate::new(year, week, Weekday::Monday).map_err(|_| bad())?;
    Ok(iso.date())
}

/// The phone targets as staffing targets: connection rate ≥ x ⇒ abandonment ≤ 1 − x (short
/// abandons counted, the cautious side), 平均响应时间 ≤ t ⇒ mean answer time of answered calls
/// ≤ t, a service level as it is.
fn phone_targets(c: &Contract) -> Result<(Targets, Vec<String>), AppError> {
    use rust_decimal::prelude::ToPrimitive;
    let mut t = Targets::default();
    let mut said = Vec::new();
    let err = |e: kefu_core::staffing::StaffingError| AppError::User(e.to_string());
    if let Some(ch) = c.channel(ChannelKind::Phone) {
        for target in &ch.targets {
            match &target.metric {
                Metric::ConnectionRate { min, .. } => {
                    let min = min.fraction().to_f64().unwrap_or(0.95);
                    t = t.max_abandon(1.0 - min).map_err(err)?;
                    said.push(format!("{} connection rate ≥ {min}", target.clause));
                }
                Metric::AverageSpeedOfAnswer { max } => {
                    let s = max.to_signed().as_secs_f64();
                    t = t.max_asa_seconds(s).map_err(err)?;
                    said.push(format!("{} mean answer ≤ {s} s", target.clause));
                }
                Metric::ServiceLevel { min, within, .. } => {
                    let min = min.fraction().to_f64().unwrap_or(0.8);
                    let s = within.to_signed().as_secs_f64();
                    t = t.service_level(min, s).map_err(err)?;
                    said.push(format!(
                        "{} service level ≥ {min} within {s} s",
                        target.clause
                    ));
                }
                _ => {}
            }
        }
    }
    Ok((t, said))
}

/// The phone history per local day and interval from the stored buckets.
async fn history(
    store: &Store,
    stored: &StoredContract,
    first: Date,
    last: Date,
    holidays: &HolidayCalendar,
) -> Result<Vec<DayHistory>, AppError> {
    let plan = crate::contracts::bucket_plan(stored)?;
    let minutes = (plan.interval.as_millis() / 60_000).max(1) as usize;
    let slots = 1440 / minutes;
    let buckets = store.phone_buckets(stored.id, &plan, first, last).await?;
    let mut days: Vec<DayHistory> = Vec::new();
    let mut d = first;
    while d <= last {
        days.push(DayHistory {
            date: d,
            working: holidays.is_working_day(d).unwrap_or(!is_weekend(d)),
            slots: vec![SlotHistory::default(); slots],
        });
        d = d.tomorrow().map_err(|e| AppError::User(e.to_string()))?;
    }
    for (key, b) in &buckets.intervals {
        let date = key.start.date();
        let Ok(i) = usize::try_from(i64::from(
            date.since(first).map(|s| s.get_days()).unwrap_or(-1),
        )) else {
            continue;
        };
        let slot = (key.start.hour() as usize * 60 + key.start.minute() as usize) / minutes;
        if let Some(s) = days.get_mut(i).and_then(|d| d.slots.get_mut(slot)) {
            s.offered += b.offered;
            s.answered += b.answered;
            s.abandoned += b.abandoned;
            s.talk_ms += b.talk_ms;
            s.talk_count += b.talk_count;
            s.wait_ms += b.answered_waits.sum_ms() + b.abandon_waits.sum_ms();
        }
    }
    Ok(days)
}

/// Who was on duty for the phone: people on duty in kefu, and agents the PBX logged in and
/// not paused (an imported queue_log's AGENTLOGIN/PAUSE…), whichever the deployment has.
async fn phone_duty(
    store: &Store,
    stored: &StoredContract,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Result<Vec<(Timestamp, Timestamp)>, AppError> {
    use kefu_core::staffing::plan::{AgentState, available_stretches};
    let mut duty: Vec<(Timestamp, Timestamp)> = store
        .duty_intervals(from, to)
        .await?
        .into_iter()
        .filter(|d| d.channel == Channel::Phone)
        .map(|d| (d.started_at, d.ended_at.unwrap_or(now)))
        .collect();
    // A week of look-back finds the logins of agents already on the phones at `from`.
    let events = store
        .agent_events_between(stored.id, from - SignedDuration::from_hours(24 * 7), to)
        .await?;
    let parsed = events.iter().filter_map(|(agent, at, kind)| {
        let k = match kind.as_str() {
            "login" => AgentState::Login,
            "logoff" => AgentState::Logoff,
            "pause" => AgentState::Pause,
            "unpause" => AgentState::Unpause,
            _ => return None,
        };
        Some((agent.as_str(), *at, k))
    });
    duty.extend(available_stretches(parsed, to.min(now)));
    Ok(duty)
}

fn is_weekend(d: Date) -> bool {
    matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

fn channel_of(kind: ChannelKind) -> Option<Channel> {
    match kind {
        ChannelKind::Phone => Some(Channel::Phone),
        ChannelKind::Chat => Some(Channel::Chat),
        ChannelKind::Email => Some(Channel::Email),
        ChannelKind::Onsite => Some(Channel::Onsite),
    }
}

/// Stretches of each channel's service hours in `[from, to)` with nobody on duty for at least
/// the contract's `not_provided_after` (only up to `now`: the future is not judged).
/// `phone_on_duty` is [`phone_duty`] over the same span (the callers have it already).
pub async fn service_not_provided(
    store: &Store,
    stored: &StoredContract,
    holidays: Arc<HolidayCalendar>,
    (from, to): (Timestamp, Timestamp),
    now: Timestamp,
    phone_on_duty: &[(Timestamp, Timestamp)],
) -> Result<Vec<NotProvided>, AppError> {
    let base = stored.document.base();
    let tz = base.time_zone.clone();
    let to = to.min(now);
    if to <= from {
        return Ok(Vec::new());
    }
    let duty = store.duty_intervals(from, to).await?;
    let grace = base.staffing.not_provided_after.to_signed();
    let local = |t: Timestamp| tz.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string();
    let mut out = Vec::new();
    for kind in [
        ChannelKind::Phone,
        ChannelKind::Chat,
        ChannelKind::Email,
        ChannelKind::Onsite,
    ] {
        if !base.channel(kind).is_some_and(|c| c.enabled) {
            continue;
        }
        let Some(cal) = base.service_calendar(kind, holidays.clone()) else {
            continue;
        };
        let open: Vec<(Timestamp, Timestamp)> = cal
            .split(from, to)
            .map_err(|e| AppError::User(e.to_string()))?
            .into_iter()
            .filter(|s| s.open)
            .map(|s| (s.start, s.end))
            .collect();
        let want = channel_of(kind);
        let mut on: Vec<(Timestamp, Timestamp)> = duty
            .iter()
            .filter(|d| Some(d.channel) == want)
            .map(|d| (d.started_at, d.ended_at.unwrap_or(now)))
            .collect();
        if kind == ChannelKind::Phone {
            on = phone_on_duty.to_vec();
        }
        for (a, b) in uncovered(&open, &on, grace) {
            out.push(NotProvided {
                channel: kind.key(),
                from: local(a),
                to: local(b),
                minutes: b.duration_since(a).as_mins(),
            });
        }
    }
    Ok(out)
}

/// The plan of the ISO week starting on `monday` for the phone channel.
pub async fn week_plan(
    store: &Store,
    stored: &StoredContract,
    number: &str,
    monday: Date,
    holidays: Arc<HolidayCalendar>,
    now: Timestamp,
) -> Result<WeekPlan, AppError> {
    let base = stored.document.base();
    let tz = base.time_zone.clone();
    let err = |e: jiff::Error| AppError::User(e.to_string());
    let hist_first = monday
        .checked_sub(((FORECAST_WEEKS as i64) * 7 + 7).days())
        .map_err(err)?;
    let hist_last = monday.yesterday().map_err(err)?;
    let past = history(store, stored, hist_first, hist_last, &holidays).await?;
    let plan = crate::contracts::bucket_plan(stored)?;
    let minutes = (plan.interval.as_millis() / 60_000).max(1) as u32;
    let slots_per_day = (1440 / minutes) as usize;
    let patience = patience_seconds(&past);
    let fallback_aht = mean_aht_seconds(&past).unwrap_or(180.0);
    let model = match patience {
        Some(p) => Model::erlang_a(p).map_err(|e| AppError::User(e.to_string()))?,
        None => Model::ErlangC,
    };
    let (targets, said) = phone_targets(base)?;
    let min_agents = u32::from(
        base.staffing
            .min_agents
            .get(&ChannelKind::Phone)
            .copied()
            .unwrap_or(0),
    );
    let cal = base.service_calendar(ChannelKind::Phone, holidays.clone());
    let sunday_end = monday.checked_add(7.days()).map_err(err)?;
    let week_from = tz
        .to_timestamp(monday.to_datetime(Time::midnight()))
        .map_err(err)?;
    let week_to = tz
        .to_timestamp(sunday_end.to_datetime(Time::midnight()))
        .map_err(err)?;
    let duty = phone_duty(store, stored, week_from, week_to, now).await?;
    // This week's own days join the history as they pass (a plan looked at on Thursday uses
    // Monday to Wednesday too); the forecast of a day only uses days before it.
    let this_week = history(
        store,
        stored,
        monday,
        sunday_end.yesterday().map_err(err)?,
        &holidays,
    )
    .await?
    .into_iter()
    .filter(|d| {
        tz.to_timestamp(d.date.to_datetime(Time::midnight()))
            .is_ok_and(|t| t < now)
    });
    let all: Vec<DayHistory> = past.into_iter().chain(this_week).collect();
    let mut slots = Vec::with_capacity(slots_per_day * 7);
    let mut d = monday;
    for _ in 0..7 {
        let working = holidays.is_working_day(d).unwrap_or(!is_weekend(d));
        let forecast = forecast_day(&all, d, working, slots_per_day, FORECAST_WEEKS);
        for (i, f) in forecast.iter().enumerate() {
            let start_dt = d
                .to_datetime(Time::midnight())
                .checked_add(SignedDuration::from_mins(i64::from(minutes) * i as i64))
                .map_err(err)?;
            let start = tz.to_timestamp(start_dt).map_err(err)?;
            let end = start + SignedDuration::from_mins(i64::from(minutes));
            let open = cal
                .as_ref()
                .and_then(|c| c.business_duration(start, end).ok())
                .is_some_and(|open| open > SignedDuration::ZERO);
            let aht = f.aht_seconds.unwrap_or(fallback_aht);
            let traffic = Traffic::from_calls(f.contacts, f64::from(minutes) * 60.0, aht)
                .map_err(|e| AppError::User(e.to_string()))?;
            let required = if !open {
                0
            } else if targets.is_empty() {
                min_agents
            } else {
                required_agents(&model, &traffic, &targets, Shrinkage::default())
                    .map(|r| r.agents)
                    .unwrap_or(0)
                    .max(min_agents)
            };
            let past_slot = end <= now;
            let on_duty = past_slot.then(|| average_on_duty(&duty, start, end).max(0.0));
            slots.push(PlanSlot {
                start: start_dt.strftime("%Y-%m-%dT%H:%M").to_string(),
                open,
                forecast_contacts: (f.contacts * 10.0).round() / 10.0,
                aht_seconds: f.aht_seconds.map(|a| a.round()),
                traffic_erlangs: (traffic.erlangs() * 100.0).round() / 100.0,
                required_agents: required,
                on_duty: on_duty.map(|x| (x * 100.0).round() / 100.0 + 0.0),
                shortage: on_duty
                    .map(|x| f64::from(required) - x)
                    .filter(|s| *s > 0.0)
                    .map(|s| (s * 100.0).round() / 100.0),
            });
        }
        d = d.tomorrow().map_err(err)?;
    }
    let not_provided =
        service_not_provided(store, stored, holidays, (week_from, week_to), now, &duty).await?;
    Ok(WeekPlan {
        contract: number.to_owned(),
        week: format!(
            "{}-W{:02}",
            monday.iso_week_date().year(),
            monday.iso_week_date().week()
        ),
        interval_minutes: minutes,
        model: model.name(),
        patience_seconds: patience.map(|p| p.round()),
        targets: said,
        peak_required: slots.iter().map(|s| s.required_agents).max().unwrap_or(0),
        intervals_short: slots.iter().filter(|s| s.shortage.is_some()).count(),
        slots,
        service_not_provided: not_provided,
    })
}

/// The phone's staffing over a past period, interval by interval: what the traffic that came
/// needed (Erlang A on the actual calls and handling time) against who was on duty.
#[derive(Debug, Clone, Serialize)]
pub struct PhoneStaffing {
    pub model: &'static str,
    pub patience_seconds: Option<f64>,
    /// Intervals inside service hours that have passed.
    pub intervals_open: usize,
    /// Intervals with fewer agents on duty than the contract's minimum.
    pub intervals_below_minimum: usize,
    /// Intervals with fewer agents on duty than the traffic required.
    pub intervals_short: usize,
    /// Agent-hours missing over those intervals.
    pub shortage_agent_hours: f64,
    /// The intervals with the largest shortage, worst first (at most 10).
    pub worst: Vec<PlanSlot>,
}

/// Clause 2.2 over a billing period: the staffing section of the quality report.
#[derive(Debug, Clone, Serialize)]
pub struct PeriodStaffing {
    pub clause: String,
    /// Fewest agents per channel inside service hours, as the contract says.
    pub min_agents: std::collections::BTreeMap<&'static str, u16>,
    pub not_provided_after_minutes: i64,
    /// Minutes of service not provided per channel.
    pub not_provided_minutes: std::collections::BTreeMap<&'static str, i64>,
    pub service_not_provided: Vec<NotProvided>,
    pub phone: Option<PhoneStaffing>,
    /// No service-not-provided stretch and no interval below the minimum.
    pub met: bool,
}

/// The staffing section for the local days `first..=last` (instants `[from, to)`).
pub async fn period_staffing(
    store: &Store,
    stored: &StoredContract,
    (first, last): (Date, Date),
    (from, to): (Timestamp, Timestamp),
    holidays: Arc<HolidayCalendar>,
    now: Timestamp,
) -> Result<PeriodStaffing, AppError> {
    let base = stored.document.base();
    let tz = base.time_zone.clone();
    let err = |e: jiff::Error| AppError::User(e.to_string());
    let phone_on_duty = phone_duty(store, stored, from, to, now).await?;
    let not_provided = service_not_provided(
        store,
        stored,
        holidays.clone(),
        (from, to),
        now,
        &phone_on_duty,
    )
    .await?;
    let mut minutes = std::collections::BTreeMap::new();
    for n in &not_provided {
        *minutes.entry(n.channel).or_insert(0) += n.minutes;
    }
    let min_agents: std::collections::BTreeMap<&'static str, u16> = base
        .staffing
        .min_agents
        .iter()
        .map(|(k, v)| (k.key(), *v))
        .collect();
    let phone = match base.channel(ChannelKind::Phone).filter(|c| c.enabled) {
        None => None,
        Some(_) => {
            let days = history(store, stored, first, last, &holidays).await?;
            let plan = crate::contracts::bucket_plan(stored)?;
            let mins = (plan.interval.as_millis() / 60_000).max(1) as i64;
            let patience = patience_seconds(&days);
            let fallback_aht = mean_aht_seconds(&days).unwrap_or(180.0);
            let model = match patience {
                Some(p) => Model::erlang_a(p).map_err(|e| AppError::User(e.to_string()))?,
                None => Model::ErlangC,
            };
            let (targets, _) = phone_targets(base)?;
            let minimum = u32::from(
                base.staffing
                    .min_agents
                    .get(&ChannelKind::Phone)
                    .copied()
                    .unwrap_or(0),
            );
            let cal = base.service_calendar(ChannelKind::Phone, holidays.clone());
            let duty = &phone_on_duty;
            let mut slots = Vec::new();
            for day in &days {
                for (i, s) in day.slots.iter().enumerate() {
                    let start_dt = day
                        .date
                        .to_datetime(Time::midnight())
                        .checked_add(SignedDuration::from_mins(mins * i as i64))
                        .map_err(err)?;
                    let start = tz.to_timestamp(start_dt).map_err(err)?;
                    let end = start + SignedDuration::from_mins(mins);
                    let open = cal
                        .as_ref()
                        .and_then(|c| c.business_duration(start, end).ok())
                        .is_some_and(|d| d > SignedDuration::ZERO);
                    if !open || end > now {
                        continue;
                    }
                    let aht = if s.talk_count > 0 {
                        s.talk_ms as f64 / s.talk_count as f64 / 1000.0
                    } else {
                        fallback_aht
                    };
                    let traffic = Traffic::from_calls(s.offered as f64, (mins * 60) as f64, aht)
                        .map_err(|e| AppError::User(e.to_string()))?;
                    let required = if targets.is_empty() {
                        minimum
                    } else {
                        required_agents(&model, &traffic, &targets, Shrinkage::default())
                            .map(|r| r.agents)
                            .unwrap_or(0)
                            .max(minimum)
                    };
                    let on = average_on_duty(duty, start, end).max(0.0);
                    slots.push(PlanSlot {
                        start: start_dt.strftime("%Y-%m-%dT%H:%M").to_string(),
                        open,
                        forecast_contacts: s.offered as f64,
                        aht_seconds: (s.talk_count > 0).then(|| aht.round()),
                        traffic_erlangs: (traffic.erlangs() * 100.0).round() / 100.0,
                        required_agents: required,
                        on_duty: Some((on * 100.0).round() / 100.0 + 0.0),
                        shortage: Some(f64::from(required) - on)
                            .filter(|x| *x > 0.0)
                            .map(|x| (x * 100.0).round() / 100.0),
                    });
                }
            }
            let below = slots
                .iter()
                .filter(|s| s.on_duty.unwrap_or(0.0) < f64::from(minimum))
                .count();
            let short: Vec<&PlanSlot> = slots.iter().filter(|s| s.shortage.is_some()).collect();
            let hours: f64 = short
                .iter()
                .map(|s| s.shortage.unwrap_or(0.0) * mins as f64 / 60.0)
                .sum();
            let mut worst: Vec<PlanSlot> = short.iter().map(|s| (*s).clone()).collect();
            worst.sort_by(|a, b| {
                b.shortage
                    .unwrap_or(0.0)
                    .total_cmp(&a.shortage.unwrap_or(0.0))
            });
            worst.truncate(10);
            Some(PhoneStaffing {
                model: model.name(),
                patience_seconds: patience.map(|p| p.round()),
                intervals_open: slots.len(),
                intervals_below_minimum: below,
                intervals_short: short.len(),
                shortage_agent_hours: (hours * 10.0).round() / 10.0,
                worst,
            })
        }
    };
    let met = not_provided.is_empty()
        && phone
            .as_ref()
            .is_none_or(|p| p.intervals_below_minimum == 0);
    Ok(PeriodStaffing {
        clause: base.staffing.clause.to_string(),
        min_agents,
        not_provided_after_minutes: base.staffing.not_provided_after.to_signed().as_mins(),
        not_provided_minutes: minutes,
        service_not_provided: not_provided,
        phone,
        met,
    })
}
