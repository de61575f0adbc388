//! A deterministic generator of a month of phone traffic for one contract: a
//! discrete-event simulation of agent queues with abandonment (M/M/c+M-like,
//! with ringing, breaks and shifts), written as an Asterisk `queue_log`, an
//! Asterisk CDR `Master.csv` or Amazon Connect CTR JSON lines, for tests,
//! benchmarks and demos. This module owns the traffic model and the three
//! writers; the readers in the sibling modules must read the output back to
//! exactly the calls the simulation produced ([`Generator::run_with_calls`]).
//!
//! # Model
//! - Arrivals: a non-homogeneous Poisson process, piecewise constant per
//!   minute: a day shape (quiet at night, peaks around 10:00 and 15:00, a
//!   lunch dip, lower evenings) × a day weight (weekday, weekend, PRC
//!   statutory holiday or rest day from [`HolidayCalendar`]) × a random day
//!   factor, plus on some days an "incident" (a network fault: 1–3 h at up to
//!   twice the volume). Only inside the service hours when a
//!   [`ServiceCalendar`] is given. Scaled so the month's expected total is
//!   [`GenerateOptions::calls`].
//! - Staffing: planned per 30 minutes on the *forecast* (no day noise, no
//!   incidents) by square-root staffing, N = A + β√A with A the offered load
//!   in Erlangs, inflated for breaks; covered greedily by shifts; a share of
//!   shifts is lost to absence. So service is mostly good, with misses on busy
//!   days, during incidents and where absence bites.
//! - Agents: shifts with AGENTLOGIN/AGENTLOGOFF, two short breaks and a lunch
//!   (PAUSE/UNPAUSE, taken after the current call), the longest-idle agent
//!   gets the next call (`leastrecent`), a share of rings go unanswered
//!   (RINGNOANSWER after the ring timeout), wrap-up after each call.
//! - Callers: exponential patience (ABANDON), a queue timeout
//!   (EXITWITHTIMEOUT), lognormal talk times, a few transfers; random
//!   plausible mobile numbers (not real people), some callers calling again.
//!
//! Instants are whole seconds, so every format holds them exactly.
//!
//! # Memory and order
//! Only calls in progress, agents and pending events are held (a binary heap
//! ordered by time, then by scheduling order); lines are written as events
//! happen, so the `queue_log` is in time order. CDRs and CTRs are written when
//! a call ends, as the PBX does.
//!
//! # Determinism
//! The same options and seed give byte-identical output on the same platform
//! (the talk-time and patience draws use the platform's `ln`/`cos`). The
//! simulation draws from its own random stream, so the three formats describe
//! the same calls.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::io::{self, Write};
use std::str::FromStr;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kefu_core::calendar::{CalendarError, DayType, HolidayCalendar, ServiceCalendar};
use kefu_core::contract::{ChannelKind, Contract};
use kefu_core::phone::{CallOutcome, CallRecord};
use serde::Serialize;

/// The file format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Asterisk `/var/log/asterisk/queue_log` (pipe-delimited, epoch seconds).
    QueueLog,
    /// Asterisk `cdr_csv` `Master.csv`, 18 columns (with uniqueid and userfield), local times.
    Cdr,
    /// Amazon Connect contact trace records, one JSON object per line.
    Connect,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::QueueLog, Format::Cdr, Format::Connect];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::QueueLog => "queue_log",
            Format::Cdr => "cdr",
            Format::Connect => "connect",
        }
    }
}

impl FromStr for Format {
    type Err = GenerateError;
    fn from_str(s: &str) -> Result<Format, GenerateError> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| GenerateError::Invalid {
                option: "format",
                reason: format!("{s:?} is not a format; expected queue_log, cdr or connect"),
            })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("invalid {option}: {reason}")]
    Invalid {
        option: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// What to generate. Durations are means unless said otherwise.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub year: i16,
    /// 1–12.
    pub month: i8,
    /// The expected number of offered calls in the month (the realised count
    /// differs by Poisson noise, well under 1% for large counts).
    pub calls: u64,
    /// Queue names; calls are spread over them with weights 1, 1/2, 1/3, …
    pub queues: Vec<String>,
    /// The most agents on the roster; `None` hires as many as the shifts need.
    /// Fewer than needed leaves shifts unfilled (and service short).
    pub agents: Option<u32>,
    pub seed: u64,
    pub time_zone: TimeZone,
    pub holidays: HolidayCalendar,
    /// Calls arrive only while this calendar is open; `None` is 24×7.
    pub service: Option<ServiceCalendar>,
    /// Mean of the callers' exponential patience.
    pub patience_mean: SignedDuration,
    /// Mean talk time (lognormal).
    pub talk_mean: SignedDuration,
    /// σ of the talk time's logarithm.
    pub talk_sigma: f64,
    /// Mean wrap-up after a call (exponential, at least 1 s).
    pub wrap_mean: SignedDuration,
    /// The queue sends a caller away after this long (EXITWITHTIMEOUT).
    pub queue_timeout: SignedDuration,
    /// An agent who does not pick up is rung this long (RINGNOANSWER).
    pub ring_timeout: SignedDuration,
    /// Share of rings the agent does not answer.
    pub no_answer_share: f64,
    /// Share of answered calls transferred out by the agent.
    pub transfer_share: f64,
    /// β of square-root staffing (N = A + β√A).
    pub staffing_beta: f64,
    /// Share of planned shifts lost to absence.
    pub absence_share: f64,
    /// Share of days with an incident (a burst of calls the forecast missed).
    pub incident_share: f64,
    /// Length of a shift (breaks included).
    pub shift_length: SignedDuration,
    /// Share of Connect contacts written a second time with a later
    /// `LastUpdateTimestamp`.
    pub duplicate_share: f64,
}

impl GenerateOptions {
    /// Defaults for one month in China Standard Time, 24×7, one queue `hotline`.
    pub fn new(year: i16, month: i8, calls: u64) -> GenerateOptions {
        GenerateOptions {
            year,
            month,
            calls,
            queues: vec!["hotline".to_owned()],
            agents: None,
            seed: 1,
            time_zone: TimeZone::get("Asia/Shanghai")
                .unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(8))),
            holidays: HolidayCalendar::builtin(),
            service: None,
            patience_mean: SignedDuration::from_secs(90),
            talk_mean: SignedDuration::from_secs(200),
            talk_sigma: 0.8,
            wrap_mean: SignedDuration::from_secs(10),
            queue_timeout: SignedDuration::from_secs(300),
            ring_timeout: SignedDuration::from_secs(15),
            no_answer_share: 0.02,
            transfer_share: 0.03,
            staffing_beta: 1.6,
            absence_share: 0.04,
            incident_share: 0.15,
            shift_length: SignedDuration::from_hours(8),
            duplicate_share: 0.005,
        }
    }

    /// Defaults for a contract: its time zone and its phone channel's service hours.
    pub fn for_contract(contract: &Contract, year: i16, month: i8, calls: u64) -> GenerateOptions {
        let mut o = GenerateOptions::new(year, month, calls);
        o.time_zone = contract.time_zone.clone();
        o.service =
            contract.service_calendar(ChannelKind::Phone, std::sync::Arc::new(o.holidays.clone()));
        o
    }
}

/// What a run wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GenerateSummary {
    pub lines: u64,
    pub bytes: u64,
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub timed_out: u64,
    pub transferred: u64,
    pub unanswered_rings: u64,
    /// Agents who worked at least one shift.
    pub agents: u32,
    pub shifts: u64,
    /// Planned shifts nobody worked (absence, or the roster cap).
    pub unfilled_shifts: u64,
    /// Connect only: contacts written twice.
    pub duplicates: u64,
    pub first_offered: Option<Timestamp>,
    pub last_offered: Option<Timestamp>,
}

/// A generator for one month; [`Generator::run`] may be called any number of
/// times and writes the same bytes each time.
pub struct Generator {
    opts: GenerateOptions,
    start: i64,
    end: i64,
    /// Arrivals per second, per minute of the month.
    rate: Vec<f64>,
    shifts: Vec<Shift>,
    roster: u32,
    unfilled: u64,
    queue_cum: Vec<f64>,
    patience: f64,
    talk_mu: f64,
    wrap: f64,
    timeout: i64,
    ring_timeout: i64,
}

#[derive(Clone, Copy, Debug)]
struct Shift {
    start: i64,
    end: i64,
    agent: u32,
    breaks: [(i64, i64, Pause); 3],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pause {
    Break,
    Lunch,
}

impl Pause {
    fn reason(self) -> &'static [u8] {
        match self {
            Pause::Break => b"break",
            Pause::Lunch => b"lunch",
        }
    }
}

/// Relative call volume by local hour (the value applies at the half hour).
const HOUR_SHAPE: [f64; 24] = [
    1.2, 0.7, 0.45, 0.35, 0.35, 0.5, 1.0, 2.4, 5.0, 7.6, 8.4, 7.6, 5.6, 6.4, 7.6, 8.0, 7.4, 6.2,
    5.0, 4.8, 4.6, 3.8, 2.8, 1.9,
];

fn day_weight(kind: DayType, weekday: Weekday) -> f64 {
    match kind {
        DayType::Workday | DayType::MakeupWorkday => match weekday {
            Weekday::Monday => 1.12,
            Weekday::Tuesday => 1.05,
            _ => 1.0,
        },
        DayType::Weekend => {
            if weekday == Weekday::Sunday {
                0.66
            } else {
                0.72
            }
        }
        DayType::SwappedRestDay => 0.68,
        DayType::StatutoryHoliday => 0.55,
    }
}

fn hour_shape(minute_of_day: f64) -> f64 {
    let x = minute_of_day / 60.0 - 0.5;
    let lo = x.floor();
    let frac = x - lo;
    let i = (lo as i64).rem_euclid(24) as usize;
    let a = HOUR_SHAPE.get(i).copied().unwrap_or(1.0);
    let b = HOUR_SHAPE.get((i + 1) % 24).copied().unwrap_or(1.0);
    a + (b - a) * frac
}

fn secs(d: SignedDuration) -> f64 {
    d.as_secs_f64()
}

fn invalid(option: &'static str, reason: impl Into<String>) -> GenerateError {
    GenerateError::Invalid {
        option,
        reason: reason.into(),
    }
}

const SLOT: i64 = 1800;
/// Share of a shift spent on breaks (15 + 30 + 15 min of 8 h).
const BREAK_SHRINK: f64 = 0.125;
const MIN_AGENTS: f64 = 2.0;

impl Generator {
    pub fn new(opts: GenerateOptions) -> Result<Generator, GenerateError> {
        let first = Date::new(opts.year, opts.month, 1)
            .map_err(|e| invalid("month", format!("{}-{}: {e}", opts.year, opts.month)))?;
        let next = first
            .last_of_month()
            .tomorrow()
            .map_err(|e| invalid("month", e.to_string()))?;
        if opts.queues.is_empty() || opts.queues.iter().any(|q| q.is_empty() || q.contains('|')) {
            return Err(invalid(
                "queues",
                "expected at least one queue name, without `|`",
            ));
        }
        for (name, v) in [
            ("no_answer_share", opts.no_answer_share),
            ("transfer_share", opts.transfer_share),
            ("absence_share", opts.absence_share),
            ("incident_share", opts.incident_share),
            ("duplicate_share", opts.duplicate_share),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(invalid(name, format!("{v} is not a share in [0, 1)")));
            }
        }
        for (name, d) in [
            ("patience_mean", opts.patience_mean),
            ("talk_mean", opts.talk_mean),
            ("wrap_mean", opts.wrap_mean),
            ("queue_timeout", opts.queue_timeout),
            ("ring_timeout", opts.ring_timeout),
        ] {
            if d < SignedDuration::from_secs(1) {
                return Err(invalid(name, format!("{d:#} is shorter than 1 s")));
            }
        }
        if opts.shift_length < SignedDuration::from_hours(2)
            || opts.shift_length > SignedDuration::from_hours(12)
        {
            return Err(invalid("shift_length", "expected 2 h to 12 h"));
        }
        if !(opts.talk_sigma.is_finite() && (0.0..=3.0).contains(&opts.talk_sigma)) {
            return Err(invalid("talk_sigma", "expected 0 to 3"));
        }
        if !(opts.staffing_beta.is_finite() && (0.0..=10.0).contains(&opts.staffing_beta)) {
            return Err(invalid("staffing_beta", "expected 0 to 10"));
        }
        let tz = &opts.time_zone;
        let ts = |d: Date| -> Result<i64, GenerateError> {
            tz.to_timestamp(d.at(0, 0, 0, 0))
                .map(Timestamp::as_second)
                .map_err(|e| invalid("time_zone", e.to_string()))
        };
        let (start, end) = (ts(first)?, ts(next)?);
        let minutes = usize::try_from((end - start) / 60).unwrap_or(0);
        let mut plan_rng = Rng::new(opts.seed, 1);

        // Per local day: weight, noise, incident window, open intervals.
        struct DayPlan {
            date: Date,
            weight: f64,
            noise: f64,
            incident: Option<(f64, f64, f64)>,
            open: Option<Vec<(i64, i64)>>,
        }
        let mut days: Vec<DayPlan> = Vec::new();
        let mut d = first;
        while d < next {
            let info = opts.holidays.day(d)?;
            let open = match &opts.service {
                None => None,
                Some(cal) => Some(
                    cal.open_intervals_on(d)?
                        .into_iter()
                        .map(|(a, b)| (a.as_second(), b.as_second()))
                        .collect(),
                ),
            };
            let noise = (0.07 * plan_rng.normal()).exp();
            let incident = (plan_rng.f64() < opts.incident_share).then(|| {
                let from = 480.0 + plan_rng.f64() * 720.0;
                let len = 60.0 + plan_rng.f64() * 120.0;
                let factor = 1.4 + plan_rng.f64() * 0.8;
                (from, from + len, factor)
            });
            days.push(DayPlan {
                date: d,
                weight: day_weight(info.kind, d.weekday()),
                noise,
                incident,
                open,
            });
            d = d.tomorrow().map_err(|e| invalid("month", e.to_string()))?;
        }

        let mut rate = vec![0.0; minutes];
        let mut forecast = vec![0.0; minutes];
        for (i, (r, f)) in rate.iter_mut().zip(forecast.iter_mut()).enumerate() {
            let at = start + 60 * i as i64;
            let Ok(t) = Timestamp::from_second(at) else {
                continue;
            };
            let local = tz.to_datetime(t);
            let idx = usize::try_from((local.date() - first).get_days()).unwrap_or(0);
            let Some(day) = days.get(idx) else { continue };
            if day.date != local.date() {
                continue;
            }
            if let Some(open) = &day.open
                && !open.iter().any(|&(a, b)| a <= at && at < b)
            {
                continue;
            }
            let mod_ = f64::from(local.hour()) * 60.0 + f64::from(local.minute());
            let base = day.weight * hour_shape(mod_ + 0.5);
            let burst = match day.incident {
                Some((a, b, k)) if a <= mod_ && mod_ < b => k,
                _ => 1.0,
            };
            *f = base;
            *r = base * day.noise * burst;
        }
        let total: f64 = rate.iter().sum::<f64>() * 60.0;
        let scale = if total > 0.0 {
            opts.calls as f64 / total
        } else {
            0.0
        };
        rate.iter_mut().for_each(|r| *r *= scale);
        forecast.iter_mut().for_each(|r| *r *= scale);

        // Staffing per slot from the forecast.
        let patience = secs(opts.patience_mean);
        let talk_mean = secs(opts.talk_mean);
        let wrap = secs(opts.wrap_mean);
        let handle = talk_mean + wrap + 2.0 + opts.no_answer_share * secs(opts.ring_timeout);
        let slots = minutes.div_ceil(30);
        let shift_slots = usize::try_from(opts.shift_length.as_secs() / SLOT).unwrap_or(16);
        let mut required = vec![0u32; slots];
        for (s, req) in required.iter_mut().enumerate() {
            let chunk = forecast
                .get(s * 30..((s + 1) * 30).min(minutes))
                .unwrap_or(&[]);
            if chunk.iter().all(|&r| r == 0.0) {
                continue;
            }
            let lambda = chunk.iter().sum::<f64>() / chunk.len().max(1) as f64;
            let a = lambda * handle;
            let n = (a + opts.staffing_beta * a.sqrt()).max(MIN_AGENTS) / (1.0 - BREAK_SHRINK);
            *req = n.ceil() as u32;
        }
        let mut coverage = vec![0u32; slots + shift_slots];
        let mut planned: Vec<i64> = Vec::new();
        for s in 0..slots {
            let have = coverage.get(s).copied().unwrap_or(0);
            let need = required.get(s).copied().unwrap_or(0);
            for _ in have..need {
                planned.push(start + s as i64 * SLOT);
            }
            if need > have {
                for c in coverage.iter_mut().skip(s).take(shift_slots) {
                    *c += need - have;
                }
            }
        }
        // Assign agents: the one rested longest, a new hire, or nobody.
        let shift_len = opts.shift_length.as_secs();
        let rest = 12 * 3600;
        let mut free: BTreeSet<(i64, u32)> = BTreeSet::new();
        let mut roster = 0u32;
        let mut unfilled = 0u64;
        let mut shifts = Vec::with_capacity(planned.len());
        let cap = opts.agents.unwrap_or(u32::MAX);
        for s in planned {
            if plan_rng.f64() < opts.absence_share {
                unfilled += 1;
                continue;
            }
            let agent = match free.first().copied() {
                Some((from, a)) if from <= s => {
                    free.remove(&(from, a));
                    a
                }
                _ if roster < cap => {
                    roster += 1;
                    roster - 1
                }
                _ => {
                    unfilled += 1;
                    continue;
                }
            };
            let e = s + shift_len;
            free.insert((e + rest, agent));
            let frac = |f: f64| (f * shift_len as f64) as i64;
            let jitter = |rng: &mut Rng, w: f64| frac(w * (rng.f64() - 0.5));
            let b1 = s + frac(0.25) + jitter(&mut plan_rng, 0.06);
            let l = s + frac(0.5) + jitter(&mut plan_rng, 0.12);
            let b2 = s + frac(0.75) + jitter(&mut plan_rng, 0.06);
            shifts.push(Shift {
                start: s,
                end: e,
                agent,
                breaks: [
                    (b1, 900, Pause::Break),
                    (l, 1800, Pause::Lunch),
                    (b2, 900, Pause::Break),
                ],
            });
        }

        let mut cum = 0.0;
        let weights: Vec<f64> = (1..=opts.queues.len()).map(|i| 1.0 / i as f64).collect();
        let wsum: f64 = weights.iter().sum();
        let queue_cum = weights
            .iter()
            .map(|w| {
                cum += w / wsum;
                cum
            })
            .collect();
        let talk_mu = talk_mean.ln() - opts.talk_sigma * opts.talk_sigma / 2.0;
        Ok(Generator {
            start,
            end,
            rate,
            shifts,
            roster,
            unfilled,
            queue_cum,
            patience,
            talk_mu,
            wrap,
            timeout: opts.queue_timeout.as_secs(),
            ring_timeout: opts.ring_timeout.as_secs(),
            opts,
        })
    }

    /// The month as instants: [first day 00:00 local, next month's first day 00:00 local).
    pub fn period(&self) -> (Timestamp, Timestamp) {
        (
            Timestamp::from_second(self.start).unwrap_or_default(),
            Timestamp::from_second(self.end).unwrap_or_default(),
        )
    }

    /// The agent names a format uses (queue_log and CDR: `SIP/8001`…; Connect: `agent8001`…).
    pub fn agent_name(format: Format, agent: u32) -> String {
        match format {
            Format::QueueLog | Format::Cdr => format!("SIP/{}", 8001 + u64::from(agent)),
            Format::Connect => format!("agent{}", 8001 + u64::from(agent)),
        }
    }

    /// Writes the month in `format`.
    pub fn run(&self, format: Format, out: &mut dyn Write) -> io::Result<GenerateSummary> {
        self.simulate(format, out, None)
    }

    /// Writes the month in `format` and hands over each call as that format's
    /// reader will yield it (the ground truth), in the order calls end.
    pub fn run_with_calls(
        &self,
        format: Format,
        out: &mut dyn Write,
        mut on_call: impl FnMut(&CallRecord),
    ) -> io::Result<GenerateSummary> {
        self.simulate(format, out, Some(&mut on_call))
    }

    fn simulate(
        &self,
        format: Format,
        out: &mut dyn Write,
        on_call: Option<&mut dyn FnMut(&CallRecord)>,
    ) -> io::Result<GenerateSummary> {
        let mut sim = Sim::new(self, format, out, on_call);
        sim.run()?;
        sim.out.flush_all()?;
        let mut summary = std::mem::take(&mut sim.summary);
        summary.lines = sim.out.lines;
        summary.bytes = sim.out.bytes;
        summary.unfilled_shifts = self.unfilled;
        summary.agents = sim.worked.len() as u32;
        Ok(summary)
    }

    fn queue_of(&self, u: f64) -> u16 {
        let i = self.queue_cum.iter().position(|&c| u < c).unwrap_or(0);
        u16::try_from(i).unwrap_or(0)
    }
}

// ---------------------------------------------------------------- randomness

/// xoshiro256** seeded through splitmix64: small, fast, reproducible.
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut x = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }

    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

// ---------------------------------------------------------------- the simulation

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    QueueStart,
    Arrival,
    /// The call's patience or the queue's timeout, whichever comes first.
    Leave {
        slot: u32,
        serial: u64,
    },
    RingEnd {
        agent: u32,
        token: u32,
    },
    Hangup {
        agent: u32,
        token: u32,
    },
    WrapEnd {
        agent: u32,
        token: u32,
    },
    BreakEnd {
        agent: u32,
        token: u32,
    },
    ShiftStart(u32),
    BreakStart {
        shift: u32,
        which: u8,
    },
    ShiftEnd {
        agent: u32,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Ev {
    t: i64,
    seq: u64,
    kind: Kind,
}

impl Ord for Ev {
    // Reversed: the earliest (then the first scheduled) on top of the max-heap.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.t, other.seq).cmp(&(self.t, self.seq))
    }
}
impl PartialOrd for Ev {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CallState {
    Free,
    Waiting,
    Ringing,
    Talking,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ending {
    CompleteCaller,
    CompleteAgent,
    Transfer(u8),
    Abandon,
    Timeout,
}

#[derive(Clone, Copy, Debug)]
struct Call {
    serial: u64,
    state: CallState,
    queue: u16,
    caller: u64,
    uid_n: u64,
    offered: i64,
    patience_at: i64,
    timeout_at: i64,
    timed_out: bool,
    rings: u32,
    origpos: u32,
    agent: u32,
    ring_start: i64,
    agent_uid: (i64, u64),
    answered: i64,
    ringtime: i64,
    talk: i64,
    wrap: i64,
    ending: Ending,
    ended: i64,
    pos: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum AgentState {
    Off,
    Idle,
    Ringing,
    Busy,
    Wrap,
    Paused,
}

#[derive(Clone, Copy, Debug)]
struct Agent {
    state: AgentState,
    token: u32,
    call: u32,
    idle_since: i64,
    shift_end: i64,
    login_at: i64,
    login_chan: u64,
    pending_break: Option<(i64, Pause)>,
    pause: Pause,
    ring_answers: bool,
}

struct Sim<'g, 'w, 'c> {
    g: &'g Generator,
    format: Format,
    rng: Rng,
    fmt_rng: Rng,
    heap: BinaryHeap<Ev>,
    seq: u64,
    calls: Vec<Call>,
    free: Vec<u32>,
    agents: Vec<Agent>,
    worked: BTreeSet<u32>,
    idle: BTreeSet<(i64, u32)>,
    waiting: BTreeMap<u64, u32>,
    in_queue: Vec<BTreeSet<u64>>,
    uid: u64,
    serial: u64,
    /// Arrival process position: minute index and seconds since the month start.
    arr_minute: usize,
    arr_t: f64,
    recent_callers: Vec<u64>,
    dups: BinaryHeap<std::cmp::Reverse<(i64, u64, DupCall)>>,
    out: Out<'w>,
    summary: GenerateSummary,
    on_call: Option<&'c mut dyn FnMut(&CallRecord)>,
    tz_cache: (i64, i32),
}

#[derive(Clone, Copy, Debug)]
struct DupCall {
    call: Call,
    uuid: u128,
    initiated: i64,
    last_update: i64,
}

impl PartialEq for DupCall {
    fn eq(&self, o: &Self) -> bool {
        self.uuid == o.uuid
    }
}
impl Eq for DupCall {}
impl PartialOrd for DupCall {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for DupCall {
    fn cmp(&self, o: &Self) -> Ordering {
        self.uuid.cmp(&o.uuid)
    }
}

const CALLER_PREFIXES: [u64; 40] = [
    130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 145, 147, 150, 151, 152, 153, 155, 156, 157,
    158, 159, 166, 173, 175, 176, 177, 178, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 191,
    198, 199,
];

const TRANSFER_TARGETS: [(&str, &str, &str); 3] = [
    ("8600", "from-internal", "+862038886601"),
    ("8700", "from-internal", "+862038886602"),
    ("10000", "outbound", "+8610000"),
];

impl<'g, 'w, 'c> Sim<'g, 'w, 'c> {
    fn new(
        g: &'g Generator,
        format: Format,
        out: &'w mut dyn Write,
        on_call: Option<&'c mut dyn FnMut(&CallRecord)>,
    ) -> Self {
        let nq = g.opts.queues.len();
        let agent = Agent {
            state: AgentState::Off,
            token: 0,
            call: 0,
            idle_since: 0,
            shift_end: 0,
            login_at: 0,
            login_chan: 0,
            pending_break: None,
            pause: Pause::Break,
            ring_answers: true,
        };
        Sim {
            g,
            format,
            rng: Rng::new(g.opts.seed, 2),
            fmt_rng: Rng::new(g.opts.seed, 3),
            heap: BinaryHeap::new(),
            seq: 0,
            calls: Vec::new(),
            free: Vec::new(),
            agents: vec![agent; g.roster as usize],
            worked: BTreeSet::new(),
            idle: BTreeSet::new(),
            waiting: BTreeMap::new(),
            in_queue: vec![BTreeSet::new(); nq],
            uid: 0,
            serial: 0,
            arr_minute: 0,
            arr_t: 0.0,
            recent_callers: Vec::new(),
            dups: BinaryHeap::new(),
            out: Out {
                w: out,
                buf: Vec::with_capacity(1 << 17),
                lines: 0,
                bytes: 0,
            },
            summary: GenerateSummary::default(),
            on_call,
            tz_cache: (i64::MIN, 0),
        }
    }

    fn push(&mut self, t: i64, kind: Kind) {
        self.seq += 1;
        self.heap.push(Ev {
            t,
            seq: self.seq,
            kind,
        });
    }

    fn run(&mut self) -> io::Result<()> {
        let g = self.g;
        self.push(g.start, Kind::QueueStart);
        if !g.shifts.is_empty() {
            let s = g.shifts.first().map_or(g.start, |s| s.start);
            self.push(s, Kind::ShiftStart(0));
        }
        if let Some(t) = self.next_arrival() {
            self.push(t, Kind::Arrival);
        }
        while let Some(ev) = self.heap.pop() {
            let t = ev.t;
            match ev.kind {
                Kind::QueueStart => {
                    if self.format == Format::QueueLog {
                        self.ql_head(t, None, None, None, b"QUEUESTART");
                        self.out.end_line();
                    }
                }
                Kind::Arrival => {
                    self.arrival(t);
                    if let Some(next) = self.next_arrival() {
                        self.push(next, Kind::Arrival);
                    }
                }
                Kind::Leave { slot, serial } => self.leave(t, slot, serial),
                Kind::RingEnd { agent, token } => self.ring_end(t, agent, token),
                Kind::Hangup { agent, token } => self.hangup(t, agent, token),
                Kind::WrapEnd { agent, token } => {
                    if self.agent(agent).token == token
                        && self.agent(agent).state == AgentState::Wrap
                    {
                        self.agent_free(t, agent);
                        self.dispatch(t);
                    }
                }
                Kind::BreakEnd { agent, token } => {
                    if self.agent(agent).token == token
                        && self.agent(agent).state == AgentState::Paused
                    {
                        let reason = self.agent(agent).pause.reason();
                        self.agent_line(t, agent, b"UNPAUSE", reason, None);
                        self.agent_free(t, agent);
                        self.dispatch(t);
                    }
                }
                Kind::ShiftStart(i) => self.shift_start(t, i),
                Kind::BreakStart { shift, which } => self.break_start(t, shift, which),
                Kind::ShiftEnd { agent } => {
                    let st = self.agent(agent).state;
                    if matches!(st, AgentState::Idle | AgentState::Paused)
                        && self.agent(agent).shift_end <= t
                    {
                        self.logoff(t, agent);
                    }
                }
            }
            self.flush_dups(t)?;
            self.out.maybe_flush()?;
        }
        self.flush_dups(i64::MAX)?;
        Ok(())
    }

    fn agent(&self, a: u32) -> Agent {
        self.agents.get(a as usize).copied().unwrap_or(Agent {
            state: AgentState::Off,
            token: u32::MAX,
            call: 0,
            idle_since: 0,
            shift_end: 0,
            login_at: 0,
            login_chan: 0,
            pending_break: None,
            pause: Pause::Break,
            ring_answers: true,
        })
    }

    fn agent_mut(&mut self, a: u32) -> &mut Agent {
        let i = (a as usize).min(self.agents.len().saturating_sub(1));
        // `a` always indexes the roster; the clamp only keeps this panic-free.
        &mut self.agents[i]
    }

    fn call_mut(&mut self, slot: u32) -> &mut Call {
        let i = (slot as usize).min(self.calls.len().saturating_sub(1));
        &mut self.calls[i]
    }

    fn call(&self, slot: u32) -> Call {
        self.calls.get(slot as usize).copied().unwrap_or(Call {
            state: CallState::Free,
            ..BLANK_CALL
        })
    }

    /// The next arrival instant (whole seconds), or `None` after the month.
    fn next_arrival(&mut self) -> Option<i64> {
        let mut e = self.rng.exp(1.0);
        loop {
            let r = *self.g.rate.get(self.arr_minute)?;
            let minute_end = (self.arr_minute as f64 + 1.0) * 60.0;
            let room = minute_end - self.arr_t;
            if r * room > e {
                self.arr_t += e / r;
                let t = self.g.start + self.arr_t.floor() as i64;
                return (t < self.g.end).then_some(t);
            }
            e -= r * room;
            self.arr_t = minute_end;
            self.arr_minute += 1;
        }
    }

    fn new_uid(&mut self) -> u64 {
        self.uid += 1;
        self.uid
    }

    fn arrival(&mut self, t: i64) {
        let g = self.g;
        let u = self.rng.f64();
        let queue = g.queue_of(u);
        let caller = if !self.recent_callers.is_empty() && self.rng.f64() < 0.08 {
            let i = self.rng.below(self.recent_callers.len() as u64) as usize;
            self.recent_callers
                .get(i)
                .copied()
                .unwrap_or(13_800_138_000)
        } else {
            let p = CALLER_PREFIXES
                .get(self.rng.below(CALLER_PREFIXES.len() as u64) as usize)
                .copied()
                .unwrap_or(138);
            p * 100_000_000 + self.rng.below(100_000_000)
        };
        let patience = self.rng.exp(g.patience).ceil() as i64;
        self.serial += 1;
        let serial = self.serial;
        let uid_n = self.new_uid();
        let qset = self
            .in_queue
            .get_mut(usize::from(queue))
            .map(|s| {
                let n = s.len();
                s.insert(serial);
                n
            })
            .unwrap_or(0);
        let call = Call {
            serial,
            state: CallState::Waiting,
            queue,
            caller,
            uid_n,
            offered: t,
            patience_at: t + patience,
            timeout_at: t + g.timeout,
            origpos: u32::try_from(qset + 1).unwrap_or(u32::MAX),
            ..BLANK_CALL
        };
        let slot = match self.free.pop() {
            Some(s) => {
                *self.call_mut(s) = call;
                s
            }
            None => {
                self.calls.push(call);
                u32::try_from(self.calls.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.summary.offered += 1;
        let ts = Timestamp::from_second(t).ok();
        self.summary.first_offered = self.summary.first_offered.or(ts);
        self.summary.last_offered = ts;
        if self.format == Format::QueueLog {
            self.ql_head(t, Some(&call), Some(queue), None, b"ENTERQUEUE");
            self.out.buf.extend_from_slice(b"||");
            put_u64(&mut self.out.buf, caller);
            self.out.buf.push(b'|');
            put_u64(&mut self.out.buf, u64::from(call.origpos));
            self.out.end_line();
        }
        self.push(
            call.patience_at.min(call.timeout_at),
            Kind::Leave { slot, serial },
        );
        self.waiting.insert(serial, slot);
        self.dispatch(t);
    }

    /// Rings the longest-idle agent for the longest-waiting call, while both exist.
    fn dispatch(&mut self, t: i64) {
        while let (Some(&(since, agent)), Some((&serial, &slot))) =
            (self.idle.first(), self.waiting.first_key_value())
        {
            self.idle.remove(&(since, agent));
            self.waiting.remove(&serial);
            let answers = self.rng.f64() >= self.g.opts.no_answer_share;
            let ring = if answers {
                1 + self.rng.below(3) as i64
            } else {
                self.g.ring_timeout
            };
            let uid = self.new_uid();
            let a = self.agent_mut(agent);
            a.state = AgentState::Ringing;
            a.token = a.token.wrapping_add(1);
            a.call = slot;
            a.ring_answers = answers;
            let token = a.token;
            let c = self.call_mut(slot);
            c.state = CallState::Ringing;
            c.agent = agent;
            c.ring_start = t;
            c.agent_uid = (t, uid);
            self.push(t + ring, Kind::RingEnd { agent, token });
        }
    }

    fn ring_end(&mut self, t: i64, agent: u32, token: u32) {
        let a = self.agent(agent);
        if a.token != token || a.state != AgentState::Ringing {
            return;
        }
        let slot = a.call;
        let call = self.call(slot);
        if a.ring_answers {
            let talk = (self.g.talk_mu + self.g.opts.talk_sigma * self.rng.normal())
                .exp()
                .clamp(5.0, 3.0 * 3600.0)
                .round() as i64;
            let ending = if self.rng.f64() < self.g.opts.transfer_share {
                Ending::Transfer(self.rng.below(TRANSFER_TARGETS.len() as u64) as u8)
            } else if self.rng.f64() < 0.35 {
                Ending::CompleteAgent
            } else {
                Ending::CompleteCaller
            };
            let wrap = self.rng.exp(self.g.wrap).ceil().max(1.0) as i64;
            let q = usize::from(call.queue);
            if let Some(s) = self.in_queue.get_mut(q) {
                s.remove(&call.serial);
            }
            let c = self.call_mut(slot);
            c.state = CallState::Talking;
            c.answered = t;
            c.ringtime = t - c.ring_start;
            c.talk = talk;
            c.wrap = wrap;
            c.ending = ending;
            let c = *c;
            let ag = self.agent_mut(agent);
            ag.state = AgentState::Busy;
            ag.token = ag.token.wrapping_add(1);
            let token = ag.token;
            self.summary.answered += 1;
            if self.format == Format::QueueLog {
                self.ql_head(t, Some(&c), Some(c.queue), Some(agent), b"CONNECT");
                let b = &mut self.out.buf;
                b.push(b'|');
                put_u64(b, (t - c.offered) as u64);
                b.push(b'|');
                put_uid(b, c.agent_uid.0, c.agent_uid.1);
                b.push(b'|');
                put_u64(b, c.ringtime as u64);
                self.out.end_line();
            }
            self.push(t + talk, Kind::Hangup { agent, token });
        } else {
            self.summary.unanswered_rings += 1;
            let c = self.call_mut(slot);
            c.rings += 1;
            let c = *c;
            if self.format == Format::QueueLog {
                self.ql_head(t, Some(&c), Some(c.queue), Some(agent), b"RINGNOANSWER");
                self.out.buf.push(b'|');
                put_u64(&mut self.out.buf, (t - c.ring_start) as u64 * 1000);
                self.out.end_line();
            }
            // Asterisk's `retry`: the agent is offered calls again a few seconds later.
            let ag = self.agent_mut(agent);
            ag.state = AgentState::Wrap;
            ag.token = ag.token.wrapping_add(1);
            let token = ag.token;
            self.push(t + 5, Kind::WrapEnd { agent, token });
            if c.timed_out {
                self.finish_unanswered(t, slot, Ending::Timeout);
            } else {
                self.call_mut(slot).state = CallState::Waiting;
                self.waiting.insert(c.serial, slot);
                self.dispatch(t);
            }
        }
    }

    fn hangup(&mut self, t: i64, agent: u32, token: u32) {
        let a = self.agent(agent);
        if a.token != token || a.state != AgentState::Busy {
            return;
        }
        let slot = a.call;
        let c = self.call_mut(slot);
        c.ended = t;
        let c = *c;
        if self.format == Format::QueueLog {
            let hold = (c.answered - c.offered) as u64;
            let talk = c.talk as u64;
            let b: &[u8] = match c.ending {
                Ending::Transfer(_) => b"TRANSFER",
                Ending::CompleteAgent => b"COMPLETEAGENT",
                _ => b"COMPLETECALLER",
            };
            self.ql_head(t, Some(&c), Some(c.queue), Some(agent), b);
            let b = &mut self.out.buf;
            if let Ending::Transfer(i) = c.ending {
                let (ext, ctx, _) = TRANSFER_TARGETS.get(usize::from(i)).copied().unwrap_or((
                    "8600",
                    "from-internal",
                    "",
                ));
                b.push(b'|');
                b.extend_from_slice(ext.as_bytes());
                b.push(b'|');
                b.extend_from_slice(ctx.as_bytes());
            }
            b.push(b'|');
            put_u64(b, hold);
            b.push(b'|');
            put_u64(b, talk);
            b.push(b'|');
            put_u64(b, u64::from(c.origpos));
            self.out.end_line();
        }
        if matches!(c.ending, Ending::Transfer(_)) {
            self.summary.transferred += 1;
        }
        self.finish(&c);
        self.release(slot);
        let ag = self.agent_mut(agent);
        ag.state = AgentState::Wrap;
        ag.token = ag.token.wrapping_add(1);
        let token = ag.token;
        self.push(t + c.wrap, Kind::WrapEnd { agent, token });
    }

    fn leave(&mut self, t: i64, slot: u32, serial: u64) {
        let c = self.call(slot);
        if c.serial != serial {
            return;
        }
        let abandon = t >= c.patience_at;
        match c.state {
            CallState::Waiting => {
                self.waiting.remove(&serial);
                let ending = if abandon {
                    Ending::Abandon
                } else {
                    Ending::Timeout
                };
                self.finish_unanswered(t, slot, ending);
            }
            CallState::Ringing if abandon => {
                let agent = c.agent;
                if self.format == Format::QueueLog {
                    self.ql_head(t, Some(&c), Some(c.queue), Some(agent), b"RINGCANCELED");
                    self.out.buf.push(b'|');
                    put_u64(&mut self.out.buf, (t - c.ring_start) as u64 * 1000);
                    self.out.end_line();
                }
                self.finish_unanswered(t, slot, Ending::Abandon);
                let ag = self.agent_mut(agent);
                ag.state = AgentState::Wrap;
                ag.token = ag.token.wrapping_add(1);
                self.agent_free(t, agent);
                self.dispatch(t);
            }
            CallState::Ringing => {
                // The queue timeout passed while an agent rings: Asterisk lets
                // the ring finish; the caller may still hang up meanwhile.
                self.call_mut(slot).timed_out = true;
                if c.patience_at > t {
                    self.push(c.patience_at, Kind::Leave { slot, serial });
                }
            }
            CallState::Talking | CallState::Free => {}
        }
    }

    fn finish_unanswered(&mut self, t: i64, slot: u32, ending: Ending) {
        let q = usize::from(self.call(slot).queue);
        let serial = self.call(slot).serial;
        let ahead = self
            .in_queue
            .get(q)
            .map_or(0, |s| s.range(..serial).count());
        if let Some(s) = self.in_queue.get_mut(q) {
            s.remove(&serial);
        }
        let c = self.call_mut(slot);
        c.ended = t;
        c.ending = ending;
        c.pos = u32::try_from(ahead + 1).unwrap_or(u32::MAX);
        let c = *c;
        match ending {
            Ending::Abandon => {
                self.summary.abandoned += 1;
                if self.recent_callers.len() < 256 {
                    self.recent_callers.push(c.caller);
                } else {
                    let i = (c.serial % 256) as usize;
                    if let Some(x) = self.recent_callers.get_mut(i) {
                        *x = c.caller;
                    }
                }
            }
            _ => self.summary.timed_out += 1,
        }
        if self.format == Format::QueueLog {
            let ev: &[u8] = if ending == Ending::Abandon {
                b"ABANDON"
            } else {
                b"EXITWITHTIMEOUT"
            };
            self.ql_head(t, Some(&c), Some(c.queue), None, ev);
            let b = &mut self.out.buf;
            b.push(b'|');
            put_u64(b, u64::from(c.pos));
            b.push(b'|');
            put_u64(b, u64::from(c.origpos));
            b.push(b'|');
            put_u64(b, (t - c.offered) as u64);
            self.out.end_line();
        }
        self.finish(&c);
        self.release(slot);
    }

    fn release(&mut self, slot: u32) {
        let c = self.call_mut(slot);
        c.state = CallState::Free;
        c.serial = 0;
        self.free.push(slot);
    }

    /// The agent is done with a call (or a ring, or a break): log off at the
    /// end of the shift, take a pending break, or wait for the next call.
    fn agent_free(&mut self, t: i64, agent: u32) {
        let a = self.agent(agent);
        if t >= a.shift_end {
            self.logoff(t, agent);
        } else if let Some((dur, why)) = a.pending_break {
            self.pause(t, agent, dur, why);
        } else {
            let a = self.agent_mut(agent);
            a.state = AgentState::Idle;
            a.idle_since = t;
            self.idle.insert((t, agent));
        }
    }

    fn pause(&mut self, t: i64, agent: u32, dur: i64, why: Pause) {
        let a = self.agent_mut(agent);
        a.state = AgentState::Paused;
        a.pending_break = None;
        a.pause = why;
        a.token = a.token.wrapping_add(1);
        let token = a.token;
        self.agent_line(t, agent, b"PAUSE", why.reason(), None);
        self.push(t + dur, Kind::BreakEnd { agent, token });
    }

    fn shift_start(&mut self, t: i64, i: u32) {
        let Some(s) = self.g.shifts.get(i as usize).copied() else {
            return;
        };
        if let Some(next) = self.g.shifts.get(i as usize + 1) {
            self.push(next.start, Kind::ShiftStart(i + 1));
        }
        let agent = s.agent;
        self.summary.shifts += 1;
        self.worked.insert(agent);
        self.push(s.end, Kind::ShiftEnd { agent });
        for which in 0..3u8 {
            if let Some(b) = s.breaks.get(usize::from(which)) {
                self.push(b.0, Kind::BreakStart { shift: i, which });
            }
        }
        let chan = self.new_uid();
        let a = self.agent_mut(agent);
        a.shift_end = s.end;
        if a.state != AgentState::Off {
            return;
        }
        a.login_at = t;
        a.login_chan = chan;
        a.pending_break = None;
        a.token = a.token.wrapping_add(1);
        self.agent_line(t, agent, b"AGENTLOGIN", b"", Some(chan));
        self.agent_free(t, agent);
        self.dispatch(t);
    }

    fn break_start(&mut self, t: i64, shift: u32, which: u8) {
        let Some(s) = self.g.shifts.get(shift as usize) else {
            return;
        };
        let Some(&(_, dur, why)) = s.breaks.get(usize::from(which)) else {
            return;
        };
        let agent = s.agent;
        let a = self.agent(agent);
        if t >= a.shift_end {
            return;
        }
        match a.state {
            AgentState::Idle => {
                self.idle.remove(&(a.idle_since, agent));
                self.pause(t, agent, dur, why);
            }
            AgentState::Ringing | AgentState::Busy | AgentState::Wrap => {
                self.agent_mut(agent).pending_break = Some((dur, why));
            }
            AgentState::Paused | AgentState::Off => {}
        }
    }

    fn logoff(&mut self, t: i64, agent: u32) {
        let a = self.agent(agent);
        if a.state == AgentState::Idle {
            self.idle.remove(&(a.idle_since, agent));
        }
        let m = self.agent_mut(agent);
        m.state = AgentState::Off;
        m.token = m.token.wrapping_add(1);
        m.pending_break = None;
        let chan = m.login_chan;
        let secs = (t - a.login_at).max(0) as u64;
        if self.format == Format::QueueLog {
            self.ql_head(t, None, None, Some(agent), b"AGENTLOGOFF");
            let b = &mut self.out.buf;
            b.push(b'|');
            put_channel(b, agent, chan);
            b.push(b'|');
            put_u64(b, secs);
            self.out.end_line();
        }
    }

    fn agent_line(&mut self, t: i64, agent: u32, event: &[u8], data: &[u8], chan: Option<u64>) {
        if self.format != Format::QueueLog {
            return;
        }
        self.ql_head(t, None, None, Some(agent), event);
        let b = &mut self.out.buf;
        b.push(b'|');
        match chan {
            Some(c) => put_channel(b, agent, c),
            None => b.extend_from_slice(data),
        }
        self.out.end_line();
    }

    /// `epoch|callid|queue|agent|EVENT` (NONE for what does not apply).
    fn ql_head(
        &mut self,
        t: i64,
        call: Option<&Call>,
        queue: Option<u16>,
        agent: Option<u32>,
        event: &[u8],
    ) {
        let g = self.g;
        let b = &mut self.out.buf;
        put_i64(b, t);
        b.push(b'|');
        match call {
            Some(c) => put_uid(b, c.offered, c.uid_n),
            None => b.extend_from_slice(b"NONE"),
        }
        b.push(b'|');
        match queue.and_then(|q| g.opts.queues.get(usize::from(q))) {
            Some(q) => b.extend_from_slice(q.as_bytes()),
            None => b.extend_from_slice(b"NONE"),
        }
        b.push(b'|');
        match agent {
            Some(a) => {
                b.extend_from_slice(b"SIP/");
                put_u64(b, 8001 + u64::from(a));
            }
            None => b.extend_from_slice(b"NONE"),
        }
        b.push(b'|');
        b.extend_from_slice(event);
    }

    /// A call ended: its CDR or CTR, and the ground truth.
    fn finish(&mut self, c: &Call) {
        let mut uuid = 0u128;
        if self.format == Format::Connect {
            uuid =
                (u128::from(self.fmt_rng.next_u64()) << 64) | u128::from(self.fmt_rng.next_u64());
            let initiated = c.offered - 5 - self.fmt_rng.below(30) as i64;
            let acw = if c.was_answered() { c.wrap } else { 0 };
            let last_update = c.ended + acw + 1 + self.fmt_rng.below(60) as i64;
            self.write_connect(c, uuid, initiated, last_update);
            if self.fmt_rng.f64() < self.g.opts.duplicate_share {
                let later = last_update + 60 + self.fmt_rng.below(3600) as i64;
                let due = c.ended + 1 + self.fmt_rng.below(600) as i64;
                self.summary.duplicates += 1;
                self.dups.push(std::cmp::Reverse((
                    due,
                    c.serial,
                    DupCall {
                        call: *c,
                        uuid,
                        initiated,
                        last_update: later,
                    },
                )));
            }
        } else if self.format == Format::Cdr {
            self.write_cdr(c);
        }
        if self.on_call.is_some() {
            let rec = self.record(c, uuid);
            if let Some(f) = self.on_call.as_mut() {
                f(&rec);
            }
        }
    }

    fn flush_dups(&mut self, now: i64) -> io::Result<()> {
        while let Some(std::cmp::Reverse((due, _, _))) = self.dups.peek() {
            if *due > now {
                break;
            }
            if let Some(std::cmp::Reverse((_, _, d))) = self.dups.pop() {
                self.write_connect(&d.call, d.uuid, d.initiated, d.last_update);
            }
        }
        Ok(())
    }

    /// The call as `self.format`'s reader yields it.
    fn record(&self, c: &Call, uuid: u128) -> CallRecord {
        let ts = |s: i64| Timestamp::from_second(s).unwrap_or_default();
        let answered = c.was_answered();
        let queue = self.g.opts.queues.get(usize::from(c.queue)).cloned();
        let mut rec = CallRecord {
            source_id: uid_string(c.offered, c.uid_n),
            queue,
            caller: Some(c.caller.to_string()),
            offered_at: ts(c.offered),
            answered_at: answered.then(|| ts(c.answered)),
            ended_at: Some(ts(c.ended)),
            outcome: match c.ending {
                Ending::Abandon => CallOutcome::Abandoned,
                Ending::Timeout => CallOutcome::TimedOut,
                _ => CallOutcome::Answered,
            },
            agent: answered.then(|| Generator::agent_name(self.format, c.agent)),
            talk: answered.then(|| SignedDuration::from_secs(c.talk)),
            unanswered_rings: 0,
            transferred_to: None,
        };
        let target = match c.ending {
            Ending::Transfer(i) => TRANSFER_TARGETS.get(usize::from(i)).copied(),
            _ => None,
        };
        match self.format {
            Format::QueueLog => {
                rec.unanswered_rings = c.rings;
                rec.transferred_to = target.map(|(e, ctx, _)| format!("{e}@{ctx}"));
            }
            Format::Cdr => {
                if rec.outcome == CallOutcome::TimedOut {
                    // A CDR cannot tell the queue's timeout from the caller hanging up.
                    rec.outcome = CallOutcome::Abandoned;
                }
            }
            Format::Connect => {
                rec.source_id = uuid_string(uuid);
                rec.caller = Some(format!("+86{}", c.caller));
                rec.transferred_to = target.map(|(_, _, addr)| addr.to_owned());
            }
        }
        rec
    }

    fn local_offset(&mut self, t: i64) -> i64 {
        let block = t.div_euclid(900);
        if self.tz_cache.0 != block {
            let off = Timestamp::from_second(t)
                .map(|ts| self.g.opts.time_zone.to_offset(ts).seconds())
                .unwrap_or(0);
            self.tz_cache = (block, off);
        }
        i64::from(self.tz_cache.1)
    }

    fn write_cdr(&mut self, c: &Call) {
        let g = self.g;
        let queue = g
            .opts
            .queues
            .get(usize::from(c.queue))
            .map_or("", String::as_str);
        let answered = c.was_answered();
        let (o_start, o_end) = (self.local_offset(c.offered), self.local_offset(c.ended));
        let o_ans = if answered {
            self.local_offset(c.answered)
        } else {
            o_start
        };
        let b = &mut self.out.buf;
        // accountcode, src, dst, dcontext, clid
        b.extend_from_slice(b"\"\",\"");
        put_u64(b, c.caller);
        b.extend_from_slice(b"\",\"");
        b.extend_from_slice(queue.as_bytes());
        b.extend_from_slice(b"\",\"from-pstn\",\"\"\"");
        put_u64(b, c.caller);
        b.extend_from_slice(b"\"\" <");
        put_u64(b, c.caller);
        // channel, dstchannel
        b.extend_from_slice(b">\",\"SIP/trunk-");
        put_hex8(b, c.uid_n);
        b.extend_from_slice(b"\",\"");
        if answered {
            b.extend_from_slice(b"SIP/");
            put_u64(b, 8001 + u64::from(c.agent));
            b.push(b'-');
            put_hex8(b, c.agent_uid.1);
        }
        // lastapp, lastdata
        b.extend_from_slice(b"\",\"Queue\",\"");
        b.extend_from_slice(queue.as_bytes());
        b.extend_from_slice(b",t,,,");
        put_i64(b, g.timeout);
        b.extend_from_slice(b"\",\"");
        // start, answer, end: Queue() answers the caller's channel itself, so an
        // unanswered call has answer = start and no dstchannel.
        put_local(b, c.offered + o_start, b' ');
        b.extend_from_slice(b"\",\"");
        put_local(
            b,
            if answered {
                c.answered + o_ans
            } else {
                c.offered + o_start
            },
            b' ',
        );
        b.extend_from_slice(b"\",\"");
        put_local(b, c.ended + o_end, b' ');
        b.extend_from_slice(b"\",");
        put_u64(b, (c.ended - c.offered) as u64);
        b.push(b',');
        let billsec = if answered {
            c.talk
        } else {
            c.ended - c.offered
        };
        put_u64(b, billsec as u64);
        b.extend_from_slice(b",\"ANSWERED\",\"DOCUMENTATION\",\"");
        put_uid(b, c.offered, c.uid_n);
        b.extend_from_slice(b"\",\"\"");
        self.out.end_line();
    }

    fn write_connect(&mut self, c: &Call, uuid: u128, initiated: i64, last_update: i64) {
        let g = self.g;
        let queue = g
            .opts
            .queues
            .get(usize::from(c.queue))
            .map_or("", String::as_str);
        let answered = c.was_answered();
        const INSTANCE: &[u8] =
            b"arn:aws:connect:ap-east-1:123456789012:instance/6f1c5d2e-6a43-4b8e-9d51-2c7a0e4b1f11";
        let b = &mut self.out.buf;
        b.extend_from_slice(
            b"{\"AWSAccountId\":\"123456789012\",\"AWSContactTraceRecordFormatVersion\":\"2017-03-10\",\"Agent\":",
        );
        if answered {
            let agent = 8001 + u64::from(c.agent);
            b.extend_from_slice(b"{\"ARN\":\"");
            b.extend_from_slice(INSTANCE);
            b.extend_from_slice(b"/agent/");
            put_u64(b, agent);
            b.extend_from_slice(b"\",\"AfterContactWorkDuration\":");
            put_i64(b, c.wrap);
            b.extend_from_slice(b",\"AfterContactWorkEndTimestamp\":\"");
            put_utc(b, c.ended + c.wrap);
            b.extend_from_slice(b"\",\"AfterContactWorkStartTimestamp\":\"");
            put_utc(b, c.ended);
            b.extend_from_slice(b"\",\"AgentInteractionDuration\":");
            put_i64(b, c.talk);
            b.extend_from_slice(b",\"ConnectedToAgentTimestamp\":\"");
            put_utc(b, c.answered);
            b.extend_from_slice(
                b"\",\"CustomerHoldDuration\":0,\"HierarchyGroups\":null,\"LongestHoldDuration\":0,\"NumberOfHolds\":0,\"RoutingProfile\":{\"ARN\":\"",
            );
            b.extend_from_slice(INSTANCE);
            b.extend_from_slice(
                b"/routing-profile/basic\",\"Name\":\"Basic Routing Profile\"},\"Username\":\"agent",
            );
            put_u64(b, agent);
            b.extend_from_slice(b"\"}");
        } else {
            b.extend_from_slice(b"null");
        }
        b.extend_from_slice(b",\"AgentConnectionAttempts\":");
        put_u64(b, u64::from(c.rings) + u64::from(answered));
        b.extend_from_slice(b",\"Attributes\":{},\"Channel\":\"VOICE\",\"ContactId\":\"");
        put_uuid(b, uuid);
        b.extend_from_slice(b"\",\"CustomerEndpoint\":{\"Address\":\"+86");
        put_u64(b, c.caller);
        b.extend_from_slice(b"\",\"Type\":\"TELEPHONE_NUMBER\"},\"DisconnectReason\":\"");
        b.extend_from_slice(match c.ending {
            Ending::CompleteCaller | Ending::Abandon => b"CUSTOMER_DISCONNECT",
            Ending::CompleteAgent | Ending::Transfer(_) => b"AGENT_DISCONNECT",
            Ending::Timeout => b"CONTACT_FLOW_DISCONNECT",
        });
        b.extend_from_slice(b"\",\"DisconnectTimestamp\":\"");
        put_utc(b, c.ended);
        b.extend_from_slice(
            b"\",\"InitialContactId\":null,\"InitiationMethod\":\"INBOUND\",\"InitiationTimestamp\":\"",
        );
        put_utc(b, initiated);
        b.extend_from_slice(b"\",\"InstanceARN\":\"");
        b.extend_from_slice(INSTANCE);
        b.extend_from_slice(b"\",\"LastUpdateTimestamp\":\"");
        put_utc(b, last_update);
        b.extend_from_slice(
            b"\",\"NextContactId\":null,\"PreviousContactId\":null,\"Queue\":{\"ARN\":\"",
        );
        b.extend_from_slice(INSTANCE);
        b.extend_from_slice(b"/queue/");
        b.extend_from_slice(queue.as_bytes());
        b.extend_from_slice(b"\",\"DequeueTimestamp\":\"");
        let dequeued = if answered { c.answered } else { c.ended };
        put_utc(b, dequeued);
        b.extend_from_slice(b"\",\"Duration\":");
        put_i64(b, dequeued - c.offered);
        b.extend_from_slice(b",\"EnqueueTimestamp\":\"");
        put_utc(b, c.offered);
        b.extend_from_slice(b"\",\"Name\":\"");
        b.extend_from_slice(queue.as_bytes());
        b.extend_from_slice(
            b"\"},\"Recording\":null,\"SystemEndpoint\":{\"Address\":\"+862010000\",\"Type\":\"TELEPHONE_NUMBER\"},\"TransferCompletedTimestamp\":",
        );
        match c.ending {
            Ending::Transfer(i) => {
                let addr = TRANSFER_TARGETS.get(usize::from(i)).map_or("", |t| t.2);
                b.push(b'"');
                put_utc(b, c.ended);
                b.extend_from_slice(b"\",\"TransferredToEndpoint\":{\"Address\":\"");
                b.extend_from_slice(addr.as_bytes());
                b.extend_from_slice(b"\",\"Type\":\"TELEPHONE_NUMBER\"}}");
            }
            _ => b.extend_from_slice(b"null,\"TransferredToEndpoint\":null}"),
        }
        self.out.end_line();
    }
}

impl Call {
    fn was_answered(&self) -> bool {
        matches!(
            self.ending,
            Ending::CompleteCaller | Ending::CompleteAgent | Ending::Transfer(_)
        )
    }
}

const BLANK_CALL: Call = Call {
    serial: 0,
    state: CallState::Free,
    queue: 0,
    caller: 0,
    uid_n: 0,
    offered: 0,
    patience_at: 0,
    timeout_at: 0,
    timed_out: false,
    rings: 0,
    origpos: 0,
    agent: 0,
    ring_start: 0,
    agent_uid: (0, 0),
    answered: 0,
    ringtime: 0,
    talk: 0,
    wrap: 0,
    ending: Ending::Abandon,
    ended: 0,
    pos: 0,
};

// ---------------------------------------------------------------- output

struct Out<'w> {
    w: &'w mut dyn Write,
    buf: Vec<u8>,
    lines: u64,
    bytes: u64,
}

impl Out<'_> {
    fn end_line(&mut self) {
        self.buf.push(b'\n');
        self.lines += 1;
    }

    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= 1 << 16 {
            self.flush_all()?;
        }
        Ok(())
    }

    fn flush_all(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

fn put_u64(b: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        if let Some(d) = tmp.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    b.extend_from_slice(tmp.get(i..).unwrap_or_default());
}

fn put_i64(b: &mut Vec<u8>, n: i64) {
    if n < 0 {
        b.push(b'-');
    }
    put_u64(b, n.unsigned_abs());
}

/// An Asterisk uniqueid: `epoch.counter`.
fn put_uid(b: &mut Vec<u8>, epoch: i64, n: u64) {
    put_i64(b, epoch);
    b.push(b'.');
    put_u64(b, n);
}

fn uid_string(epoch: i64, n: u64) -> String {
    format!("{epoch}.{n}")
}

fn put_hex8(b: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..8).rev() {
        b.push(HEX[((n >> (i * 4)) & 0xf) as usize]);
    }
}

fn put_channel(b: &mut Vec<u8>, agent: u32, chan: u64) {
    b.extend_from_slice(b"SIP/");
    put_u64(b, 8001 + u64::from(agent));
    b.push(b'-');
    put_hex8(b, chan);
}

fn put_uuid(b: &mut Vec<u8>, u: u128) {
    let s = uuid_string(u);
    b.extend_from_slice(s.as_bytes());
}

/// A version-4 UUID from 128 random bits.
fn uuid_string(u: u128) -> String {
    let u =
        (u & !(0xf000u128 << 64) | (0x4000u128 << 64)) & !(0xc000u128 << 48) | (0x8000u128 << 48);
    let h = format!("{u:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or(""),
        h.get(8..12).unwrap_or(""),
        h.get(12..16).unwrap_or(""),
        h.get(16..20).unwrap_or(""),
        h.get(20..32).unwrap_or("")
    )
}

fn put2(b: &mut Vec<u8>, n: u32) {
    b.push(b'0' + (n / 10 % 10) as u8);
    b.push(b'0' + (n % 10) as u8);
}

/// `YYYY-MM-DD?HH:MM:SS` of `secs` seconds since 1970-01-01 00:00 (already shifted to local).
fn put_local(b: &mut Vec<u8>, secs: i64, sep: u8) {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    put_u64(b, y.max(0) as u64);
    b.push(b'-');
    put2(b, m);
    b.push(b'-');
    put2(b, d);
    b.push(sep);
    put2(b, sod / 3600);
    b.push(b':');
    put2(b, sod / 60 % 60);
    b.push(b':');
    put2(b, sod % 60);
}

fn put_utc(b: &mut Vec<u8>, secs: i64) {
    put_local(b, secs, b'T');
    b.push(b'Z');
}

/// Howard Hinnant's days → civil date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_jiff() {
        for s in [0i64, 951_782_400, 1_790_812_800, 4_102_444_799, -86_400] {
            let mut b = Vec::new();
            put_utc(&mut b, s);
            let ts = Timestamp::from_second(s).expect("in range");
            assert_eq!(
                String::from_utf8(b).expect("ascii"),
                ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
            );
        }
    }

    #[test]
    fn uuids_are_version_4() {
        let s = uuid_string(u128::MAX);
        assert_eq!(s.len(), 36);
        assert_eq!(s.as_bytes().get(14), Some(&b'4'));
        assert!(matches!(
            s.as_bytes().get(19),
            Some(b'8' | b'9' | b'a' | b'b')
        ));
        let s = uuid_string(0);
        assert_eq!(s, "00000000-0000-4000-8000-000000000000");
    }
}
