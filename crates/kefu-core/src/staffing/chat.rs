//! Chat with concurrency: an agent holds up to k conversations at once.
//!
//! The approximation (documented, not exact): a chat is a call to one of
//! N·k *slots*, each an Erlang C or Erlang A server. A customer waits only
//! when every slot is taken, that is when every agent holds k chats, so the
//! handling time that governs waiting is the one at full concurrency: when
//! handling time depends on concurrency (an agent is slower per chat with
//! three open than with one), the slots use the AHT at k. That is the
//! pessimistic end, which is the safe one for staffing. What the slot model
//! ignores: agents are not independent slots (an agent's k chats slow down
//! together), and a new chat goes to the least-loaded agent.

use serde::Serialize;

use super::{
    Model, Shrinkage, StaffingError, StaffingResult, Targets, Traffic, evaluate, positive,
    required_agents,
};

/// How many chats an agent holds at most, and the handling time of a chat by
/// the number the agent holds (one value: the same at every concurrency).
#[derive(Clone, Debug, PartialEq)]
pub struct ChatConcurrency {
    max_chats: u32,
    aht_seconds: Vec<f64>,
}

impl ChatConcurrency {
    /// `aht_by_concurrency[i]` is the handling time of a chat while the agent
    /// holds i + 1 chats; a single value applies at every concurrency.
    pub fn new(max_chats: u32, aht_by_concurrency: &[f64]) -> Result<Self, StaffingError> {
        if max_chats == 0 {
            return Err(StaffingError::Invalid {
                field: "max_chats",
                why: "an agent holds at least 1 chat".into(),
            });
        }
        if aht_by_concurrency.len() != 1 && aht_by_concurrency.len() != max_chats as usize {
            return Err(StaffingError::Invalid {
                field: "aht_seconds",
                why: format!(
                    "give one handling time, or one per concurrency 1..={max_chats} ({max_chats} values); found {}",
                    aht_by_concurrency.len()
                ),
            });
        }
        for &a in aht_by_concurrency {
            positive("aht_seconds", a)?;
        }
        Ok(ChatConcurrency {
            max_chats,
            aht_seconds: aht_by_concurrency.to_vec(),
        })
    }

    pub fn max_chats(&self) -> u32 {
        self.max_chats
    }

    /// The handling time a slot works at: the one at full concurrency.
    pub fn slot_aht_seconds(&self) -> f64 {
        self.aht_seconds.last().copied().unwrap_or(f64::NAN)
    }

    /// Offered chats over an interval as slot traffic.
    pub fn traffic(&self, chats: f64, interval_seconds: f64) -> Result<Traffic, StaffingError> {
        Traffic::from_calls(chats, interval_seconds, self.slot_aht_seconds())
    }
}

/// Agents for a chat queue, with the slot model's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChatStaffing {
    pub max_chats_per_agent: u32,
    pub agents: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_agents: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_agents_with_shrinkage: Option<u32>,
    /// The model over agents × k slots (its `agents` counts slots, its
    /// `occupancy` is the share of slot time in use).
    pub slots: StaffingResult,
}

/// What `agents` achieve on `chats` offered over `interval_seconds`.
pub fn chat_evaluate(
    model: &Model,
    concurrency: &ChatConcurrency,
    chats: f64,
    interval_seconds: f64,
    agents: u32,
    threshold_seconds: Option<f64>,
) -> Result<ChatStaffing, StaffingError> {
    let traffic = concurrency.traffic(chats, interval_seconds)?;
    let slots = agents.saturating_mul(concurrency.max_chats);
    Ok(ChatStaffing {
        max_chats_per_agent: concurrency.max_chats,
        agents,
        required_agents: None,
        required_agents_with_shrinkage: None,
        slots: evaluate(model, &traffic, slots, threshold_seconds)?,
    })
}

/// The least number of agents whose slots meet every target: the least
/// number of slots S, then ⌈S ÷ k⌉ agents (every metric improves with slots,
/// so N·k ≥ S meets and (N − 1)·k < S does not), with the figures at N·k
/// slots.
pub fn chat_required_agents(
    model: &Model,
    concurrency: &ChatConcurrency,
    chats: f64,
    interval_seconds: f64,
    targets: &Targets,
    shrinkage: Shrinkage,
) -> Result<ChatStaffing, StaffingError> {
    let traffic = concurrency.traffic(chats, interval_seconds)?;
    let least = required_agents(model, &traffic, targets, Shrinkage::default())?;
    let k = concurrency.max_chats;
    let agents = least.agents.div_ceil(k);
    let slots = if agents * k == least.agents || agents == 0 {
        least
    } else {
        evaluate(model, &traffic, agents * k, targets.threshold_seconds())?
    };
    Ok(ChatStaffing {
        max_chats_per_agent: k,
        agents,
        required_agents: Some(agents),
        required_agents_with_shrinkage: Some(shrinkage.scale(agents)),
        slots: StaffingResult {
            required_agents: None,
            required_agents_with_shrinkage: None,
            ..slots
        },
    })
}
