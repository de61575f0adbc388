//! Email as a backlog: messages arriving over a span of service time must
//! each be answered within a reply window (measured on the same clock —
//! service hours or calendar time, as the contract says; the caller converts).
//!
//! Kept deliberately simple: a fluid, first-come-first-served model. With
//! emails arriving evenly over a span H and agents clearing them at a steady
//! rate, the last email to arrive waits longest; it is answered in time iff
//! the agents can do all the work between the first arrival and the last
//! deadline, H + W. So the required agents are
//! ⌈emails × AHT ÷ ((H + W) × usable share of agent time)⌉. With H = 0 (a
//! backlog found all at once, e.g. overnight mail) that is work ÷ W. Bursts
//! inside the span need more; this is the floor.

use serde::Serialize;

use super::{Shrinkage, StaffingError, fraction, non_negative, positive};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmailBacklog {
    emails: f64,
    aht_seconds: f64,
    arrival_span_seconds: f64,
    reply_window_seconds: f64,
}

impl EmailBacklog {
    pub fn new(
        emails: f64,
        aht_seconds: f64,
        arrival_span_seconds: f64,
        reply_window_seconds: f64,
    ) -> Result<EmailBacklog, StaffingError> {
        Ok(EmailBacklog {
            emails: non_negative("emails", emails)?,
            aht_seconds: positive("aht_seconds", aht_seconds)?,
            arrival_span_seconds: non_negative("arrival_span_seconds", arrival_span_seconds)?,
            reply_window_seconds: positive("reply_window_seconds", reply_window_seconds)?,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EmailStaffing {
    /// emails × AHT.
    pub workload_seconds: f64,
    /// The time one agent can give to it: (span + window) × max occupancy.
    pub agent_seconds_available: f64,
    pub required_agents: u32,
    pub required_agents_with_shrinkage: u32,
    /// Workload ÷ (required agents × (span + window)).
    pub occupancy: f64,
}

/// Agents that clear the backlog in time, each busy at most `max_occupancy`
/// (a fraction in (0, 1); none means fully).
pub fn email_required_agents(
    backlog: &EmailBacklog,
    max_occupancy: Option<f64>,
    shrinkage: Shrinkage,
) -> Result<EmailStaffing, StaffingError> {
    let occ = max_occupancy
        .map(|o| fraction("max_occupancy", o))
        .transpose()?
        .unwrap_or(1.0);
    let span = backlog.arrival_span_seconds + backlog.reply_window_seconds;
    let work = backlog.emails * backlog.aht_seconds;
    let per_agent = span * occ;
    let guess = (work / per_agent).ceil();
    if !guess.is_finite() || guess > f64::from(super::MAX_AGENTS) {
        return Err(StaffingError::Unreachable {
            traffic_erlangs: work / span,
            max: super::MAX_AGENTS,
        });
    }
    // The same comparison both ways, so rounding cannot add an agent.
    let mut n = guess as u32;
    while n > 0 && work <= f64::from(n - 1) * per_agent {
        n -= 1;
    }
    while work > f64::from(n) * per_agent {
        n += 1;
    }
    Ok(EmailStaffing {
        workload_seconds: work,
        agent_seconds_available: per_agent,
        required_agents: n,
        required_agents_with_shrinkage: shrinkage.scale(n),
        occupancy: if n == 0 {
            0.0
        } else {
            work / (f64::from(n) * span)
        },
    })
}
