//! The phone channel's domain: a call as offered to an agent queue,
//! normalised from whatever the PBX wrote (Asterisk queue_log, CDR, Amazon
//! Connect, a mapped CSV), and the service-level arithmetic over such calls.

pub mod aggregate;
pub mod budget;
pub mod live;
pub mod metrics;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// How a call offered to a queue ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Connected to an agent.
    Answered,
    /// The caller hung up while waiting (Asterisk ABANDON).
    Abandoned,
    /// The queue sent the caller away after its timeout (EXITWITHTIMEOUT).
    TimedOut,
    /// The queue had no agents and let the caller out (EXITEMPTY).
    NoAgents,
    /// The caller left the queue by pressing a key (EXITWITHKEY).
    ExitedWithKey,
    /// The record does not say (a call still waiting when the log ends, or a
    /// source outcome the mapping calls "other").
    Unknown,
}

impl CallOutcome {
    pub const ALL: [CallOutcome; 6] = [
        CallOutcome::Answered,
        CallOutcome::Abandoned,
        CallOutcome::TimedOut,
        CallOutcome::NoAgents,
        CallOutcome::ExitedWithKey,
        CallOutcome::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "answered",
            CallOutcome::Abandoned => "abandoned",
            CallOutcome::TimedOut => "timed_out",
            CallOutcome::NoAgents => "no_agents",
            CallOutcome::ExitedWithKey => "exited_with_key",
            CallOutcome::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<CallOutcome> {
        CallOutcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// One call offered to an agent queue. Sources that do not record a field leave it `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// The call's identity in its source system (Asterisk `callid`/`uniqueid`,
    /// Amazon Connect `ContactId`, the mapped id column). With the source format
    /// and contract it is the idempotency key of an import.
    pub source_id: String,
    /// The agent queue the call entered.
    pub queue: Option<String>,
    /// The caller's number: customer data, encrypted at rest, shown masked.
    pub caller: Option<String>,
    /// When the call entered the queue: the instant it was *offered*.
    pub offered_at: Timestamp,
    /// When an agent answered (connect), if one did.
    pub answered_at: Option<Timestamp>,
    /// When the call ended: hang-up after talk, or leaving the queue unanswered.
    pub ended_at: Option<Timestamp>,
    pub outcome: CallOutcome,
    /// The agent who answered (the last one, after transfers).
    pub agent: Option<String>,
    /// Talk time as the source bills it (CDR `billsec`, queue_log COMPLETE* talk
    /// time); when absent it is `ended_at − answered_at`.
    pub talk: Option<SignedDuration>,
    /// Agents rung without answer before the call was answered or left (RINGNOANSWER).
    pub unanswered_rings: u32,
    /// Where the call was transferred, if it was.
    pub transferred_to: Option<String>,
}

impl CallRecord {
    /// Time spent waiting in the queue: until answer, or until the caller left.
    pub fn wait(&self) -> Option<SignedDuration> {
        let until = self.answered_at.or(self.ended_at)?;
        Some(until.duration_since(self.offered_at))
    }

    /// Talk time: as billed by the source, else answer to end.
    pub fn talk_time(&self) -> Option<SignedDuration> {
        self.talk.or_else(|| {
            let (a, e) = (self.answered_at?, self.ended_at?);
            Some(e.duration_since(a))
        })
    }
}
