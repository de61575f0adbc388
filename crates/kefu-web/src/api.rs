//! The REST API under `/api/v1`: JSON in and out, errors as problem+json.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kefu_core::access::Role;
use kefu_store::accounts::{Account, NewAccount};
use serde::{Deserialize, Serialize};

use crate::auth::{AdminOnly, AnyRole, Authorized};
use crate::{AppState, Problem};

#[derive(Serialize)]
pub struct AccountJson {
    id: String,
    username: String,
    display_name: String,
    role: &'static str,
    contract_id: Option<String>,
    must_change_password: bool,
    disabled: bool,
}

impl From<&Account> for AccountJson {
    fn from(a: &Account) -> Self {
        AccountJson {
            id: a.id.to_string(),
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            role: a.role.as_str(),
            contract_id: a.contract_id.map(|c| c.to_string()),
            must_change_password: a.must_change_password,
            disabled: a.disabled,
        }
    }
}

/// A JSON body whose mistakes (not JSON, wrong fields, wrong content type) are answered as
/// problem+json naming what was wrong.
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    Json<T>: axum::extract::FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Problem> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(Problem {
                status: rejection.status(),
                title: rejection
                    .status()
                    .canonical_reason()
                    .unwrap_or("Bad Request"),
                detail: rejection.body_text(),
            }),
        }
    }
}

fn bad_request(detail: String) -> Response {
    Problem {
        status: StatusCode::BAD_REQUEST,
        title: "Bad Request",
        detail,
    }
    .into_response()
}

/// The signed-in account.
pub async fn me(auth: Authorized<AnyRole>) -> Json<AccountJson> {
    Json(AccountJson::from(&auth.user.account))
}

/// Every account (administrators).
pub async fn list_users(_auth: Authorized<AdminOnly>, State(state): State<AppState>) -> Response {
    match state.store.accounts().await {
        Ok(list) => Json(list.iter().map(AccountJson::from).collect::<Vec<_>>()).into_response(),
        Err(e) => crate::internal(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserJson {
    username: String,
    display_name: String,
    role: String,
    contract_id: Option<String>,
    password: String,
}

/// Creates an account (administrators); its owner changes the password at first sign-in.
pub async fn create_user(
    auth: Authorized<AdminOnly>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewUserJson>,
) -> Response {
    let Some(role) = Role::parse(&body.role) else {
        return bad_request(format!(
            "role: expected one of admin, supervisor, agent, qa_reviewer, client_viewer; found {:?}",
            body.role
        ));
    };
    let contract_id = match body.contract_id.as_deref().map(str::parse) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(e)) => return bad_request(format!("contract_id: {e}")),
    };
    let new = NewAccount {
        username: &body.username,
        display_name: &body.display_name,
        role,
        contract_id,
        password: &body.password,
        must_change_password: true,
    };
    let actor = format!("user:{}", auth.user.account.username);
    match state.store.create_account(&actor, &new).await {
        Ok(a) => (StatusCode::CREATED, Json(AccountJson::from(&a))).into_response(),
        Err(e) if e.is_user_error() => bad_request(e.to_string()),
        Err(e) => crate::internal(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenJson {
    name: String,
}

#[derive(Serialize)]
pub struct TokenJson {
    name: String,
    /// Shown once: only its hash is stored.
    token: String,
}

/// Creates an API token acting as the signed-in account.
pub async fn create_token(
    auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewTokenJson>,
) -> Response {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return bad_request("name: expected 1 to 100 characters".to_owned());
    }
    match state
        .store
        .create_api_token(auth.user.account.id, name)
        .await
    {
        Ok(token) => (
            StatusCode::CREATED,
            Json(TokenJson {
                name: name.to_owned(),
                token,
            }),
        )
            .into_response(),
        Err(e) => crate::internal(e),
    }
}

#[derive(Serialize)]
pub struct OnDutyJson {
    username: String,
    channel: &'static str,
    since: String,
}

/// Who is on duty now, per channel (the provider's staff).
pub async fn presence(
    _auth: Authorized<crate::auth::Staff>,
    State(state): State<AppState>,
) -> Response {
    match state.store.on_duty_now().await {
        Ok(list) => Json(
            list.iter()
                .map(|d| OnDutyJson {
                    username: d.username.clone(),
                    channel: d.channel.as_str(),
                    since: d.started_at.to_string(),
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => crate::internal(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DutyJson {
    on_duty: bool,
}

/// Goes on or off duty on a channel (oneself; the provider's staff).
pub async fn set_duty(
    auth: Authorized<crate::auth::Staff>,
    State(state): State<AppState>,
    axum::extract::Path(channel): axum::extract::Path<String>,
    ApiJson(body): ApiJson<DutyJson>,
) -> Response {
    let channel: kefu_store::Channel = match channel.parse() {
        Ok(c) => c,
        Err(e) => {
            return Problem {
                status: StatusCode::NOT_FOUND,
                title: "Not Found",
                detail: e.to_string(),
            }
            .into_response();
        }
    };
    match state
        .store
        .set_duty(auth.user.account.id, channel, body.on_duty, None)
        .await
    {
        Ok(changed) => Json(serde_json::json!({
            "channel": channel.as_str(),
            "on_duty": body.on_duty,
            "changed": changed,
        }))
        .into_response(),
        Err(e) => crate::internal(e),
    }
}

#[derive(Deserialize)]
pub struct ReportQuery {
    /// The billing period, YYYY-MM.
    period: String,
}

/// The quality evaluation report of a contract's billing period (attachment 8), as JSON.
/// A client viewer (甲方) reads its own contract's only; any other is "not found" to it.
pub async fn contract_report(
    auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    axum::extract::Path(number): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<ReportQuery>,
) -> Response {
    let not_found = || {
        Problem {
            status: StatusCode::NOT_FOUND,
            title: "Not Found",
            detail: format!("no contract {number:?}"),
        }
        .into_response()
    };
    let id = match state.store.contract_id(&number).await {
        Ok(Some(id)) => id,
        Ok(None) => return not_found(),
        Err(e) => return crate::internal(e),
    };
    let account = &auth.user.account;
    if account.role.is_scoped_to_one_contract() && account.contract_id != Some(id) {
        return not_found();
    }
    let period = q
        .period
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse::<i16>().ok()?, m.parse::<i8>().ok()?)))
        .and_then(|(y, m)| kefu_core::phone::metrics::BillingPeriod::new(y, m));
    let Some(period) = period else {
        return bad_request(format!("period: expected YYYY-MM, found {:?}", q.period));
    };
    let holidays = std::sync::Arc::new(kefu_core::calendar::HolidayCalendar::builtin());
    match kefu_app::report::phone_quality_report(
        &state.store,
        Some(&number),
        period,
        holidays,
        jiff::Timestamp::now(),
    )
    .await
    {
        Ok(r) => Json(r).into_response(),
        Err(e) if e.is_user_error() => Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            title: "Unprocessable Entity",
            detail: e.to_string(),
        }
        .into_response(),
        Err(e) => crate::internal(e),
    }
}
