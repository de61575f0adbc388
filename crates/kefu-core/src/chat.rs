//! The online chat channel's arithmetic: turns, response times, first responses, unanswered
//! conversations and ratings, under the contract's definition of a turn (clause 4.1.2).

use jiff::{SignedDuration, Timestamp};

use crate::contract::{ChatResponseDefinition, Duration};

/// Who wrote a line of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Customer,
    Agent,
    /// A message the system sent (greeting, auto-reply): counts as a response only when the
    /// contract says automatic replies count.
    Automatic,
}

/// One message's time and author.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    pub at: Timestamp,
    pub side: Side,
}

/// One conversation as the metrics see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    pub started_at: Timestamp,
    /// In order.
    pub lines: Vec<Line>,
    /// The customer's 1–5 satisfaction rating, if given.
    pub rating: Option<u8>,
}

/// A customer's wait for a response: when it began and how long it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Turn {
    pub from: Timestamp,
    pub took: SignedDuration,
}

/// The turns of a conversation under a definition. A wait that no response ends is not a turn
/// (it shows as an unanswered conversation or a last message left open).
pub fn turns(lines: &[Line], def: ChatResponseDefinition, include_automatic: bool) -> Vec<Turn> {
    let mut out = Vec::new();
    let mut pending: Vec<Timestamp> = Vec::new();
    for l in lines {
        let responds = match l.side {
            Side::Agent => true,
            Side::Automatic => include_automatic,
            Side::Customer => false,
        };
        if l.side == Side::Customer {
            match def {
                ChatResponseDefinition::FirstUnansweredToNextAgentMessage => {
                    if pending.is_empty() {
                        pending.push(l.at);
                    }
                }
                ChatResponseDefinition::EachCustomerMessageToNextAgentMessage => pending.push(l.at),
            }
        } else if responds {
            for from in pending.drain(..) {
                out.push(Turn {
                    from,
                    took: l.at.duration_since(from),
                });
            }
        }
    }
    out
}

/// The figures of a set of conversations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatFigures {
    pub conversations: u64,
    /// Conversations in which an agent wrote at least once.
    pub answered: u64,
    /// Conversations in which the customer wrote and no agent ever did.
    pub unanswered: u64,
    /// Turns counted (inside service hours).
    pub turns: u64,
    pub response_ms_sum: u64,
    pub response_max_ms: u64,
    /// Turns answered within the target.
    pub within_target: u64,
    /// Turns that began outside service hours (left out of the averages).
    pub turns_outside_hours: u64,
    /// First agent response after the customer's first message, per answered conversation.
    pub first_response_ms_sum: u64,
    pub first_responses: u64,
    pub ratings: u64,
    pub rating_sum: u64,
}

fn ms(d: SignedDuration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(0)
}

impl ChatFigures {
    /// Adds one conversation. `target` is the contract's maximum response time; `in_hours`
    /// says whether an instant is inside the channel's service hours.
    pub fn add(
        &mut self,
        c: &Conversation,
        def: ChatResponseDefinition,
        include_automatic: bool,
        target: Duration,
        in_hours: impl Fn(Timestamp) -> bool,
    ) {
        self.conversations += 1;
        let agent_wrote = c.lines.iter().any(|l| l.side == Side::Agent);
        let customer_wrote = c.lines.iter().any(|l| l.side == Side::Customer);
        if agent_wrote {
            self.answered += 1;
        } else if customer_wrote {
            self.unanswered += 1;
        }
        let first_customer = c.lines.iter().find(|l| l.side == Side::Customer);
        if let Some(fc) = first_customer
            && let Some(fa) = c
                .lines
                .iter()
                .find(|l| l.side == Side::Agent && l.at >= fc.at)
        {
            self.first_response_ms_sum += ms(fa.at.duration_since(fc.at));
            self.first_responses += 1;
        }
        let limit = target.as_millis();
        for t in turns(&c.lines, def, include_automatic) {
            if !in_hours(t.from) {
                self.turns_outside_hours += 1;
                continue;
            }
            let took = ms(t.took);
            self.turns += 1;
            self.response_ms_sum += took;
            self.response_max_ms = self.response_max_ms.max(took);
            if took <= limit {
                self.within_target += 1;
            }
        }
        if let Some(r) = c.rating {
            self.ratings += 1;
            self.rating_sum += u64::from(r);
        }
    }

    /// Mean response time in seconds (None without turns).
    pub fn mean_response_seconds(&self) -> Option<f64> {
        (self.turns > 0).then(|| self.response_ms_sum as f64 / self.turns as f64 / 1000.0)
    }

    /// Whether the mean meets a maximum: compared exactly (sum ≤ max × turns), no rounding.
    pub fn mean_within(&self, max: Duration) -> Option<bool> {
        (self.turns > 0).then(|| {
            let max_ms = u128::from(max.as_millis());
            u128::from(self.response_ms_sum) <= max_ms * u128::from(self.turns)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_790_000_000_000 + ms).expect("time")
    }

    fn line(ms: i64, side: Side) -> Line {
        Line { at: at(ms), side }
    }

    #[test]
    fn a_run_of_customer_messages_is_one_turn_or_several_by_definition() {
        let lines = [
            line(0, Side::Customer),
            line(1_000, Side::Customer),
            line(2_500, Side::Agent),
            line(3_000, Side::Automatic),
            line(10_000, Side::Customer),
            line(11_000, Side::Automatic),
            line(14_000, Side::Agent),
        ];
        let first = turns(
            &lines,
            ChatResponseDefinition::FirstUnansweredToNextAgentMessage,
            false,
        );
        assert_eq!(
            first.iter().map(|t| t.took.as_millis()).collect::<Vec<_>>(),
            vec![2_500, 4_000]
        );
        let each = turns(
            &lines,
            ChatResponseDefinition::EachCustomerMessageToNextAgentMessage,
            false,
        );
        assert_eq!(
            each.iter().map(|t| t.took.as_millis()).collect::<Vec<_>>(),
            vec![2_500, 1_500, 4_000]
        );
        let auto = turns(
            &lines,
            ChatResponseDefinition::FirstUnansweredToNextAgentMessage,
            true,
        );
        assert_eq!(
            auto.iter().map(|t| t.took.as_millis()).collect::<Vec<_>>(),
            vec![2_500, 1_000],
            "an automatic reply ends the wait when the contract says so"
        );
    }

    #[test]
    fn figures_count_unanswered_first_responses_hours_and_ratings() {
        let three = Duration::from_secs(3);
        let mut f = ChatFigures::default();
        let answered = Conversation {
            started_at: at(0),
            lines: vec![
                line(0, Side::Customer),
                line(2_000, Side::Agent),
                line(5_000, Side::Customer),
                line(9_000, Side::Agent),
            ],
            rating: Some(4),
        };
        let unanswered = Conversation {
            started_at: at(0),
            lines: vec![line(0, Side::Customer)],
            rating: None,
        };
        let def = ChatResponseDefinition::FirstUnansweredToNextAgentMessage;
        f.add(&answered, def, false, three, |_| true);
        f.add(&unanswered, def, false, three, |_| true);
        f.add(&answered, def, false, three, |t| t < at(1_000));
        assert_eq!((f.conversations, f.answered, f.unanswered), (3, 2, 1));
        assert_eq!((f.turns, f.turns_outside_hours), (3, 1));
        assert_eq!(f.within_target, 2);
        assert_eq!(f.response_max_ms, 4_000);
        assert_eq!((f.first_responses, f.first_response_ms_sum), (2, 4_000));
        assert_eq!((f.ratings, f.rating_sum), (2, 8));
        assert_eq!(f.response_ms_sum, 2_000 + 4_000 + 2_000);
        assert_eq!(f.mean_within(three), Some(true), "2.67 s ≤ 3 s");
        assert_eq!(f.mean_within(Duration::from_secs(2)), Some(false));
    }

    proptest! {
        #[test]
        fn every_customer_message_answered_later_is_timed_once_and_never_negative(
            gaps in proptest::collection::vec((0i64..10_000, 0u8..3), 1..40)
        ) {
            let mut t = 0;
            let lines: Vec<Line> = gaps.iter().map(|(g, s)| {
                t += g;
                line(t, match s { 0 => Side::Customer, 1 => Side::Agent, _ => Side::Automatic })
            }).collect();
            let each = turns(&lines, ChatResponseDefinition::EachCustomerMessageToNextAgentMessage, false);
            let last_agent = lines.iter().rposition(|l| l.side == Side::Agent);
            let answered_customers = lines.iter().enumerate()
                .filter(|(i, l)| l.side == Side::Customer && last_agent.is_some_and(|a| a > *i))
                .count();
            prop_assert_eq!(each.len(), answered_customers);
            prop_assert!(each.iter().all(|t| !t.took.is_negative()));
            let first = turns(&lines, ChatResponseDefinition::FirstUnansweredToNextAgentMessage, false);
            prop_assert!(first.len() <= each.len());
        }
    }
}
