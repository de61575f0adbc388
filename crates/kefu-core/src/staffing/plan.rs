//! Forecast and staffing plan (clause 2.2, enough staff): expected contacts and handling time
//! per staffing interval from history, the agents the contract's targets require in each
//! interval, and how that compares with the agents actually on duty — the shortage, and the
//! stretches inside service hours with nobody on duty at all ("service not provided").
//!
//! Forecast: for a day to plan, the same weekday of the most recent weeks of the same kind
//! (a working day is forecast from working days, a rest day or holiday from rest days and
//! holidays, per the holiday calendar), weighted towards recent weeks (the last week counts
//! `weeks`, the one before `weeks − 1`, …). When no such weekday is in the history, every
//! past day of the same kind is used with the same recency weights.

use jiff::civil::{Date, Weekday};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// What one staffing interval of one past day saw on the phone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotHistory {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// Talk time of answered calls with one, in ms, and how many had one.
    pub talk_ms: u64,
    pub talk_count: u64,
    /// Waits of every call that left the queue (answered or abandoned), in ms.
    pub wait_ms: u64,
}

/// One past day: its date, whether it was a working day, and its intervals from midnight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayHistory {
    pub date: Date,
    pub working: bool,
    pub slots: Vec<SlotHistory>,
}

/// The forecast of one interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SlotForecast {
    /// Expected offered contacts.
    pub contacts: f64,
    /// Expected handling (talk) time per answered contact, seconds; `None` when the history
    /// has no talk time for this interval.
    pub aht_seconds: Option<f64>,
}

/// Forecasts the intervals of `day` (`slots` of them) from `history`, using up to `weeks`
/// past weeks of the same weekday and day kind.
pub fn forecast_day(
    history: &[DayHistory],
    day: Date,
    working: bool,
    slots: usize,
    weeks: usize,
) -> Vec<SlotForecast> {
    let weeks = weeks.max(1);
    let same_kind = |d: &&DayHistory| d.working == working && d.date < day;
    let mut chosen: Vec<(&DayHistory, f64)> = history
        .iter()
        .filter(same_kind)
        .filter(|d| d.date.weekday() == day.weekday())
        .filter_map(|d| {
            let ago = weeks_between(d.date, day)?;
            (ago >= 1 && ago <= weeks as i64).then(|| (d, (weeks as i64 - ago + 1) as f64))
        })
        .collect();
    if chosen.is_empty() {
        chosen = history
            .iter()
            .filter(same_kind)
            .filter_map(|d| {
                let ago = weeks_between(d.date, day)?.max(1);
                (ago <= weeks as i64).then(|| (d, (weeks as i64 - ago + 1) as f64))
            })
            .collect();
    }
    (0..slots)
        .map(|i| {
            let (mut w_sum, mut contacts, mut talk_ms, mut talk_n) = (0.0, 0.0, 0.0, 0.0);
            for (d, w) in &chosen {
                let s = d.slots.get(i).copied().unwrap_or_default();
                w_sum += w;
                contacts += w * s.offered as f64;
                talk_ms += w * s.talk_ms as f64;
                talk_n += w * s.talk_count as f64;
            }
            SlotForecast {
                contacts: if w_sum > 0.0 { contacts / w_sum } else { 0.0 },
                aht_seconds: (talk_n > 0.0).then(|| talk_ms / talk_n / 1000.0),
            }
        })
        .collect()
}

/// Whole weeks from `past` to `day` (rounded up), `None` when `past` is not before `day`.
fn weeks_between(past: Date, day: Date) -> Option<i64> {
    let days = i64::from(past.until(day).ok()?.get_days());
    (days > 0).then_some((days + 6) / 7)
}

/// Mean patience in seconds estimated from the history: the time callers spent waiting ÷
/// the callers who gave up (the maximum-likelihood estimate of exponential patience, i.e.
/// abandonment rate ÷ mean wait). `None` without an abandoned call.
pub fn patience_seconds(history: &[DayHistory]) -> Option<f64> {
    let (mut wait_ms, mut abandoned) = (0u64, 0u64);
    for s in history.iter().flat_map(|d| d.slots.iter()) {
        wait_ms = wait_ms.saturating_add(s.wait_ms);
        abandoned = abandoned.saturating_add(s.abandoned);
    }
    (abandoned > 0 && wait_ms > 0).then(|| wait_ms as f64 / abandoned as f64 / 1000.0)
}

/// Handling time over the whole history, seconds: the fallback for an interval without one.
pub fn mean_aht_seconds(history: &[DayHistory]) -> Option<f64> {
    let (mut ms, mut n) = (0u64, 0u64);
    for s in history.iter().flat_map(|d| d.slots.iter()) {
        ms = ms.saturating_add(s.talk_ms);
        n = n.saturating_add(s.talk_count);
    }
    (n > 0).then(|| ms as f64 / n as f64 / 1000.0)
}

/// Average number of people on duty in `[from, to)`, given duty stretches (open ones end at
/// `now`).
pub fn average_on_duty(duty: &[(Timestamp, Timestamp)], from: Timestamp, to: Timestamp) -> f64 {
    let span = to.duration_since(from).as_secs_f64();
    if span <= 0.0 {
        return 0.0;
    }
    let covered: f64 = duty
        .iter()
        .map(|&(a, b)| {
            let (a, b) = (a.max(from), b.min(to));
            if b > a {
                b.duration_since(a).as_secs_f64()
            } else {
                0.0
            }
        })
        .sum();
    covered / span
}

/// The stretches of `open` (service hours, sorted, not overlapping) that no duty stretch
/// covers and that last at least `at_least`: service not provided.
pub fn uncovered(
    open: &[(Timestamp, Timestamp)],
    duty: &[(Timestamp, Timestamp)],
    at_least: SignedDuration,
) -> Vec<(Timestamp, Timestamp)> {
    let mut cover: Vec<(Timestamp, Timestamp)> =
        duty.iter().copied().filter(|(a, b)| b > a).collect();
    cover.sort();
    // Union of the duty stretches.
    let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(cover.len());
    for (a, b) in cover {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut out = Vec::new();
    for &(start, end) in open {
        let mut cursor = start;
        for &(a, b) in merged.iter().filter(|(a, b)| *b > start && *a < end) {
            if a > cursor {
                out.push((cursor, a.min(end)));
            }
            cursor = cursor.max(b);
            if cursor >= end {
                break;
            }
        }
        if cursor < end {
            out.push((cursor, end));
        }
    }
    out.retain(|(a, b)| b.duration_since(*a) >= at_least);
    out
}

/// An agent's state change as a PBX logs it (queue_log AGENTLOGIN, PAUSE, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentState {
    Login,
    Logoff,
    Pause,
    Unpause,
}

/// Stretches during which each agent was logged in and not paused, from their events in time
/// order (`agent`, instant, change); a stretch still open at `until` ends there. Pauses of
/// one queue only are not passed in: the agent still takes the other queues' calls.
pub fn available_stretches<'a>(
    events: impl IntoIterator<Item = (&'a str, Timestamp, AgentState)>,
    until: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    use std::collections::HashMap;
    // Per agent: logged in since, and paused or not.
    let mut state: HashMap<&str, (Option<Timestamp>, bool)> = HashMap::new();
    let mut out = Vec::new();
    for (agent, at, change) in events {
        let (since, paused) = state.entry(agent).or_insert((None, false));
        let was_available = since.is_some() && !*paused;
        match change {
            AgentState::Login => {
                if since.is_none() {
                    *since = Some(at);
                    *paused = false;
                    continue;
                }
            }
            AgentState::Logoff => {
                if let (Some(s), false) = (*since, *paused) {
                    out.push((s, at));
                }
                *since = None;
                *paused = false;
                continue;
            }
            AgentState::Pause => {
                if was_available && let Some(s) = *since {
                    out.push((s, at));
                }
                *paused = true;
            }
            AgentState::Unpause => {
                if since.is_some() && *paused {
                    *since = Some(at);
                }
                *paused = false;
            }
        }
    }
    for (since, paused) in state.into_values() {
        if let (Some(s), false) = (since, paused)
            && s < until
        {
            out.push((s, until));
        }
    }
    out.sort();
    out
}

/// The weekday a plan row is labelled with.
pub fn weekday_label(d: Weekday, zh: bool) -> &'static str {
    let i = d.to_monday_zero_offset() as usize;
    if zh {
        ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][i]
    } else {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn day(d: Date, working: bool, per_slot: u64) -> DayHistory {
        DayHistory {
            date: d,
            working,
            slots: vec![
                SlotHistory {
                    offered: per_slot,
                    answered: per_slot,
                    talk_ms: per_slot * 120_000,
                    talk_count: per_slot,
                    ..SlotHistory::default()
                };
                2
            ],
        }
    }

    #[test]
    fn the_forecast_weights_recent_weeks_of_the_same_weekday_more() {
        // Mondays 2026-11-02, 09, 16, 23 with 10, 20, 30, 40 calls per interval; the plan is
        // for Monday 2026-11-30: weights 1, 2, 3, 4 → (10 + 40 + 90 + 160) / 10 = 30.
        let h: Vec<DayHistory> = [(2, 10), (9, 20), (16, 30), (23, 40)]
            .into_iter()
            .map(|(d, n)| day(date(2026, 11, d), true, n))
            .chain([day(date(2026, 11, 24), true, 999)]) // a Tuesday: not used
            .collect();
        let f = forecast_day(&h, date(2026, 11, 30), true, 2, 4);
        assert_eq!(f.len(), 2);
        assert!((f[0].contacts - 30.0).abs() < 1e-9, "{f:?}");
        assert_eq!(f[0].aht_seconds, Some(120.0));
    }

    #[test]
    fn a_holiday_is_forecast_from_rest_days_not_from_working_days() {
        let h = vec![
            day(date(2026, 9, 28), true, 50), // Monday, working
            day(date(2026, 9, 27), false, 8), // Sunday, rest
            day(date(2026, 9, 26), false, 6), // Saturday, rest
        ];
        // Monday 2026-10-05 is a National Day holiday (a rest day).
        let f = forecast_day(&h, date(2026, 10, 5), false, 2, 4);
        assert!(f[0].contacts > 5.0 && f[0].contacts < 9.0, "{f:?}");
    }

    #[test]
    fn patience_is_waiting_time_over_abandons() {
        let h = vec![DayHistory {
            date: date(2026, 11, 2),
            working: true,
            slots: vec![SlotHistory {
                offered: 100,
                answered: 90,
                abandoned: 10,
                wait_ms: 600_000,
                ..SlotHistory::default()
            }],
        }];
        assert_eq!(patience_seconds(&h), Some(60.0));
        assert_eq!(patience_seconds(&[]), None);
    }

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("test instant")
    }

    #[test]
    fn uncovered_finds_the_gaps_in_service_hours_longer_than_the_grace() {
        let open = [(ts(0), ts(3600))];
        let duty = [(ts(0), ts(600)), (ts(500), ts(1200)), (ts(1260), ts(2000))];
        // Gaps: 1200–1260 (60 s, under the 5-minute grace) and 2000–3600 (1600 s).
        let gaps = uncovered(&open, &duty, SignedDuration::from_mins(5));
        assert_eq!(gaps, vec![(ts(2000), ts(3600))]);
        let all = uncovered(&open, &duty, SignedDuration::ZERO);
        assert_eq!(all, vec![(ts(1200), ts(1260)), (ts(2000), ts(3600))]);
        assert!(uncovered(&open, &[(ts(-10), ts(4000))], SignedDuration::ZERO).is_empty());
        assert_eq!(
            uncovered(&open, &[], SignedDuration::ZERO),
            vec![(ts(0), ts(3600))]
        );
    }

    #[test]
    fn on_duty_is_averaged_over_the_interval() {
        let duty = [(ts(0), ts(900)), (ts(0), ts(1800)), (ts(1700), ts(5000))];
        let avg = average_on_duty(&duty, ts(0), ts(1800));
        assert!((avg - (900.0 + 1800.0 + 100.0) / 1800.0).abs() < 1e-9);
    }

    #[test]
    fn pbx_events_give_the_stretches_an_agent_was_available() {
        use AgentState::*;
        let events = [
            ("A1", ts(0), Login),
            ("A2", ts(100), Login),
            ("A1", ts(600), Pause),
            ("A1", ts(900), Unpause),
            ("A2", ts(1000), Logoff),
            ("A1", ts(1500), Logoff),
            ("A3", ts(2000), Login),
        ];
        let got = available_stretches(events, ts(3000));
        assert_eq!(
            got,
            vec![
                (ts(0), ts(600)),
                (ts(100), ts(1000)),
                (ts(900), ts(1500)),
                (ts(2000), ts(3000)),
            ]
        );
    }

    proptest! {
        /// Covered time plus uncovered time is exactly the open time.
        #[test]
        fn uncovered_and_covered_time_add_up_to_the_open_time(
            stretches in proptest::collection::vec((0i64..7200, 0i64..3600), 0..12)
        ) {
            let open = [(ts(600), ts(6000))];
            let duty: Vec<_> = stretches.iter().map(|&(a, len)| (ts(a), ts(a + len))).collect();
            let gaps = uncovered(&open, &duty, SignedDuration::ZERO);
            let gap_secs: i64 = gaps.iter().map(|(a, b)| b.as_second() - a.as_second()).sum();
            // Covered = open time minus gaps, measured independently second by second.
            let covered = (600..6000).filter(|s| duty.iter().any(|(a, b)| a.as_second() <= 1_800_000_000 + s && 1_800_000_000 + s < b.as_second())).count() as i64;
            prop_assert_eq!(gap_secs + covered, 5400);
        }
    }
}
