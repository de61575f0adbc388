//! Staffing models: how many agents a queue needs for its targets, and what a
//! given number of agents achieves. Erlang B (blocked calls are lost),
//! Erlang C (callers wait for ever), Erlang A (callers give up after an
//! exponential patience — the model for "connection rate ≥ 95%", which is
//! about abandonment and which Erlang C cannot express), chat with
//! concurrency, email as a backlog, and a discrete-event simulator to check
//! them against.
//!
//! Probabilities, not money: plain `f64` is the right number type here. Every
//! input passes a validating constructor first, so the formulas below never
//! see NaN, negative traffic or a zero handle time.

pub mod chat;
pub mod email;
pub mod erlang;
pub mod plan;
pub mod request;
mod rng;
pub mod simulate;

use serde::Serialize;

pub use erlang::{ErlangAMetrics, ErlangCMetrics, erlang_b};

/// The largest number of agents a search for the least sufficient number
/// tries before it reports the targets as unreachable. Every valid target is
/// reachable in exact arithmetic (more agents always help and the metrics
/// tend to their ideal values), so only floating-point limits — a target
/// finer than `f64` can resolve — can get here.
pub const MAX_AGENTS: u32 = 10_000_000;

/// A caller's mistake in a staffing question, or a question the models
/// cannot answer. Each message names the field and the value.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StaffingError {
    #[error("{field}: {value} is not a finite number")]
    NotFinite { field: &'static str, value: f64 },
    #[error("{field}: expected a number greater than 0, found {value}")]
    NotPositive { field: &'static str, value: f64 },
    #[error("{field}: expected 0 or more, found {value}")]
    Negative { field: &'static str, value: f64 },
    #[error("{field}: expected a fraction strictly between 0 and 1, found {value}")]
    NotAFraction { field: &'static str, value: f64 },
    #[error("shrinkage: expected a fraction from 0 up to (not including) 1, found {0}")]
    Shrinkage(f64),
    #[error("agents: expected at least 1, found {0}")]
    NoAgents(u32),
    #[error("{field} is needed {why}")]
    Missing {
        field: &'static str,
        why: &'static str,
    },
    #[error("{target} does not apply to {model}: {why}")]
    NotApplicable {
        target: &'static str,
        model: &'static str,
        why: &'static str,
    },
    #[error(
        "no target given: name at least one (service level, ASA, occupancy, abandonment or blocking)"
    )]
    NoTargets,
    #[error(
        "no number of agents up to {max} meets the targets ({traffic_erlangs} erlangs); a target is finer than the arithmetic can resolve"
    )]
    Unreachable { traffic_erlangs: f64, max: u32 },
    #[error(
        "Erlang A with {agents} agents, {traffic_erlangs} erlangs and patience {patience_ratio}× the handle time needs more than {max_states} queue states; evaluate with more agents or a shorter patience"
    )]
    TooManyStates {
        agents: u32,
        traffic_erlangs: f64,
        patience_ratio: f64,
        max_states: usize,
    },
    #[error("{field}: {why}")]
    Invalid { field: &'static str, why: String },
}

fn finite(field: &'static str, value: f64) -> Result<f64, StaffingError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(StaffingError::NotFinite { field, value })
    }
}

pub(crate) fn positive(field: &'static str, value: f64) -> Result<f64, StaffingError> {
    if finite(field, value)? > 0.0 {
        Ok(value)
    } else {
        Err(StaffingError::NotPositive { field, value })
    }
}

pub(crate) fn non_negative(field: &'static str, value: f64) -> Result<f64, StaffingError> {
    if finite(field, value)? >= 0.0 {
        Ok(value)
    } else {
        Err(StaffingError::Negative { field, value })
    }
}

pub(crate) fn fraction(field: &'static str, value: f64) -> Result<f64, StaffingError> {
    let v = finite(field, value)?;
    if v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(StaffingError::NotAFraction { field, value })
    }
}

/// Offered traffic of one interval: erlangs (the mean number of calls in
/// service if every call were answered at once) and, where the question needs
/// a time scale, the average handling time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Traffic {
    erlangs: f64,
    aht_seconds: Option<f64>,
}

impl Traffic {
    /// `calls` offered over `interval_seconds`, each taking `aht_seconds` on
    /// average: A = calls × AHT ÷ interval.
    pub fn from_calls(
        calls: f64,
        interval_seconds: f64,
        aht_seconds: f64,
    ) -> Result<Traffic, StaffingError> {
        let calls = non_negative("calls", calls)?;
        let interval = positive("interval_seconds", interval_seconds)?;
        let aht = positive("aht_seconds", aht_seconds)?;
        let erlangs = finite("traffic_erlangs", calls * aht / interval)?;
        Ok(Traffic {
            erlangs,
            aht_seconds: Some(aht),
        })
    }

    /// Traffic given in erlangs. The handle time is optional: Erlang B needs
    /// none; waiting times and Erlang A do.
    pub fn from_erlangs(erlangs: f64, aht_seconds: Option<f64>) -> Result<Traffic, StaffingError> {
        let erlangs = non_negative("traffic_erlangs", erlangs)?;
        let aht_seconds = aht_seconds
            .map(|a| positive("aht_seconds", a))
            .transpose()?;
        Ok(Traffic {
            erlangs,
            aht_seconds,
        })
    }

    pub fn erlangs(&self) -> f64 {
        self.erlangs
    }

    pub fn aht_seconds(&self) -> Option<f64> {
        self.aht_seconds
    }

    fn aht_for(&self, why: &'static str) -> Result<f64, StaffingError> {
        self.aht_seconds.ok_or(StaffingError::Missing {
            field: "aht_seconds",
            why,
        })
    }
}

/// Which queueing model answers the question.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Model {
    /// M/M/N/N: a call that finds every agent busy is lost (blocked).
    ErlangB,
    /// M/M/N: callers wait as long as it takes.
    ErlangC,
    /// M/M/N+M: each waiting caller gives up after an exponential patience
    /// with this mean, in seconds.
    ErlangA { patience_seconds: f64 },
}

impl Model {
    /// Erlang A with a validated mean patience.
    pub fn erlang_a(patience_seconds: f64) -> Result<Model, StaffingError> {
        Ok(Model::ErlangA {
            patience_seconds: positive("patience_seconds", patience_seconds)?,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Model::ErlangB => "Erlang B",
            Model::ErlangC => "Erlang C",
            Model::ErlangA { .. } => "Erlang A",
        }
    }
}

/// A service-level target: at least `min` of the calls answered within
/// `threshold_seconds` (which share, and of which calls, depends on the model:
/// see [`StaffingResult`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServiceLevelTarget {
    pub min: f64,
    pub threshold_seconds: f64,
}

/// What the agents must achieve. Built with the validating setters; an empty
/// set is an error when searching for the required number of agents.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Targets {
    service_level: Option<ServiceLevelTarget>,
    max_asa_seconds: Option<f64>,
    max_occupancy: Option<f64>,
    max_abandon: Option<f64>,
    max_blocking: Option<f64>,
}

impl Targets {
    /// At least `min` (a fraction in (0, 1)) answered within
    /// `threshold_seconds` (≥ 0).
    pub fn service_level(
        mut self,
        min: f64,
        threshold_seconds: f64,
    ) -> Result<Self, StaffingError> {
        self.service_level = Some(ServiceLevelTarget {
            min: fraction("target_sl", min)?,
            threshold_seconds: non_negative("threshold_seconds", threshold_seconds)?,
        });
        Ok(self)
    }

    /// Mean wait of answered calls at most this many seconds (> 0): the
    /// contract's 平均响应时间 is a mean over answered calls.
    pub fn max_asa_seconds(mut self, seconds: f64) -> Result<Self, StaffingError> {
        self.max_asa_seconds = Some(positive("max_asa_seconds", seconds)?);
        Ok(self)
    }

    /// Agents busy at most this fraction (in (0, 1)) of their time.
    pub fn max_occupancy(mut self, max: f64) -> Result<Self, StaffingError> {
        self.max_occupancy = Some(fraction("max_occupancy", max)?);
        Ok(self)
    }

    /// Erlang A: at most this fraction (in (0, 1)) of callers give up;
    /// 0.05 is "connection rate ≥ 95%".
    pub fn max_abandon(mut self, max: f64) -> Result<Self, StaffingError> {
        self.max_abandon = Some(fraction("max_abandon", max)?);
        Ok(self)
    }

    /// Erlang B: at most this fraction (in (0, 1)) of calls blocked.
    pub fn max_blocking(mut self, max: f64) -> Result<Self, StaffingError> {
        self.max_blocking = Some(fraction("max_blocking", max)?);
        Ok(self)
    }

    pub fn get_service_level(&self) -> Option<ServiceLevelTarget> {
        self.service_level
    }
    pub fn get_max_asa_seconds(&self) -> Option<f64> {
        self.max_asa_seconds
    }
    pub fn get_max_occupancy(&self) -> Option<f64> {
        self.max_occupancy
    }
    pub fn get_max_abandon(&self) -> Option<f64> {
        self.max_abandon
    }
    pub fn get_max_blocking(&self) -> Option<f64> {
        self.max_blocking
    }

    pub fn is_empty(&self) -> bool {
        *self == Targets::default()
    }

    /// The threshold the service level is reported at.
    pub fn threshold_seconds(&self) -> Option<f64> {
        self.service_level.map(|s| s.threshold_seconds)
    }

    fn check_applies(&self, model: &Model) -> Result<(), StaffingError> {
        let name = model.name();
        let na = |target, why| {
            Err(StaffingError::NotApplicable {
                target,
                model: name,
                why,
            })
        };
        match model {
            Model::ErlangB => {
                if self.service_level.is_some() {
                    return na("target_sl", "blocked calls never wait; use Erlang C or A");
                }
                if self.max_asa_seconds.is_some() {
                    return na(
                        "max_asa_seconds",
                        "blocked calls never wait; use Erlang C or A",
                    );
                }
                if self.max_abandon.is_some() {
                    return na(
                        "max_abandon",
                        "Erlang B loses calls by blocking: use max_blocking, or Erlang A for callers who give up",
                    );
                }
            }
            Model::ErlangC => {
                if self.max_abandon.is_some() {
                    return na(
                        "max_abandon",
                        "Erlang C's callers never give up; use Erlang A with a patience",
                    );
                }
                if self.max_blocking.is_some() {
                    return na("max_blocking", "Erlang C queues every call; use Erlang B");
                }
            }
            Model::ErlangA { .. } => {
                if self.max_blocking.is_some() {
                    return na("max_blocking", "Erlang A queues every call; use Erlang B");
                }
            }
        }
        Ok(())
    }
}

/// Time agents are paid for but not on the phones (breaks, training,
/// absence), as a fraction in [0, 1).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Shrinkage(f64);

impl Shrinkage {
    pub fn new(s: f64) -> Result<Shrinkage, StaffingError> {
        if s.is_finite() && (0.0..1.0).contains(&s) {
            Ok(Shrinkage(s))
        } else {
            Err(StaffingError::Shrinkage(s))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }

    /// Agents to schedule so that `productive` are on the phones:
    /// ⌈productive ÷ (1 − s)⌉, the same expression as pyworkforce's
    /// `ceil(raw_positions / (1 - shrinkage))` so both round alike.
    pub fn scale(self, productive: u32) -> u32 {
        let scaled = (f64::from(productive) / (1.0 - self.0)).ceil();
        // productive ≤ MAX_AGENTS and s < 1: finite; saturate rather than wrap.
        if scaled >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            scaled as u32
        }
    }
}

/// What a number of agents achieves under a model, and (when searched for)
/// how many are required. JSON keys are stable; keys that do not apply to the
/// model are left out.
///
/// Definitions (all arrivals are "offered" calls):
/// - `erlang_b`: Erlang B, the share of calls blocked (lost) with no queue.
/// - `p_wait`: share of calls that find every agent busy and wait.
/// - `service_level` (Erlang C): share of calls answered within the threshold
///   (every call is answered eventually).
/// - `asa_seconds`: mean wait over all calls, those answered at once counting
///   0 and (Erlang A) those who gave up counting the time they waited.
/// - `asa_answered_seconds` (Erlang A): mean wait of answered calls only
///   (the contract's 平均响应时间).
/// - `p_abandon` (Erlang A): share of calls that give up before an answer.
/// - `sl_answered_within_t` (Erlang A): calls answered with a wait ≤ t ÷ all
///   calls; abandoned calls count as failures. The target applies to this one.
/// - `sl_wait_le_t` (Erlang A): calls whose wait (until answer or until they
///   gave up) was ≤ t ÷ all calls; abandoning quickly counts as success.
/// - `sl_excl_abandon` (Erlang A): answered within t ÷ answered; abandoned
///   calls leave the denominator.
/// - `occupancy`: carried load ÷ agents, the share of agent time spent on
///   calls (Erlang C: A ÷ N; Erlang B and A: A·(1 − lost share) ÷ N).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StaffingResult {
    pub traffic_erlangs: f64,
    pub agents: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_agents: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_agents_with_shrinkage: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erlang_b: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_wait: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_level: Option<f64>,
    /// Infinite (JSON `null`) for Erlang C with agents ≤ traffic: the queue
    /// grows without bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asa_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asa_answered_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_abandon: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sl_answered_within_t: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sl_wait_le_t: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sl_excl_abandon: Option<f64>,
    pub occupancy: f64,
}

/// What `agents` achieve on `traffic` under `model`; the service level is
/// reported at `threshold_seconds` when one is given.
pub fn evaluate(
    model: &Model,
    traffic: &Traffic,
    agents: u32,
    threshold_seconds: Option<f64>,
) -> Result<StaffingResult, StaffingError> {
    if agents == 0 {
        return Err(StaffingError::NoAgents(agents));
    }
    let t = threshold_seconds
        .map(|t| non_negative("threshold_seconds", t))
        .transpose()?;
    let a = traffic.erlangs;
    match *model {
        Model::ErlangB => Ok(b_result(a, agents)),
        Model::ErlangC => {
            let aht = if t.is_some() {
                Some(traffic.aht_for("for the service level (waits scale with the handle time)")?)
            } else {
                traffic.aht_seconds
            };
            Ok(c_result(&ErlangCMetrics::new(agents, a), aht, t))
        }
        Model::ErlangA { patience_seconds } => {
            let aht =
                traffic.aht_for("for Erlang A (patience is measured against the handle time)")?;
            let m = ErlangAMetrics::new(agents, a, aht, patience_seconds, t.unwrap_or(0.0))?;
            Ok(a_result(&m, t.is_some()))
        }
    }
}

fn b_result(a: f64, agents: u32) -> StaffingResult {
    let b = erlang_b(agents, a);
    StaffingResult {
        traffic_erlangs: a,
        agents,
        required_agents: None,
        required_agents_with_shrinkage: None,
        erlang_b: Some(b),
        p_wait: None,
        service_level: None,
        asa_seconds: None,
        asa_answered_seconds: None,
        p_abandon: None,
        sl_answered_within_t: None,
        sl_wait_le_t: None,
        sl_excl_abandon: None,
        occupancy: a * (1.0 - b) / f64::from(agents),
    }
}

fn c_result(m: &ErlangCMetrics, aht: Option<f64>, t: Option<f64>) -> StaffingResult {
    StaffingResult {
        traffic_erlangs: m.traffic_erlangs,
        agents: m.agents,
        required_agents: None,
        required_agents_with_shrinkage: None,
        erlang_b: None,
        p_wait: Some(m.p_wait),
        service_level: t.zip(aht).map(|(t, aht)| m.service_level(t, aht)),
        asa_seconds: aht.map(|aht| m.asa_seconds(aht)),
        asa_answered_seconds: None,
        p_abandon: None,
        sl_answered_within_t: None,
        sl_wait_le_t: None,
        sl_excl_abandon: None,
        occupancy: m.occupancy(),
    }
}

fn a_result(m: &ErlangAMetrics, with_sl: bool) -> StaffingResult {
    StaffingResult {
        traffic_erlangs: m.traffic_erlangs,
        agents: m.agents,
        required_agents: None,
        required_agents_with_shrinkage: None,
        erlang_b: None,
        p_wait: Some(m.p_wait),
        service_level: None,
        asa_seconds: Some(m.asa_seconds),
        asa_answered_seconds: Some(m.asa_answered_seconds),
        p_abandon: Some(m.p_abandon),
        sl_answered_within_t: with_sl.then_some(m.sl_answered_within_t),
        sl_wait_le_t: with_sl.then_some(m.sl_wait_le_t),
        sl_excl_abandon: with_sl.then_some(m.sl_excl_abandon),
        occupancy: m.occupancy,
    }
}

/// The least number of agents meeting every target, the metrics at that
/// number, and the number to schedule once shrinkage is added.
///
/// Zero traffic needs zero agents as far as queueing goes (the result then
/// reports 0 agents and ideal figures); whether someone must be on duty
/// anyway is the contract's "service not provided" rule, not Erlang's.
pub fn required_agents(
    model: &Model,
    traffic: &Traffic,
    targets: &Targets,
    shrinkage: Shrinkage,
) -> Result<StaffingResult, StaffingError> {
    if targets.is_empty() {
        return Err(StaffingError::NoTargets);
    }
    targets.check_applies(model)?;
    let a = traffic.erlangs;
    let t = targets.threshold_seconds();
    let mut result = if a == 0.0 {
        zero_traffic(model, t.is_some())
    } else {
        match *model {
            Model::ErlangB => b_result(a, erlang::least_agents_b(a, targets)?),
            Model::ErlangC => {
                let aht =
                    if targets.service_level.is_some() || targets.max_asa_seconds.is_some() {
                        Some(traffic.aht_for(
                            "for waiting-time targets (waits scale with the handle time)",
                        )?)
                    } else {
                        traffic.aht_seconds
                    };
                let m = erlang::least_agents_c(a, aht.unwrap_or(1.0), targets)?;
                c_result(&m, aht, t)
            }
            Model::ErlangA { patience_seconds } => {
                let aht = traffic
                    .aht_for("for Erlang A (patience is measured against the handle time)")?;
                let m = erlang::least_agents_a(a, aht, patience_seconds, targets)?;
                a_result(&m, t.is_some())
            }
        }
    };
    result.required_agents = Some(result.agents);
    result.required_agents_with_shrinkage = Some(shrinkage.scale(result.agents));
    Ok(result)
}

fn zero_traffic(model: &Model, with_sl: bool) -> StaffingResult {
    let sl = with_sl.then_some(1.0);
    let (b, c, ab) = match model {
        Model::ErlangB => (Some(0.0), false, false),
        Model::ErlangC => (None, true, false),
        Model::ErlangA { .. } => (None, true, true),
    };
    StaffingResult {
        traffic_erlangs: 0.0,
        agents: 0,
        required_agents: None,
        required_agents_with_shrinkage: None,
        erlang_b: b,
        p_wait: (c || ab).then_some(0.0),
        service_level: if c && !ab { sl } else { None },
        asa_seconds: (c || ab).then_some(0.0),
        asa_answered_seconds: ab.then_some(0.0),
        p_abandon: ab.then_some(0.0),
        sl_answered_within_t: if ab { sl } else { None },
        sl_wait_le_t: if ab { sl } else { None },
        sl_excl_abandon: if ab { sl } else { None },
        occupancy: 0.0,
    }
}
