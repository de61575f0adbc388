//! The console's look back: a day's chat conversations (an agent sees their own, supervisors,
//! QA and administrators everyone's), a conversation's transcript with customer numbers
//! masked, and finding a customer's contacts by phone number (calls and messages left, masked;
//! every search is audit-logged, because it tells whether someone called).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kefu_core::access::Role;
use kefu_core::mask::mask_phone;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Authorized, Staff};
use crate::console::{FrontLine, contract_of, mask_numbers_in, page_contract};
use crate::pages::{Lang, csrf_of, escape, label, page_with_css, sign_out_form, url_encode};

const CSS: &str = "form.filter{display:flex;gap:.5rem;align-items:end;flex-wrap:wrap}form.filter input{width:auto}form.filter button{margin:0}\
    .m{max-width:80%;margin:.3rem 0;padding:.4rem .6rem;border-radius:6px;white-space:pre-wrap}.m.customer{background:#fff;border:1px solid #dde}\
    .m.agent{margin-left:auto;background:#dbe8ff}.m.system{margin:auto;color:#667}.t{font-size:.75rem;color:#667}.log{background:#f5f6f8;padding:.6rem;border-radius:6px}";

fn styled(lang: Lang, title: &str, body: &str) -> Response {
    page_with_css(lang, title, body, CSS)
}

#[derive(Deserialize, Default)]
pub struct HistoryQuery {
    contract: Option<String>,
    lang: Option<String>,
    /// `YYYY-MM-DD` in the contract's time zone (default: today).
    day: Option<String>,
}

fn state_label(lang: Lang, state: &str) -> &'static str {
    match state {
        "waiting" => label(lang, "排队中", "waiting"),
        "active" => label(lang, "进行中", "active"),
        _ => label(lang, "已结束", "ended"),
    }
}

fn sees_everyone(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Supervisor | Role::QaReviewer)
}

/// `GET /console/history`: a day's conversations.
pub async fn history_page(
    auth: Authorized<Staff>,
    State(state): State<AppState>,
    Query(q): Query<HistoryQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let title = label(lang, "会话记录", "Conversation history");
    let (number, cid, tz) = match page_contract(
        &state,
        q.contract.as_deref(),
        lang,
        "/console/history",
        title,
    )
    .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let today = tz.to_datetime(jiff::Timestamp::now()).date();
    let day = match q.day.as_deref().map(str::parse::<jiff::civil::Date>) {
        None => today,
        Some(Ok(d)) => d,
        Some(Err(_)) => {
            return (
                StatusCode::BAD_REQUEST,
                label(
                    lang,
                    "日期格式应为 YYYY-MM-DD。",
                    "day: expected YYYY-MM-DD.",
                ),
            )
                .into_response();
        }
    };
    let midnight =
        |d: jiff::civil::Date| tz.to_timestamp(d.to_datetime(jiff::civil::Time::midnight()));
    let span = day
        .tomorrow()
        .ok()
        .and_then(|next| Some((midnight(day).ok()?, midnight(next).ok()?)));
    let Some((from, to)) = span else {
        return (StatusCode::BAD_REQUEST, "day out of range").into_response();
    };
    let me = &auth.user.account;
    let only = (!sees_everyone(me.role)).then_some(me.id);
    let list = match state.store.chat_history(cid, from, to, only, 1000).await {
        Ok(l) => l,
        Err(e) => return crate::internal(e),
    };
    let local = |t: jiff::Timestamp| tz.to_datetime(t).strftime("%H:%M:%S").to_string();
    let contract_q = format!("contract={}", url_encode(&number));
    let rows: String = list
        .iter()
        .map(|c| {
            let state_label = state_label(lang, &c.state);
            format!(
                "<tr><td>{at}</td><td>{state_label}</td><td>{agent}</td><td>{n}</td><td>{rating}</td>\
                 <td><a href=\"/console/history/{id}?{contract_q}\">{open}</a></td></tr>",
                at = local(c.started_at),
                agent = escape(c.agent.as_ref().map_or("—", |(_, n)| n.as_str())),
                n = c.messages,
                rating = c.rating.map_or("—".to_owned(), |r| "★".repeat(usize::from(r))),
                id = escape(&c.id),
                open = label(lang, "查看", "Open"),
            )
        })
        .collect();
    let empty = if list.is_empty() {
        format!(
            "<p class=\"note\">{}</p>",
            label(lang, "这一天没有会话。", "No conversations on this day.")
        )
    } else {
        String::new()
    };
    let body = format!(
        "<header><h1>kefu · {title}</h1>{out}</header>\
         <p><a href=\"/\">←</a> {contract} <strong>{number}</strong> · {scope}</p>\
         <form class=\"filter\" method=\"get\"><input type=\"hidden\" name=\"contract\" value=\"{num_attr}\">\
         <label>{day_l}<input type=\"date\" name=\"day\" value=\"{day}\"></label><button type=\"submit\">{show}</button></form>\
         <table class=\"list\"><thead><tr><th>{h_at}</th><th>{h_state}</th><th>{h_agent}</th><th>{h_n}</th><th>{h_rating}</th><th></th></tr></thead>\
         <tbody>{rows}</tbody></table>{empty}",
        out = sign_out_form(lang, csrf_of(&auth.user)),
        contract = label(lang, "合同", "Contract"),
        number = escape(&number),
        num_attr = escape(&number),
        scope = if only.is_some() {
            label(lang, "我处理的会话", "conversations you handled")
        } else {
            label(lang, "全部会话", "all conversations")
        },
        day_l = label(lang, "日期", "Day"),
        show = label(lang, "查看", "Show"),
        h_at = label(lang, "开始时间", "Started"),
        h_state = label(lang, "状态", "State"),
        h_agent = label(lang, "坐席", "Agent"),
        h_n = label(lang, "消息数", "Messages"),
        h_rating = label(lang, "满意度", "Rating"),
    );
    styled(lang, title, &body)
}

/// `GET /console/history/{id}`: one conversation's transcript, numbers masked.
pub async fn transcript_page(
    auth: Authorized<Staff>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            label(lang, "没有这个会话。", "No such conversation."),
        )
            .into_response()
    };
    let (number, cid, tz) = match contract_of(&state, q.contract.as_deref()).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let (conv_contract, conv_state, agent) = match state.store.conversation(&id).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found(),
        Err(e) => return crate::internal(e),
    };
    let me = &auth.user.account;
    // Another contract's conversation, or (for an agent) someone else's, does not exist here.
    if conv_contract != cid || (!sees_everyone(me.role) && agent != Some(me.id)) {
        return not_found();
    }
    let messages = match state.store.messages_after(&id, 0).await {
        Ok(m) => m,
        Err(e) => return crate::internal(e),
    };
    let lines: String = messages
        .iter()
        .map(|m| {
            let who = match m.sender {
                kefu_store::chat::Sender::Customer => ("customer", label(lang, "客户", "Customer")),
                kefu_store::chat::Sender::Agent => ("agent", label(lang, "坐席", "Agent")),
                kefu_store::chat::Sender::System => ("system", label(lang, "系统", "System")),
            };
            format!(
                "<div class=\"m {cls}\"><div class=\"t\">{who} · {at}</div>{text}</div>",
                cls = who.0,
                who = who.1,
                at = tz.to_datetime(m.sent_at).strftime("%Y-%m-%d %H:%M:%S"),
                text = escape(&mask_numbers_in(&m.text)),
            )
        })
        .collect();
    let title = label(lang, "会话记录", "Conversation");
    let body = format!(
        "<header><h1>kefu · {title}</h1>{out}</header>\
         <p><a href=\"/console/history?contract={n}\">←</a> {contract} <strong>{number}</strong> · {state_l}: {st}</p>\
         <div class=\"log\">{lines}</div><p class=\"note\">{masked}</p>",
        out = sign_out_form(lang, csrf_of(&auth.user)),
        n = url_encode(&number),
        contract = label(lang, "合同", "Contract"),
        number = escape(&number),
        state_l = label(lang, "状态", "State"),
        st = state_label(lang, &conv_state),
        masked = label(
            lang,
            "消息中的长数字(电话、账号)已做掩码处理。",
            "Long numbers in messages (phones, accounts) are masked."
        ),
    );
    styled(lang, title, &body)
}

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    contract: Option<String>,
    lang: Option<String>,
    phone: Option<String>,
    /// How many days back to look (default 31, at most 93).
    days: Option<u16>,
}

/// `GET /console/search?phone=…`: a customer's calls and messages left, by phone number.
pub async fn search_page(
    auth: Authorized<FrontLine>,
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let title = label(lang, "客户查询", "Find a customer");
    let (number, cid, tz) = match page_contract(
        &state,
        q.contract.as_deref(),
        lang,
        "/console/search",
        title,
    )
    .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let days = q.days.unwrap_or(31).clamp(1, 93);
    let phone = q.phone.as_deref().map(str::trim).unwrap_or("");
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let mut results = String::new();
    if !phone.is_empty() {
        if digits.len() < 5 {
            results = format!(
                "<p class=\"err\">{}</p>",
                label(
                    lang,
                    "请输入完整的电话号码(至少 5 位数字)。",
                    "Enter a whole phone number (5 digits or more)."
                )
            );
        } else {
            let entry = kefu_store::NewAuditEntry {
                actor: auth.user.account.username.clone(),
                action: "customer.searched".to_owned(),
                subject: format!("contract:{number}"),
                detail: serde_json::json!({"phone": mask_phone(&digits), "days": days}),
            };
            if let Err(e) = state.store.audit().append(entry).await {
                return crate::internal(e);
            }
            let now = jiff::Timestamp::now();
            let from = now - jiff::SignedDuration::from_hours(24 * i64::from(days));
            let calls = match state
                .store
                .calls_offered_between(cid, None, from, now, true)
                .await
            {
                Ok(c) => c,
                Err(e) => return crate::internal(e),
            };
            let same = |c: &str| {
                let d: String = c.chars().filter(char::is_ascii_digit).collect();
                d == digits || d.ends_with(&digits) || digits.ends_with(&d) && d.len() >= 7
            };
            let local =
                |t: jiff::Timestamp| tz.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string();
            let mut rows: Vec<(jiff::Timestamp, String)> = calls
                .iter()
                .filter(|c| c.call.caller.as_deref().is_some_and(same))
                .map(|c| {
                    let call = &c.call;
                    (
                        call.offered_at,
                        format!(
                            "<tr><td>{at}</td><td>{ch}</td><td>{outcome}</td><td>{wait}</td><td>{agent}</td></tr>",
                            at = local(call.offered_at),
                            ch = label(lang, "电话", "Phone"),
                            outcome = escape(&format!("{:?}", call.outcome).to_lowercase()),
                            wait = call.wait().map_or("—".to_owned(), |w| format!("{:.0} s", w.as_secs_f64())),
                            agent = escape(call.agent.as_deref().unwrap_or("—")),
                        ),
                    )
                })
                .collect();
            let messages = match state.store.offline_messages(cid, false, 5000).await {
                Ok(m) => m,
                Err(e) => return crate::internal(e),
            };
            rows.extend(
                messages
                    .iter()
                    .filter(|m| m.received_at >= from)
                    .filter(|m| m.customer.phone.as_deref().is_some_and(same))
                    .map(|m| {
                        (
                            m.received_at,
                            format!(
                                "<tr><td>{at}</td><td>{ch}</td><td>{st}</td><td>—</td><td>{text}</td></tr>",
                                at = local(m.received_at),
                                ch = label(lang, "在线留言", "Message left"),
                                st = if m.followed_up_at.is_some() {
                                    label(lang, "已跟进", "followed up")
                                } else {
                                    label(lang, "待跟进", "waiting")
                                },
                                text = escape(&mask_numbers_in(&m.text)),
                            ),
                        )
                    }),
            );
            rows.sort_by_key(|r| std::cmp::Reverse(r.0));
            let found = rows.len();
            results = format!(
                "<p>{masked} · {found} {n}</p><table class=\"list\"><thead><tr><th>{h_at}</th><th>{h_ch}</th><th>{h_out}</th><th>{h_wait}</th><th>{h_who}</th></tr></thead><tbody>{rows}</tbody></table>",
                masked = escape(&mask_phone(&digits)),
                n = label(lang, "条记录", "contacts"),
                rows = rows.into_iter().map(|(_, r)| r).collect::<String>(),
                h_at = label(lang, "时间", "When"),
                h_ch = label(lang, "渠道", "Channel"),
                h_out = label(lang, "结果", "Outcome"),
                h_wait = label(lang, "等待", "Wait"),
                h_who = label(lang, "坐席 / 内容", "Agent / message"),
            );
        }
    }
    let body = format!(
        "<header><h1>kefu · {title}</h1>{out}</header>\
         <p><a href=\"/\">←</a> {contract} <strong>{number}</strong></p>\
         <form class=\"filter\" method=\"get\"><input type=\"hidden\" name=\"contract\" value=\"{num_attr}\">\
         <label>{phone_l}<input name=\"phone\" inputmode=\"tel\" autocomplete=\"off\"></label>\
         <label>{days_l}<input type=\"number\" name=\"days\" min=\"1\" max=\"93\" value=\"{days}\"></label>\
         <button type=\"submit\">{go}</button></form><p class=\"note\">{logged}</p>{results}",
        out = sign_out_form(lang, csrf_of(&auth.user)),
        contract = label(lang, "合同", "Contract"),
        number = escape(&number),
        num_attr = escape(&number),
        phone_l = label(lang, "电话号码", "Phone number"),
        days_l = label(lang, "最近天数", "Days back"),
        go = label(lang, "查询", "Search"),
        logged = label(
            lang,
            "每次查询都记入审计日志;结果中的号码已掩码。",
            "Every search is recorded in the audit log; numbers in the results are masked."
        ),
    );
    styled(lang, title, &body)
}
