//! `POST /api/v1/calls/events`: a PBX pushes each call event as it happens; kefu stores it
//! (idempotent by `event_id`) and, when the call ends, counts the call like an imported one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kefu_core::access::Role;
use kefu_core::phone::live::{LiveEvent, LiveEventKind};
use kefu_store::call_events::{NewCallEvent, Recorded};
use kefu_store::{BucketPlan, ContractId};
use serde::Deserialize;

use crate::api::ApiJson;
use crate::auth::{Authorized, Policy};
use crate::{AppState, Problem};

/// Who may push call events: administrators and supervisors (and their API tokens).
pub struct CallEventSenders;
impl Policy for CallEventSenders {
    const WHO: &'static str = "administrators and supervisors (or their API tokens)";
    fn admits(role: Role) -> bool {
        matches!(role, Role::Admin | Role::Supervisor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallEventJson {
    contract: String,
    event_id: String,
    call_id: String,
    /// enqueued | answered | transferred | abandoned | ended
    #[serde(rename = "type")]
    kind: String,
    /// RFC 3339 instant, e.g. 2026-11-25T08:00:03.250Z
    at: String,
    queue: Option<String>,
    caller: Option<String>,
    agent: Option<String>,
    to: Option<String>,
}

fn problem(status: StatusCode, detail: String) -> Problem {
    Problem {
        status,
        title: status.canonical_reason().unwrap_or("Error"),
        detail,
    }
}

fn id_field(name: &str, v: &str) -> Result<String, Problem> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > 200 {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            format!("{name}: expected 1 to 200 characters, found {v:?}"),
        ));
    }
    Ok(v.to_owned())
}

fn parse(body: &CallEventJson) -> Result<NewCallEvent, Problem> {
    let event_id = id_field("event_id", &body.event_id)?;
    let call_id = id_field("call_id", &body.call_id)?;
    let at: jiff::Timestamp = body.at.parse().map_err(|e| {
        problem(
            StatusCode::BAD_REQUEST,
            format!(
                "at: expected an RFC 3339 instant such as 2026-11-25T08:00:03Z, found {:?} ({e})",
                body.at
            ),
        )
    })?;
    let need = |name: &str, v: &Option<String>| -> Result<String, Problem> {
        match v.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Ok(s.to_owned()),
            _ => Err(problem(
                StatusCode::BAD_REQUEST,
                format!("{name}: required for a `{}` event", body.kind),
            )),
        }
    };
    let kind = match body.kind.as_str() {
        "enqueued" => LiveEventKind::Enqueued {
            queue: body.queue.clone(),
            caller: body.caller.clone(),
        },
        "answered" => LiveEventKind::Answered {
            agent: need("agent", &body.agent)?,
        },
        "transferred" => LiveEventKind::Transferred {
            to: need("to", &body.to)?,
        },
        "abandoned" => LiveEventKind::Abandoned,
        "ended" => LiveEventKind::Ended,
        other => {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                format!(
                    "type: expected enqueued, answered, transferred, abandoned or ended; found {other:?}"
                ),
            ));
        }
    };
    Ok(NewCallEvent {
        event_id,
        call_id,
        event: LiveEvent { at, kind },
    })
}

async fn contract_plan(
    state: &AppState,
    number: &str,
) -> Result<(ContractId, BucketPlan), Problem> {
    let stored = state
        .contracts
        .get(&state.store, number)
        .await
        .map_err(|e| {
            if e.is_user_error() {
                problem(StatusCode::UNPROCESSABLE_ENTITY, format!("contract: {e}"))
            } else {
                crate::internal_problem(e)
            }
        })?;
    let plan = kefu_app::contracts::bucket_plan(&stored)
        .map_err(|e| problem(StatusCode::UNPROCESSABLE_ENTITY, format!("contract: {e}")))?;
    Ok((stored.id, plan))
}

pub async fn post_call_event(
    _auth: Authorized<CallEventSenders>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CallEventJson>,
) -> Response {
    let ev = match parse(&body) {
        Ok(ev) => ev,
        Err(p) => return p.into_response(),
    };
    let (contract_id, plan) = match contract_plan(&state, body.contract.trim()).await {
        Ok(x) => x,
        Err(p) => return p.into_response(),
    };
    match state.store.record_call_event(contract_id, &plan, &ev).await {
        Ok(Recorded::Duplicate) => (
            StatusCode::OK,
            Json(serde_json::json!({"event_id": ev.event_id, "recorded": "duplicate"})),
        )
            .into_response(),
        Ok(Recorded::CallOpen) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"event_id": ev.event_id, "recorded": "stored", "call": "open"})),
        )
            .into_response(),
        Ok(Recorded::CallStored) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"event_id": ev.event_id, "recorded": "stored", "call": "counted"})),
        )
            .into_response(),
        Ok(Recorded::Refused(why)) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("call {}: {why}", ev.call_id),
        )
        .into_response(),
        Err(e) => crate::internal(e),
    }
}
