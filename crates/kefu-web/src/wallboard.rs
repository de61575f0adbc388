//! The supervisor's wallboard: per channel, today and this billing period against the
//! contract's targets, pushed to the browser every few seconds (Server-Sent Events), targets
//! at risk highlighted with what the rest of the period must bring.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Authorized, Policy};

/// Who sees the wallboard: supervisors and administrators.
pub struct Supervisors;
impl Policy for Supervisors {
    const WHO: &'static str = "supervisors and administrators";
    fn admits(role: kefu_core::access::Role) -> bool {
        matches!(
            role,
            kefu_core::access::Role::Admin | kefu_core::access::Role::Supervisor
        )
    }
}

/// How often the figures are pushed.
const EVERY: Duration = Duration::from_secs(3);

#[derive(Deserialize, Default)]
pub struct BoardQuery {
    contract: Option<String>,
    lang: Option<String>,
}

/// The figures of one moment.
pub async fn figures(state: &AppState, contract: Option<&str>) -> Value {
    let now = jiff::Timestamp::now();
    let holidays = state.contracts.holidays();
    let number = match kefu_app::contracts::resolve_number(&state.store, contract).await {
        Ok(n) => n,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let stored = match state.contracts.get(&state.store, &number).await {
        Ok(s) => s,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let tz = stored.document.base().time_zone.clone();
    let today = tz.to_datetime(now).date();
    // Today's chat turns at any hour: how responsive the desk is right now.
    let chat_today = {
        use kefu_core::contract::{ChannelKind, ChatResponseDefinition, Metric};
        let (def, auto) = stored
            .document
            .terms_on(today)
            .ok()
            .and_then(|t| {
                t.contract.channel(ChannelKind::Chat).and_then(|ch| {
                    ch.targets.iter().find_map(|t| match t.metric {
                        Metric::ChatResponseTime {
                            definition,
                            include_automatic_replies,
                            ..
                        } => Some((definition, include_automatic_replies)),
                        _ => None,
                    })
                })
            })
            .unwrap_or((
                ChatResponseDefinition::FirstUnansweredToNextAgentMessage,
                false,
            ));
        let midnight = tz
            .to_timestamp(today.to_datetime(jiff::civil::Time::midnight()))
            .unwrap_or(now);
        let convs = state
            .store
            .chat_conversations_between(
                stored.id,
                midnight,
                now + jiff::SignedDuration::from_secs(1),
            )
            .await
            .unwrap_or_default();
        let mut turns: Vec<kefu_core::chat::Turn> = convs
            .iter()
            .flat_map(|c| kefu_core::chat::turns(&c.lines, def, auto))
            .collect();
        turns.sort_by_key(|t| t.from);
        let n = turns.len() as f64;
        let sum: f64 = turns.iter().map(|t| t.took.as_secs_f64()).sum();
        json!({
            "conversations": convs.len(),
            "turns": turns.len(),
            "average_response_seconds": (n > 0.0).then(|| sum / n),
            "last_response_seconds": turns.last().map(|t| t.took.as_secs_f64()),
        })
    };
    let period = kefu_core::phone::metrics::BillingPeriod::of(today);
    let report = match kefu_app::report::quality_report(
        &state.store,
        Some(&number),
        period,
        holidays.clone(),
        now,
        false,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let (waiting, agents) = state.chat.snapshot();
    let on_duty = state.store.on_duty_now().await.unwrap_or_default();
    let today_text = today.to_string();
    let phone = report.channels.phone.as_ref().map(|p| {
        json!({
            "today": p.days.iter().find(|d| d.date == today_text),
            "period": {
                "offered": p.offered,
                "answered": p.answered,
                "abandoned": p.abandoned,
                "connection_rate": p.connection_rate,
                "asa_seconds": p.asa_seconds,
                "service_level": p.service_level.value,
            },
            "targets": p.targets,
            "budget": p.budget,
        })
    });
    let chat = report.channels.chat.as_ref().map(|c| {
        json!({
            "period": c,
            "today": chat_today,
            "waiting": waiting,
            "agents_connected": agents.len(),
            "open_conversations": agents.iter().map(|(_, n)| n).sum::<usize>(),
        })
    });
    // Staffing now (clause 2.2): per channel, open or not, who is on duty in kefu, the
    // contract's minimum, and for the phone what this interval's forecast requires.
    let staffing = {
        use kefu_core::contract::ChannelKind;
        let plan = state
            .contracts
            .week_plan(&state.store, &number, now)
            .await
            .ok();
        let tz = stored.document.base().time_zone.clone();
        let minutes = plan
            .as_ref()
            .map_or(30, |p| i64::from(p.interval_minutes.max(1)));
        let local = tz.to_datetime(now);
        let slot_start = local
            .date()
            .to_datetime(jiff::civil::Time::midnight())
            .checked_add(jiff::SignedDuration::from_mins(
                (i64::from(local.hour()) * 60 + i64::from(local.minute())) / minutes * minutes,
            ))
            .map(|d| d.strftime("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default();
        let slot = plan
            .as_ref()
            .and_then(|p| p.slots.iter().find(|s| s.start == slot_start).cloned());
        let base = stored.document.base();
        ChannelKind::ALL
            .iter()
            .filter(|k| base.channel(**k).is_some_and(|c| c.enabled))
            .map(|k| {
                let open = crate::contracts::hours_now(&stored, *k, holidays.clone(), now)
                    .is_some_and(|h| h.open);
                let on = on_duty.iter().filter(|d| d.channel.as_str() == k.key()).count();
                let minimum = base.staffing.min_agents.get(k).copied().unwrap_or(0);
                let required = (*k == ChannelKind::Phone)
                    .then(|| slot.as_ref().map(|s| s.required_agents))
                    .flatten();
                json!({
                    "channel": k.key(),
                    "open": open,
                    "on_duty": on,
                    "min_agents": minimum,
                    "required_agents": required,
                    "forecast_contacts": (*k == ChannelKind::Phone).then(|| slot.as_ref().map(|s| s.forecast_contacts)).flatten(),
                    "not_provided_now": open && on == 0,
                })
            })
            .collect::<Vec<_>>()
    };
    json!({
        "contract": number,
        "period": report.period,
        "at": now.to_string(),
        "phone": phone,
        "chat": chat,
        "staffing": staffing,
        "on_duty": on_duty.iter().map(|d| json!({"user": d.username, "channel": d.channel.as_str()})).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/wallboard`: the figures now, as JSON.
pub async fn snapshot(
    _auth: Authorized<Supervisors>,
    State(state): State<AppState>,
    Query(q): Query<BoardQuery>,
) -> Response {
    axum::Json(figures(&state, q.contract.as_deref()).await).into_response()
}

/// `GET /api/v1/wallboard/stream`: the figures every few seconds (Server-Sent Events).
pub async fn stream(
    _auth: Authorized<Supervisors>,
    State(state): State<AppState>,
    Query(q): Query<BoardQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let contract = q.contract;
    let s = futures_util::stream::unfold(
        (state, contract, true),
        |(state, contract, first)| async move {
            if !first {
                tokio::time::sleep(EVERY).await;
            }
            let v = figures(&state, contract.as_deref()).await;
            let ev = Event::default().event("figures").data(v.to_string());
            Some((Ok(ev), (state, contract, false)))
        },
    );
    Sse::new(s).keep_alive(KeepAlive::default())
}

const BOARD_JS: &str = include_str!("../assets/wallboard.js");

/// The wallboard page.
pub async fn page(
    _auth: Authorized<Supervisors>,
    State(state): State<AppState>,
    Query(q): Query<BoardQuery>,
    headers: HeaderMap,
) -> Response {
    let en = crate::pages::wants_english(q.lang.as_deref(), &headers);
    let lang = if en {
        crate::pages::Lang::En
    } else {
        crate::pages::Lang::Zh
    };
    let title = if en { "Wallboard" } else { "监控大屏" };
    if let Some(r) =
        crate::console::contract_picker(&state, q.contract.as_deref(), lang, "/wallboard", title)
            .await
    {
        return r;
    }
    let contract = q
        .contract
        .as_deref()
        .map(|c| format!("?contract={}", crate::pages::url_encode(c)))
        .unwrap_or_default();
    Html(format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title} · kefu</title>\
         <style>body{{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:0;background:#0f1722;color:#e8eef8}}\
         h1{{font-size:1.3rem;margin:0;padding:1rem 1.5rem;background:#17243a;display:flex;justify-content:space-between}}\
         .grid{{display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:1rem;padding:1rem 1.5rem}}\
         .tile{{background:#17243a;border-radius:8px;padding:1rem}}.tile h3{{margin:0 0 .4rem;font-size:.95rem;color:#9fb3cf}}\
         .big{{font-size:2.2rem;font-weight:600}}.sub{{color:#9fb3cf;font-size:.85rem}}.met{{border-left:6px solid #2fb36b}}\
         .missed{{border-left:6px solid #e5484d;background:#3a1c22}}.none{{border-left:6px solid #6b7a90}}\
         h2{{margin:.5rem 1.5rem 0;font-size:1.1rem;color:#c9d6ea}}#err{{color:#ffb4b4;padding:0 1.5rem}}</style></head>\
         <body><h1><span>kefu · {title}</span><span id=\"at\"></span></h1><p id=\"err\"></p><div id=\"board\"></div>\
         <script>window.KEFU_BOARD={{url:\"/api/v1/wallboard/stream{contract}\",en:{en}}};</script>\
         <script src=\"/wallboard.js\"></script></body></html>",
        lang = if en { "en" } else { "zh-CN" },
    ))
    .into_response()
}

pub async fn board_js() -> Response {
    let mut r = BOARD_JS.into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    r
}
