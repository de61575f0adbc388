//! One Erlang question as the API receives it (`POST /api/v1/staffing/erlang`): the same
//! inputs as `kefu staffing erlang`, validated into [`Traffic`], [`Model`] and [`Targets`],
//! answered as a [`StaffingResult`]. With `agents` it evaluates them (and, when targets are
//! given, also says how many would be enough); without, it finds the least number.

use serde::Deserialize;

use super::{
    Model, Shrinkage, StaffingError, StaffingResult, Targets, Traffic, evaluate, required_agents,
};

/// Which model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Erlang B: calls finding every agent busy are lost.
    B,
    /// Erlang C: callers wait as long as it takes.
    C,
    /// Erlang A: waiting callers give up after a mean patience.
    A,
}

/// The question. Field names are the JSON keys.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErlangRequest {
    pub model: Option<ModelKind>,
    pub calls: Option<f64>,
    pub interval_seconds: Option<f64>,
    pub traffic: Option<f64>,
    pub aht_seconds: Option<f64>,
    pub patience_seconds: Option<f64>,
    pub agents: Option<u32>,
    pub threshold_seconds: Option<f64>,
    pub target_sl: Option<f64>,
    pub max_occupancy: Option<f64>,
    pub max_abandon: Option<f64>,
    pub max_asa_seconds: Option<f64>,
    pub max_blocking: Option<f64>,
    pub shrinkage: Option<f64>,
}

/// The request's field names, for front ends that spell them otherwise (the CLI's flags).
pub const FIELDS: [&str; 14] = [
    "model",
    "calls",
    "interval_seconds",
    "traffic",
    "aht_seconds",
    "patience_seconds",
    "agents",
    "threshold_seconds",
    "target_sl",
    "max_occupancy",
    "max_abandon",
    "max_asa_seconds",
    "max_blocking",
    "shrinkage",
];

/// What is wrong with a request: a combination that does not make a question, or a value
/// the models refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    Incomplete(&'static str),
    #[error(transparent)]
    Value(#[from] StaffingError),
}

impl ErlangRequest {
    /// Answers the question.
    pub fn solve(&self) -> Result<StaffingResult, RequestError> {
        use RequestError::Incomplete;
        let traffic = match (self.calls, self.traffic) {
            (Some(calls), None) => {
                let interval = self.interval_seconds.ok_or(Incomplete(
                    "calls needs interval_seconds (the interval they arrive in)",
                ))?;
                let aht = self.aht_seconds.ok_or(Incomplete(
                    "calls needs aht_seconds (to turn them into erlangs)",
                ))?;
                Traffic::from_calls(calls, interval, aht)?
            }
            (None, Some(erlangs)) => {
                if self.interval_seconds.is_some() {
                    return Err(Incomplete("interval_seconds goes with calls, not traffic"));
                }
                Traffic::from_erlangs(erlangs, self.aht_seconds)?
            }
            (Some(_), Some(_)) => return Err(Incomplete("give calls or traffic, not both")),
            (None, None) => {
                return Err(Incomplete(
                    "give the offered load: calls with interval_seconds and aht_seconds, or traffic",
                ));
            }
        };
        let (model, targets, shrinkage) = self.model_and_targets()?;
        let has_targets = !targets.is_empty();
        match self.agents {
            Some(n) => {
                let mut r = evaluate(&model, &traffic, n, self.threshold_seconds)?;
                if has_targets {
                    let least = required_agents(&model, &traffic, &targets, shrinkage)?;
                    r.required_agents = least.required_agents;
                    r.required_agents_with_shrinkage = least.required_agents_with_shrinkage;
                }
                Ok(r)
            }
            None if !has_targets => Err(Incomplete(
                "give agents to evaluate, or a target to search for (target_sl with threshold_seconds, max_asa_seconds, max_occupancy, max_abandon, max_blocking)",
            )),
            None => {
                let least = required_agents(&model, &traffic, &targets, shrinkage)?;
                match self.threshold_seconds {
                    Some(t) if targets.get_service_level().is_none() && least.agents > 0 => {
                        Ok(StaffingResult {
                            required_agents: least.required_agents,
                            required_agents_with_shrinkage: least.required_agents_with_shrinkage,
                            ..evaluate(&model, &traffic, least.agents, Some(t))?
                        })
                    }
                    _ => Ok(least),
                }
            }
        }
    }

    /// The model, the targets and the shrinkage the request names.
    pub fn model_and_targets(&self) -> Result<(Model, Targets, Shrinkage), RequestError> {
        use RequestError::Incomplete;
        let model = match (self.model, self.patience_seconds) {
            (None, _) => return Err(Incomplete("model: expected \"b\", \"c\" or \"a\"")),
            (Some(ModelKind::A), Some(p)) => Model::erlang_a(p)?,
            (Some(ModelKind::A), None) => {
                return Err(Incomplete(
                    "model a needs patience_seconds (mean time before a caller gives up)",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(Incomplete("patience_seconds is for model a (Erlang A)"));
            }
            (Some(ModelKind::B), None) => Model::ErlangB,
            (Some(ModelKind::C), None) => Model::ErlangC,
        };
        let mut targets = Targets::default();
        match (self.target_sl, self.threshold_seconds) {
            (Some(sl), Some(t)) => targets = targets.service_level(sl, t)?,
            (Some(_), None) => {
                return Err(Incomplete(
                    "target_sl needs threshold_seconds (answered within how long)",
                ));
            }
            _ => {}
        }
        if let Some(x) = self.max_occupancy {
            targets = targets.max_occupancy(x)?;
        }
        if let Some(x) = self.max_abandon {
            targets = targets.max_abandon(x)?;
        }
        if let Some(x) = self.max_asa_seconds {
            targets = targets.max_asa_seconds(x)?;
        }
        if let Some(x) = self.max_blocking {
            targets = targets.max_blocking(x)?;
        }
        let shrinkage = Shrinkage::new(self.shrinkage.unwrap_or(0.0))?;
        Ok((model, targets, shrinkage))
    }
}

/// A chat queue (`POST /api/v1/staffing/chat`): agents hold up to `max_chats` at once;
/// handling time may depend on how many they hold (`aht_by_concurrency[i]` at i + 1 chats).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    pub model: Option<ModelKind>,
    pub chats: f64,
    pub interval_seconds: f64,
    pub max_chats: u32,
    pub aht_by_concurrency: Vec<f64>,
    pub patience_seconds: Option<f64>,
    pub agents: Option<u32>,
    pub threshold_seconds: Option<f64>,
    pub target_sl: Option<f64>,
    pub max_occupancy: Option<f64>,
    pub max_abandon: Option<f64>,
    pub max_asa_seconds: Option<f64>,
    pub shrinkage: Option<f64>,
}

impl ChatRequest {
    pub fn solve(&self) -> Result<super::chat::ChatStaffing, RequestError> {
        let (model, targets, shrinkage) = ErlangRequest {
            model: Some(self.model.unwrap_or(ModelKind::C)),
            patience_seconds: self.patience_seconds,
            threshold_seconds: self.threshold_seconds,
            target_sl: self.target_sl,
            max_occupancy: self.max_occupancy,
            max_abandon: self.max_abandon,
            max_asa_seconds: self.max_asa_seconds,
            shrinkage: self.shrinkage,
            ..ErlangRequest::default()
        }
        .model_and_targets()?;
        let k = super::chat::ChatConcurrency::new(self.max_chats, &self.aht_by_concurrency)?;
        match self.agents {
            Some(n) => Ok(super::chat::chat_evaluate(
                &model,
                &k,
                self.chats,
                self.interval_seconds,
                n,
                self.threshold_seconds,
            )?),
            None if targets.is_empty() => Err(RequestError::Incomplete(
                "give agents to evaluate, or a target to search for",
            )),
            None => Ok(super::chat::chat_required_agents(
                &model,
                &k,
                self.chats,
                self.interval_seconds,
                &targets,
                shrinkage,
            )?),
        }
    }
}

/// An email backlog (`POST /api/v1/staffing/email`): `emails` arriving over
/// `arrival_span_seconds` must each be answered within `reply_window_seconds`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    pub emails: f64,
    pub aht_seconds: f64,
    pub arrival_span_seconds: f64,
    pub reply_window_seconds: f64,
    pub max_occupancy: Option<f64>,
    pub shrinkage: Option<f64>,
}

impl EmailRequest {
    pub fn solve(&self) -> Result<super::email::EmailStaffing, RequestError> {
        let backlog = super::email::EmailBacklog::new(
            self.emails,
            self.aht_seconds,
            self.arrival_span_seconds,
            self.reply_window_seconds,
        )?;
        Ok(super::email::email_required_agents(
            &backlog,
            self.max_occupancy,
            Shrinkage::new(self.shrinkage.unwrap_or(0.0))?,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> ErlangRequest {
        serde_json::from_str(json).expect("request JSON")
    }

    #[test]
    fn a_request_finds_the_least_agents_or_says_what_is_missing() {
        // pyworkforce's Erlang C case: 100 calls / 30 min, AHT 180 s, 80% in 20 s → 14 raw.
        let r = req(
            r#"{"model":"c","calls":100,"interval_seconds":1800,"aht_seconds":180,
                       "threshold_seconds":20,"target_sl":0.8,"shrinkage":0.3}"#,
        )
        .solve()
        .expect("answer");
        assert_eq!(
            (r.required_agents, r.required_agents_with_shrinkage),
            (Some(14), Some(20))
        );
        let cases = [
            (
                r#"{"model":"c","calls":100,"aht_seconds":180,"agents":3}"#,
                "interval_seconds",
            ),
            (
                r#"{"model":"a","traffic":10,"aht_seconds":180,"agents":12}"#,
                "patience_seconds",
            ),
            (r#"{"traffic":10,"aht_seconds":180,"agents":12}"#, "model"),
            (
                r#"{"model":"c","traffic":10,"aht_seconds":180}"#,
                "give agents",
            ),
            (
                r#"{"model":"c","traffic":-1,"aht_seconds":180,"agents":2}"#,
                "traffic",
            ),
            (
                r#"{"model":"c","traffic":10,"aht_seconds":180,"agents":12,"shrinkage":1}"#,
                "shrinkage",
            ),
        ];
        for (json, says) in cases {
            let e = req(json).solve().expect_err(json).to_string();
            assert!(e.contains(says), "{json}: {e}");
        }
        assert!(
            serde_json::from_str::<ErlangRequest>(r#"{"modle":"c"}"#).is_err(),
            "unknown keys refused"
        );
    }
}
