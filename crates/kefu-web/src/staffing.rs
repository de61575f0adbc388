//! Staffing over the API: one Erlang question (`POST /api/v1/staffing/erlang`, the same inputs
//! as `kefu staffing erlang`) and a week's plan (`GET /api/v1/staffing/plan`, as
//! `kefu staffing plan`).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kefu_core::staffing::request::{ChatRequest, EmailRequest, ErlangRequest};
use serde::Deserialize;

use crate::api::ApiJson;
use crate::auth::{Authorized, Staff};
use crate::wallboard::Supervisors;
use crate::{AppState, Problem};

fn unprocessable(detail: String) -> Problem {
    Problem {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        title: "Unprocessable Entity",
        detail,
    }
}

/// `POST /api/v1/staffing/erlang`: what agents achieve, or the least number for the targets.
pub async fn erlang(_auth: Authorized<Staff>, ApiJson(req): ApiJson<ErlangRequest>) -> Response {
    match req.solve() {
        Ok(r) => Json(r).into_response(),
        Err(e) => unprocessable(e.to_string()).into_response(),
    }
}

/// `POST /api/v1/staffing/chat`: agents for a chat queue with concurrency.
pub async fn chat(_auth: Authorized<Staff>, ApiJson(req): ApiJson<ChatRequest>) -> Response {
    match req.solve() {
        Ok(r) => Json(r).into_response(),
        Err(e) => unprocessable(e.to_string()).into_response(),
    }
}

/// `POST /api/v1/staffing/email`: agents to clear an email backlog inside its reply window.
pub async fn email(_auth: Authorized<Staff>, ApiJson(req): ApiJson<EmailRequest>) -> Response {
    match req.solve() {
        Ok(r) => Json(r).into_response(),
        Err(e) => unprocessable(e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
pub struct PlanQuery {
    contract: Option<String>,
    /// ISO week, e.g. 2026-W48.
    week: String,
}

/// `GET /api/v1/staffing/plan?week=YYYY-Www`: forecast, required and on-duty agents per
/// interval, and service not provided.
pub async fn plan(
    _auth: Authorized<Supervisors>,
    State(state): State<AppState>,
    Query(q): Query<PlanQuery>,
) -> Response {
    let user_error = |e: kefu_app::AppError| {
        if e.is_user_error() {
            unprocessable(e.to_string()).into_response()
        } else {
            crate::internal(e)
        }
    };
    let monday = match kefu_app::staffing::parse_iso_week(&q.week) {
        Ok(m) => m,
        Err(e) => return user_error(e),
    };
    let number =
        match kefu_app::contracts::resolve_number(&state.store, q.contract.as_deref()).await {
            Ok(n) => n,
            Err(e) => return user_error(e),
        };
    let stored = match state.contracts.get(&state.store, &number).await {
        Ok(s) => s,
        Err(e) => return user_error(e),
    };
    match kefu_app::staffing::week_plan(
        &state.store,
        &stored,
        &number,
        monday,
        state.contracts.holidays(),
        jiff::Timestamp::now(),
    )
    .await
    {
        Ok(p) => Json(p).into_response(),
        Err(e) => user_error(e),
    }
}
