//! Calls pushed by a PBX as they happen: events (enqueued, answered, transferred, ended,
//! abandoned) folded into the same [`CallRecord`] the importers make, so live and imported
//! calls meet the same engine. Pure: the store keeps the events, this says what they mean.

use jiff::Timestamp;

use super::{CallOutcome, CallRecord};

/// What happened to a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveEventKind {
    /// The call entered a queue: it is offered from now.
    Enqueued {
        queue: Option<String>,
        caller: Option<String>,
    },
    /// An agent answered.
    Answered { agent: String },
    /// The call was passed on (to an extension, a queue, an outside number).
    Transferred { to: String },
    /// The caller left the queue before anyone answered.
    Abandoned,
    /// The call ended (after talk, or a queue that let the caller out).
    Ended,
}

impl LiveEventKind {
    /// Names as the API spells them.
    pub fn name(&self) -> &'static str {
        match self {
            LiveEventKind::Enqueued { .. } => "enqueued",
            LiveEventKind::Answered { .. } => "answered",
            LiveEventKind::Transferred { .. } => "transferred",
            LiveEventKind::Abandoned => "abandoned",
            LiveEventKind::Ended => "ended",
        }
    }

    /// Order among events of the same instant.
    fn rank(&self) -> u8 {
        match self {
            LiveEventKind::Enqueued { .. } => 0,
            LiveEventKind::Answered { .. } => 1,
            LiveEventKind::Transferred { .. } => 2,
            LiveEventKind::Abandoned => 3,
            LiveEventKind::Ended => 4,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveEvent {
    pub at: Timestamp,
    pub kind: LiveEventKind,
}

/// Why a call's events do not make a call (yet, or at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assembly {
    /// The call has ended: this is its record.
    Finished(CallRecord),
    /// Still going (no `ended`/`abandoned` yet): the record so far, outcome `unknown`.
    Open(CallRecord),
    /// Not a call the engine can count; the reason says which event is wrong.
    Invalid(String),
}

/// Folds one call's events (in any order) into its record.
pub fn assemble(call_id: &str, events: &[LiveEvent]) -> Assembly {
    let mut evs: Vec<&LiveEvent> = events.iter().collect();
    evs.sort_by_key(|e| (e.at, e.kind.rank()));
    let Some(first) = evs.first() else {
        return Assembly::Invalid("no events".to_owned());
    };
    let LiveEventKind::Enqueued { queue, caller } = &first.kind else {
        return Assembly::Invalid(format!(
            "the first event is `{}` at {}; a call starts with `enqueued`",
            first.kind.name(),
            first.at
        ));
    };
    let mut call = CallRecord {
        source_id: call_id.to_owned(),
        queue: queue.clone(),
        caller: caller.clone(),
        offered_at: first.at,
        answered_at: None,
        ended_at: None,
        outcome: CallOutcome::Unknown,
        agent: None,
        talk: None,
        unanswered_rings: 0,
        transferred_to: None,
    };
    let mut finished = false;
    for e in &evs[1..] {
        if finished {
            return Assembly::Invalid(format!(
                "`{}` at {} comes after the call ended",
                e.kind.name(),
                e.at
            ));
        }
        match &e.kind {
            LiveEventKind::Enqueued { .. } => {
                return Assembly::Invalid(format!(
                    "a second `enqueued` at {} (a re-queued call needs its own call id)",
                    e.at
                ));
            }
            LiveEventKind::Answered { agent } => {
                if call.answered_at.is_some() {
                    // Answered again after a transfer to another agent: the last one counts.
                    call.agent = Some(agent.clone());
                } else {
                    call.answered_at = Some(e.at);
                    call.agent = Some(agent.clone());
                }
            }
            LiveEventKind::Transferred { to } => {
                call.transferred_to = Some(to.clone());
            }
            LiveEventKind::Abandoned => {
                if call.answered_at.is_some() {
                    return Assembly::Invalid(format!(
                        "`abandoned` at {} after the call was answered; use `ended`",
                        e.at
                    ));
                }
                call.ended_at = Some(e.at);
                call.outcome = CallOutcome::Abandoned;
                finished = true;
            }
            LiveEventKind::Ended => {
                call.ended_at = Some(e.at);
                call.outcome = if call.answered_at.is_some() {
                    CallOutcome::Answered
                } else {
                    // Ended without an answer and without the caller hanging up in the queue:
                    // the queue let the caller out.
                    CallOutcome::TimedOut
                };
                if let Some(a) = call.answered_at {
                    call.talk = Some(e.at.duration_since(a));
                }
                finished = true;
            }
        }
    }
    if finished {
        Assembly::Finished(call)
    } else {
        Assembly::Open(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_790_000_000 + s).expect("time")
    }

    fn enq(s: i64) -> LiveEvent {
        LiveEvent {
            at: at(s),
            kind: LiveEventKind::Enqueued {
                queue: Some("hotline".to_owned()),
                caller: Some("13800138000".to_owned()),
            },
        }
    }

    fn ev(s: i64, kind: LiveEventKind) -> LiveEvent {
        LiveEvent { at: at(s), kind }
    }

    #[test]
    fn events_in_any_order_make_the_same_answered_call() {
        let events = vec![
            ev(100, LiveEventKind::Ended),
            ev(
                4,
                LiveEventKind::Answered {
                    agent: "8001".to_owned(),
                },
            ),
            enq(0),
        ];
        let Assembly::Finished(c) = assemble("c1", &events) else {
            panic!("finished");
        };
        assert_eq!(c.outcome, CallOutcome::Answered);
        assert_eq!(c.wait(), Some(SignedDuration::from_secs(4)));
        assert_eq!(c.talk, Some(SignedDuration::from_secs(96)));
        assert_eq!(c.agent.as_deref(), Some("8001"));
    }

    #[test]
    fn each_shape_of_call_has_its_outcome_or_a_reason() {
        use LiveEventKind::*;
        let cases: Vec<(Vec<LiveEvent>, &str)> = vec![
            (vec![enq(0)], "open"),
            (vec![enq(0), ev(9, Abandoned)], "abandoned"),
            (vec![enq(0), ev(60, Ended)], "timed_out"),
            (
                vec![
                    enq(0),
                    ev(3, Answered { agent: "a".into() }),
                    ev(30, Transferred { to: "200".into() }),
                    ev(31, Answered { agent: "b".into() }),
                    ev(90, Ended),
                ],
                "answered",
            ),
            (
                vec![ev(3, Answered { agent: "a".into() }), ev(9, Ended)],
                "invalid: first",
            ),
            (
                vec![enq(0), ev(9, Ended), ev(10, Abandoned)],
                "invalid: after",
            ),
            (vec![enq(0), enq(5)], "invalid: second"),
            (
                vec![
                    enq(0),
                    ev(3, Answered { agent: "a".into() }),
                    ev(9, Abandoned),
                ],
                "invalid: abandoned",
            ),
            (vec![], "invalid: no events"),
        ];
        for (events, want) in cases {
            let got = match assemble("c", &events) {
                Assembly::Finished(c) => c.outcome.as_str().to_owned(),
                Assembly::Open(_) => "open".to_owned(),
                Assembly::Invalid(why) => format!("invalid: {why}"),
            };
            assert!(
                got.starts_with(want) || got.contains(want.trim_start_matches("invalid: ")),
                "{want}: {got}"
            );
            assert_eq!(
                got.starts_with("invalid"),
                want.starts_with("invalid"),
                "{want}: {got}"
            );
        }
    }
}
