//! The console's follow-up work: messages customers left in the chat widget outside service
//! hours (shown masked; revealing a customer's contact needs a reason and is audit-logged),
//! the same list for integrations under `/api/v1`, and a person's language choice.

use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kefu_core::access::Role;
use kefu_core::mask::{mask_email, mask_name, mask_phone};
use kefu_store::ContactId;
use kefu_store::offline::OfflineMessage;
use serde::{Deserialize, Serialize};

use crate::auth::{Authorized, Policy, Staff};
use crate::pages::{
    Lang, csrf_of, escape, label, page, page_with_css, sign_out_form, t, url_encode, with_cookie,
};
use crate::{AppState, Problem};

/// Who follows customers up and so may see their contact after giving a reason: the
/// provider's front line (agents, supervisors, administrators), not QA reviewers or the client.
pub struct FrontLine;
impl Policy for FrontLine {
    const WHO: &'static str = "agents, supervisors and administrators";
    fn admits(role: Role) -> bool {
        matches!(role, Role::Admin | Role::Supervisor | Role::Agent)
    }
}

#[derive(Deserialize, Default)]
pub struct MessagesQuery {
    contract: Option<String>,
    lang: Option<String>,
    /// `1`: messages followed up too.
    all: Option<String>,
}

/// A message as the list shows it: customer data masked.
#[derive(Serialize)]
pub struct OfflineMessageJson {
    pub id: String,
    /// Local time in the contract's time zone, `YYYY-MM-DD HH:MM`.
    pub received_at: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub text: String,
    pub followed_up_at: Option<String>,
}

fn masked(m: &OfflineMessage, tz: &jiff::tz::TimeZone) -> OfflineMessageJson {
    let local = |t: jiff::Timestamp| tz.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string();
    OfflineMessageJson {
        id: m.contact_id.to_string(),
        received_at: local(m.received_at),
        name: m.customer.name.as_deref().map(mask_name),
        phone: m.customer.phone.as_deref().map(mask_phone),
        email: m.customer.email.as_deref().map(mask_email),
        // The text is what the customer asked for: the follow-up needs it. Numbers in it are
        // masked like any phone number would be.
        text: mask_numbers_in(&m.text),
        followed_up_at: m.followed_up_at.map(local),
    }
}

/// Runs of 7 or more digits in free text masked like phone numbers.
pub(crate) fn mask_numbers_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 7 {
            out.push_str(&mask_phone(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The contract a request means, its id and time zone.
pub(crate) async fn contract_of(
    state: &AppState,
    named: Option<&str>,
) -> Result<(String, kefu_store::ContractId, jiff::tz::TimeZone), Problem> {
    let number = kefu_app::contracts::resolve_number(&state.store, named)
        .await
        .map_err(|e| Problem {
            status: StatusCode::NOT_FOUND,
            title: "Not Found",
            detail: e.to_string(),
        })?;
    let stored = state
        .contracts
        .get(&state.store, &number)
        .await
        .map_err(|e| {
            if e.is_user_error() {
                Problem {
                    status: StatusCode::NOT_FOUND,
                    title: "Not Found",
                    detail: e.to_string(),
                }
            } else {
                crate::internal_problem(e)
            }
        })?;
    Ok((number, stored.id, stored.document.base().time_zone.clone()))
}

/// With several contracts stored and none named, a page that lets the person pick one
/// (`path` is the page to go to, given `?contract=`); `None` when there is nothing to pick.
pub(crate) async fn contract_picker(
    state: &AppState,
    named: Option<&str>,
    lang: Lang,
    path: &str,
    title: &str,
) -> Option<Response> {
    if named.is_some() {
        return None;
    }
    let numbers = state.store.contract_numbers().await.ok()?;
    if numbers.len() < 2 {
        return None;
    }
    let links: String = numbers
        .iter()
        .map(|n| {
            format!(
                "<li><a href=\"{path}?contract={q}\">{n}</a></li>",
                q = url_encode(n),
                n = escape(n)
            )
        })
        .collect();
    let body = format!(
        "<h1>{title}</h1><p><a href=\"/\">←</a> {pick}</p><ul>{links}</ul>",
        title = escape(title),
        pick = label(lang, "请选择合同:", "Choose a contract:"),
    );
    Some(page(lang, title, true, &body).into_response())
}

/// The contract a console page is about: a picker page when several are stored and none is
/// named, else its number, id and time zone (or the problem).
pub(crate) async fn page_contract(
    state: &AppState,
    named: Option<&str>,
    lang: Lang,
    path: &str,
    title: &str,
) -> Result<(String, kefu_store::ContractId, jiff::tz::TimeZone), Response> {
    if let Some(r) = contract_picker(state, named, lang, path, title).await {
        return Err(r);
    }
    contract_of(state, named)
        .await
        .map_err(IntoResponse::into_response)
}

/// `GET /api/v1/offline-messages?contract=…&all=1`: messages left outside hours, masked.
pub async fn list_api(
    _auth: Authorized<Staff>,
    State(state): State<AppState>,
    Query(q): Query<MessagesQuery>,
) -> Response {
    let (_, id, tz) = match contract_of(&state, q.contract.as_deref()).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let all = q.all.as_deref() == Some("1");
    match state.store.offline_messages(id, !all, 500).await {
        Ok(list) => Json(list.iter().map(|m| masked(m, &tz)).collect::<Vec<_>>()).into_response(),
        Err(e) => crate::internal(e),
    }
}

#[derive(Deserialize, Default)]
pub struct ContractQuery {
    contract: Option<String>,
}

/// `POST /api/v1/offline-messages/{id}/follow-up`: the message has been followed up.
pub async fn follow_up_api(
    auth: Authorized<FrontLine>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ContractQuery>,
) -> Response {
    let (_, cid, _) = match contract_of(&state, q.contract.as_deref()).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let not_found = || Problem {
        status: StatusCode::NOT_FOUND,
        title: "Not Found",
        detail: format!("no open offline message {id:?} in this contract"),
    };
    let Ok(contact) = id.parse::<ContactId>() else {
        return not_found().into_response();
    };
    match state
        .store
        .follow_up_offline_message(cid, contact, auth.user.account.id)
        .await
    {
        Ok(true) => Json(serde_json::json!({"id": id, "followed_up": true})).into_response(),
        Ok(false) => not_found().into_response(),
        Err(e) => crate::internal(e),
    }
}

/// The console page of offline messages.
pub async fn messages_page(
    auth: Authorized<Staff>,
    State(state): State<AppState>,
    Query(q): Query<MessagesQuery>,
    headers: axum::http::HeaderMap,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let title = label(lang, "客户留言", "Messages left outside hours");
    let (number, id, tz) = match page_contract(
        &state,
        q.contract.as_deref(),
        lang,
        "/console/messages",
        title,
    )
    .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let all = q.all.as_deref() == Some("1");
    let list = match state.store.offline_messages(id, !all, 500).await {
        Ok(l) => l,
        Err(e) => return crate::internal(e),
    };
    let csrf = escape(csrf_of(&auth.user));
    let may_act = FrontLine::admits(auth.user.account.role);
    let contract_q = format!("contract={}", url_encode(&number));
    let rows: String = list
        .iter()
        .map(|m| {
            let v = masked(m, &tz);
            let reach = [v.phone.as_deref(), v.email.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let actions = if v.followed_up_at.is_some() || !may_act {
                escape(v.followed_up_at.as_deref().unwrap_or(""))
            } else {
                format!(
                    "<form method=\"post\" action=\"/console/messages/{id}/reveal?{contract_q}\" class=\"inline\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <input name=\"reason\" required placeholder=\"{reason}\" aria-label=\"{reason}\">\
                     <button type=\"submit\">{reveal}</button></form>\
                     <form method=\"post\" action=\"/console/messages/{id}/follow-up?{contract_q}\" class=\"inline\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <button type=\"submit\">{done}</button></form>",
                    id = escape(&v.id),
                    reason = label(lang, "查看原因(必填)", "Reason (required)"),
                    reveal = label(lang, "查看联系方式", "Show contact"),
                    done = label(lang, "已跟进", "Followed up"),
                )
            };
            format!(
                "<tr><td>{at}</td><td>{name}</td><td>{reach}</td><td class=\"text\">{text}</td><td>{actions}</td></tr>",
                at = escape(&v.received_at),
                name = escape(v.name.as_deref().unwrap_or("—")),
                reach = escape(&reach),
                text = escape(&v.text),
            )
        })
        .collect();
    let empty = if list.is_empty() {
        format!(
            "<p class=\"note\">{}</p>",
            label(
                lang,
                "没有待跟进的留言。",
                "No messages waiting for follow-up."
            )
        )
    } else {
        String::new()
    };
    let body = format!(
        "<header><h1>kefu · {title}</h1>{out}</header>\
         <p><a href=\"/\">←</a> {hint} · {contract} <strong>{number}</strong> · \
         <a href=\"/console/messages?{contract_q}{toggle_q}\">{toggle}</a></p>\
         <table class=\"list\"><thead><tr><th>{h_at}</th><th>{h_name}</th><th>{h_reach}</th><th>{h_text}</th><th></th></tr></thead>\
         <tbody>{rows}</tbody></table>{empty}",
        out = sign_out_form(lang, csrf_of(&auth.user)),
        hint = label(
            lang,
            "客户在服务时间以外通过在线客服留下的消息,请在服务时间内联系客户。",
            "Customers left these in the chat widget outside service hours; contact them during service hours."
        ),
        contract = label(lang, "合同", "Contract"),
        number = escape(&number),
        toggle_q = if all { "" } else { "&all=1" },
        toggle = if all {
            label(lang, "只看待跟进", "Waiting only")
        } else {
            label(lang, "全部留言", "All messages")
        },
        h_at = label(lang, "留言时间", "Received"),
        h_name = label(lang, "称呼", "Name"),
        h_reach = label(lang, "联系方式", "Contact"),
        h_text = label(lang, "内容", "Message"),
    );
    let css = "td.text{white-space:pre-wrap;max-width:22rem}\
        form.inline{display:flex;gap:.3rem;margin:.2rem 0}form.inline input{width:9rem;padding:.3rem;font-size:.9rem}form.inline button{margin:0}";
    page_with_css(lang, title, &body, css)
}

#[derive(Deserialize)]
pub struct RevealForm {
    csrf: String,
    reason: String,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// Shows one customer's contact unmasked, after recording who asked and why.
pub async fn reveal(
    auth: Authorized<FrontLine>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<MessagesQuery>,
    headers: axum::http::HeaderMap,
    Form(form): Form<RevealForm>,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    if csrf_of(&auth.user).is_empty() || form.csrf != csrf_of(&auth.user) {
        return (StatusCode::FORBIDDEN, t(lang, "bad_form")).into_response();
    }
    let reason = form.reason.trim();
    if reason.chars().count() < 2 || reason.chars().count() > 500 {
        return (
            StatusCode::BAD_REQUEST,
            label(
                lang,
                "请写明查看原因(2–500 字)。",
                "Give a reason (2–500 characters).",
            ),
        )
            .into_response();
    }
    let (number, cid, tz) = match contract_of(&state, q.contract.as_deref()).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let found = match id.parse::<ContactId>() {
        Ok(contact) => state.store.offline_message(cid, contact).await,
        Err(_) => Ok(None),
    };
    let m = match found {
        Ok(Some(m)) => m,
        Ok(None) => {
            return (StatusCode::NOT_FOUND, "no such message in this contract").into_response();
        }
        Err(e) => return crate::internal(e),
    };
    let entry = kefu_store::NewAuditEntry {
        actor: auth.user.account.username.clone(),
        action: "customer.unmasked".to_owned(),
        subject: format!("contact:{id}"),
        detail: serde_json::json!({"contract": number, "reason": reason, "what": "offline message contact"}),
    };
    if let Err(e) = state.store.audit().append(entry).await {
        return crate::internal(e);
    }
    let v = masked(&m, &tz);
    let row = |k: &str, val: Option<&str>| {
        val.map(|x| format!("<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(x)))
            .unwrap_or_default()
    };
    let body = format!(
        "<h1>{title}</h1><p class=\"note\">{logged}</p><table>{a}{b}{c}{d}{e}</table>\
         <p><a href=\"/console/messages?contract={n}\">← {back}</a></p>",
        title = label(lang, "客户联系方式", "Customer contact"),
        logged = label(
            lang,
            "本次查看已记入审计日志。",
            "This view was recorded in the audit log."
        ),
        a = row(label(lang, "留言时间", "Received"), Some(&v.received_at)),
        b = row(label(lang, "称呼", "Name"), m.customer.name.as_deref()),
        c = row(label(lang, "电话", "Phone"), m.customer.phone.as_deref()),
        d = row(label(lang, "邮箱", "Email"), m.customer.email.as_deref()),
        e = row(label(lang, "内容", "Message"), Some(&m.text)),
        n = url_encode(&number),
        back = label(lang, "客户留言", "Messages"),
    );
    let mut r = page(
        lang,
        label(lang, "客户联系方式", "Customer contact"),
        true,
        &body,
    )
    .into_response();
    // Unmasked data is not kept in any cache.
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

/// The console's "followed up" button.
pub async fn follow_up_submit(
    auth: Authorized<FrontLine>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<MessagesQuery>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if csrf_of(&auth.user).is_empty() || form.csrf != csrf_of(&auth.user) {
        return (StatusCode::FORBIDDEN, "wrong form token").into_response();
    }
    let (number, cid, _) = match contract_of(&state, q.contract.as_deref()).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let Ok(contact) = id.parse::<ContactId>() else {
        return (StatusCode::NOT_FOUND, "no such message").into_response();
    };
    match state
        .store
        .follow_up_offline_message(cid, contact, auth.user.account.id)
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/console/messages?contract={}",
            url_encode(&number)
        ))
        .into_response(),
        Err(e) => crate::internal(e),
    }
}

#[derive(Deserialize)]
pub struct LanguageForm {
    csrf: String,
    lang: String,
}

/// Saves a person's language: it follows them to every browser they sign in from.
pub async fn language_submit(
    auth: Authorized<crate::auth::AnyRole>,
    State(state): State<AppState>,
    Form(form): Form<LanguageForm>,
) -> Response {
    if csrf_of(&auth.user).is_empty() || form.csrf != csrf_of(&auth.user) {
        return (StatusCode::FORBIDDEN, "wrong form token").into_response();
    }
    match state
        .store
        .set_preferred_lang(auth.user.account.id, &form.lang)
        .await
    {
        Ok(()) => with_cookie(
            Redirect::to("/").into_response(),
            &crate::pages::lang_cookie(&form.lang),
        ),
        Err(kefu_store::StoreError::Invalid(why)) => (StatusCode::BAD_REQUEST, why).into_response(),
        Err(e) => crate::internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::mask_numbers_in;

    #[test]
    fn long_digit_runs_in_free_text_are_masked_and_short_ones_kept() {
        let cases = [
            ("请回电 13812345678 谢谢", "请回电 138****5678 谢谢"),
            ("宽带账号 0201234567", "宽带账号 ******4567"),
            ("3 号楼 502 室", "3 号楼 502 室"),
            ("", ""),
        ];
        for (text, want) in cases {
            assert_eq!(mask_numbers_in(text), want);
        }
    }
}
