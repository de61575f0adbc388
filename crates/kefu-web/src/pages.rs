//! Server-rendered pages: sign-in, the console's home, changing one's password, sign-out.
//! Every label in Simplified Chinese and English, chosen by `?lang=` or the browser's
//! `Accept-Language`.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{AnyRole, Authorized, CSRF_COOKIE, SESSION_COOKIE, SignedIn, Via};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub(crate) fn pick(query: Option<&str>, headers: &HeaderMap) -> Lang {
        // `?lang=` first, then the choice remembered from an earlier `?lang=` (a cookie), then
        // the browser's languages.
        let remembered = crate::auth::cookie(headers, LANG_COOKIE);
        match query.or(remembered.as_deref()) {
            Some("en") => return Lang::En,
            Some("zh") => return Lang::Zh,
            _ => {}
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // The first language the browser names that we have; Chinese when it names none.
        for part in accept.split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("zh") {
                return Lang::Zh;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::Zh
    }

    fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// Remembers a language chosen with `?lang=`.
pub const LANG_COOKIE: &str = "kefu_lang";

/// Middleware: a request with `?lang=zh|en` makes that the language of the next pages too.
pub async fn remember_lang(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let chosen = req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .map(|(_, v)| v.to_owned())
    });
    let res = next.run(req).await;
    match chosen.as_deref() {
        Some(l @ ("zh" | "en")) => with_cookie(res, &lang_cookie(l)),
        _ => res,
    }
}

/// The cookie that remembers a language in this browser.
pub(crate) fn lang_cookie(lang: &str) -> String {
    format!("{LANG_COOKIE}={lang}; Path=/; SameSite=Lax; Max-Age=31536000")
}

/// A label in the page's language.
pub(crate) fn t(lang: Lang, key: &str) -> &'static str {
    let (zh, en) = match key {
        "title.login" => ("登录", "Sign in"),
        "username" => ("用户名", "User name"),
        "password" => ("密码", "Password"),
        "sign_in" => ("登录", "Sign in"),
        "sign_out" => ("退出登录", "Sign out"),
        "bad_login" => ("用户名或密码不正确。", "Wrong user name or password."),
        "too_many" => (
            "登录失败次数过多,请稍后再试。",
            "Too many failed sign-ins; try again later.",
        ),
        "bad_form" => ("表单已过期,请重试。", "The form expired; please try again."),
        "title.home" => ("客服工作台", "Console"),
        "signed_in_as" => ("当前用户", "Signed in as"),
        "role" => ("角色", "Role"),
        "title.password" => ("修改密码", "Change password"),
        "must_change" => (
            "首次登录请先修改密码。",
            "Please change your password before you go on.",
        ),
        "current_password" => ("当前密码", "Current password"),
        "new_password" => (
            "新密码(至少 12 个字符)",
            "New password (12 characters or more)",
        ),
        "confirm_password" => ("确认新密码", "Confirm the new password"),
        "save" => ("保存", "Save"),
        "mismatch" => ("两次输入的新密码不一致。", "The new passwords differ."),
        "wrong_current" => ("当前密码不正确。", "The current password is wrong."),
        "changed" => ("密码已修改。", "Your password was changed."),
        "coming" => (
            "监控大屏与更多坐席功能正在建设中;现可使用:",
            "The wallboard and more of the console are being built; available now:",
        ),
        "duty" => ("值班状态", "On duty"),
        "go_on" => ("上线", "Go on duty"),
        "go_off" => ("下线", "Go off duty"),
        "on" => ("值班中", "on duty"),
        "off" => ("未值班", "off duty"),
        "ch.phone" => ("电话", "Phone"),
        "ch.chat" => ("在线客服", "Chat"),
        "ch.email" => ("邮件", "Email"),
        "ch.onsite" => ("上门服务", "On-site"),
        "title.chat" => ("在线客服工作台", "Chat console"),
        "title.board" => ("监控大屏", "Wallboard"),
        "title.messages" => ("客户留言", "Messages left"),
        "title.history" => ("会话记录", "Conversation history"),
        "title.search" => ("客户查询", "Find a customer"),
        "language" => ("语言", "Language"),
        "chat_hint" => (
            "上线“在线客服”后,分配给您的会话会显示在这里。",
            "Conversations given to you appear here while you are on duty for chat.",
        ),
        "connecting" => ("连接中…", "Connecting…"),
        "title.demo" => ("在线客服演示页", "Chat widget demo page"),
        "demo_text" => (
            "这是一个嵌入了 kefu 在线客服组件的示例页面。点击右下角按钮开始咨询。",
            "This page embeds the kefu chat widget. Click the button at the bottom right to start.",
        ),
        _ => ("?", "?"),
    };
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

fn role_label(lang: Lang, role: kefu_core::access::Role) -> &'static str {
    use kefu_core::access::Role::*;
    match (lang, role) {
        (Lang::Zh, Admin) => "管理员",
        (Lang::Zh, Supervisor) => "班组长",
        (Lang::Zh, Agent) => "坐席",
        (Lang::Zh, QaReviewer) => "质检员",
        (Lang::Zh, ClientViewer) => "甲方查看",
        (Lang::En, Admin) => "Administrator",
        (Lang::En, Supervisor) => "Supervisor",
        (Lang::En, Agent) => "Agent",
        (Lang::En, QaReviewer) => "QA reviewer",
        (Lang::En, ClientViewer) => "Client viewer",
    }
}

/// Whether a page should be in English (`?lang=`, the remembered choice, the browser).
pub fn wants_english(query: Option<&str>, headers: &HeaderMap) -> bool {
    Lang::pick(query, headers) == Lang::En
}

/// Text made safe for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local path to go to after signing in (never another site).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:0;background:#f5f6f8;color:#1d2330}\
main{max-width:28rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}\
main.wide{max-width:60rem}h1{font-size:1.4rem;margin-top:0}label{display:block;margin:.8rem 0 .3rem}\
input{width:100%;box-sizing:border-box;padding:.55rem;font-size:1rem;border:1px solid #bbc;border-radius:4px}\
button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem;background:#1f5fbf;color:#fff;border:0;border-radius:4px;cursor:pointer}\
.err{color:#b00020}.ok{color:#0a7a32}header{display:flex;justify-content:space-between;align-items:center}\
table.list{width:100%;border-collapse:collapse}table.list th{text-align:left;border-bottom:2px solid #dde;padding:.3rem}\
table.list td{border-bottom:1px solid #eef;vertical-align:top;padding:.4rem .3rem}.note{color:#667}\
nav a{margin-right:1rem}form.inline{display:inline-block;margin:0}form.inline button{margin:0 .3rem 0 0;padding:.3rem .8rem}button:disabled{background:#889}td{padding:.3rem 1.4rem .3rem 0}table button{padding:.35rem .9rem;font-size:.9rem}@media(max-width:32rem){main{margin:0;border-radius:0}}";

pub(crate) fn page(lang: Lang, title: &str, wide: bool, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · kefu</title><style>{STYLE}</style></head><body><main{}>{body}</main></body></html>",
        lang.code(),
        escape(title),
        if wide { " class=\"wide\"" } else { "" }
    ))
}

/// A page with CSS of its own on top of the shared style.
pub(crate) fn page_with_css(lang: Lang, title: &str, body: &str, css: &str) -> Response {
    Html(
        page(lang, title, true, body)
            .0
            .replace("</head>", &format!("<style>{css}</style></head>")),
    )
    .into_response()
}

/// One label in the page's language, for labels used on one page only (shared ones are in
/// [`t`]).
pub(crate) fn label(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    if lang == Lang::En { en } else { zh }
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    lang: Option<String>,
    next: Option<String>,
}

pub(crate) fn with_cookie(mut r: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn login_form(lang: Lang, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let csrf = kefu_store::sessions::new_token();
    let body = format!(
        "<h1>kefu · {title}</h1>{err}\
         <form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label for=\"username\">{u}</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">{p}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">{s}</button></form>",
        title = t(lang, "title.login"),
        err = error.map_or(String::new(), |e| format!(
            "<p class=\"err\" role=\"alert\">{}</p>",
            escape(e)
        )),
        next = escape(next),
        u = t(lang, "username"),
        p = t(lang, "password"),
        s = t(lang, "sign_in"),
    );
    let r = (status, page(lang, t(lang, "title.login"), false, &body)).into_response();
    // Double-submit CSRF before there is a session: the form's value must equal the cookie's.
    with_cookie(
        r,
        &format!("{CSRF_COOKIE}={csrf}; Path=/login; HttpOnly; SameSite=Strict"),
    )
}

pub async fn login_page(Query(q): Query<PageQuery>, headers: HeaderMap) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    login_form(lang, &safe_next(q.next.as_deref()), None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

pub async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let next = safe_next(form.next.as_deref());
    let csrf_cookie = crate::auth::cookie(&headers, CSRF_COOKIE);
    if csrf_cookie.as_deref() != Some(form.csrf.as_str()) {
        return login_form(
            lang,
            &next,
            Some(t(lang, "bad_form")),
            StatusCode::FORBIDDEN,
        );
    }
    let user_key = format!("user:{}", form.username.trim().to_lowercase());
    let keys = [user_key.clone(), format!("ip:{}", peer.ip())];
    if let Some(wait) = state.logins.blocked(&keys) {
        let mut r = login_form(
            lang,
            &next,
            Some(t(lang, "too_many")),
            StatusCode::TOO_MANY_REQUESTS,
        );
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let account = match state
        .store
        .authenticate(form.username.trim(), &form.password)
        .await
    {
        Ok(Some(a)) => a,
        Ok(None) => {
            state.logins.failed(&keys);
            tracing::info!(user = %form.username.trim(), ip = %peer.ip(), "sign-in failed");
            return login_form(
                lang,
                &next,
                Some(t(lang, "bad_login")),
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(e) => return crate::internal(e),
    };
    state.logins.succeeded(&user_key);
    let session = match state.store.open_session(account.id).await {
        Ok(s) => s,
        Err(e) => return crate::internal(e),
    };
    let to = if account.must_change_password {
        "/account/password".to_owned()
    } else {
        next
    };
    let r = Redirect::to(&to).into_response();
    let r = with_cookie(
        r,
        &format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
            session.token,
            kefu_store::sessions::SESSION_MAX_MICROS / 1_000_000
        ),
    );
    let r = with_cookie(r, &format!("{CSRF_COOKIE}=; Path=/login; Max-Age=0"));
    // The language this person chose follows them to this browser.
    match state.store.preferred_lang(account.id).await {
        Ok(Some(l)) => with_cookie(r, &lang_cookie(&l)),
        _ => r,
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Via::Session { token, csrf_token } = &user.via else {
        return Redirect::to("/login").into_response();
    };
    if form.csrf != *csrf_token {
        return (StatusCode::FORBIDDEN, "wrong form token").into_response();
    }
    if let Err(e) = state.store.close_session(token).await {
        return crate::internal(e);
    }
    with_cookie(
        Redirect::to("/login").into_response(),
        &format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    )
}

pub(crate) fn csrf_of(user: &crate::auth::CurrentUser) -> &str {
    match &user.via {
        Via::Session { csrf_token, .. } => csrf_token,
        Via::ApiToken => "",
    }
}

pub(crate) fn sign_out_form(lang: Lang, csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/logout\" style=\"margin:0\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\" style=\"margin:0\">{}</button></form>",
        escape(csrf),
        t(lang, "sign_out")
    )
}

pub async fn home(
    State(state): State<AppState>,
    auth: Authorized<AnyRole>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let a = &auth.user.account;
    let duty = if a.role == kefu_core::access::Role::ClientViewer {
        String::new()
    } else {
        let on_now = match state.store.on_duty_now().await {
            Ok(list) => list,
            Err(e) => return crate::internal(e),
        };
        let csrf = escape(csrf_of(&auth.user));
        let rows: String = ["phone", "chat", "email", "onsite"]
            .iter()
            .map(|ch| {
                let on = on_now
                    .iter()
                    .any(|d| d.user_id == a.id && d.channel.as_str() == *ch);
                format!(
                    "<tr><td>{name}</td><td class=\"{cls}\">{state}</td><td>\
                     <form method=\"post\" action=\"/duty\" style=\"margin:0\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <input type=\"hidden\" name=\"channel\" value=\"{ch}\">\
                     <input type=\"hidden\" name=\"on\" value=\"{next}\">\
                     <button type=\"submit\" style=\"margin:0\">{label}</button></form></td></tr>",
                    name = t(lang, &format!("ch.{ch}")),
                    cls = if on { "ok" } else { "" },
                    state = t(lang, if on { "on" } else { "off" }),
                    next = if on { "false" } else { "true" },
                    label = t(lang, if on { "go_off" } else { "go_on" }),
                )
            })
            .collect();
        format!("<h2>{}</h2><table>{rows}</table>", t(lang, "duty"))
    };
    let language = {
        let csrf = escape(csrf_of(&auth.user));
        let button = |code: &str, name: &str, current: bool| {
            format!(
                "<form method=\"post\" action=\"/account/language\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"lang\" value=\"{code}\">\
                 <button type=\"submit\"{dis}>{name}</button></form>",
                dis = if current { " disabled" } else { "" },
            )
        };
        format!(
            "<p class=\"lang\">{label}: {zh} {en}</p>",
            label = t(lang, "language"),
            zh = button("zh", "中文", lang == Lang::Zh),
            en = button("en", "English", lang == Lang::En),
        )
    };
    let body = format!(
        "<header><h1>kefu · {title}</h1>{out}</header>\
         <p>{who}: <strong>{name}</strong> ({user}) · {role}: {rl}</p>{language}{duty}\
         <p>{coming}</p><nav><a href=\"/console/chat\">{chat}</a>{messages}<a href=\"/wallboard\">{board}</a><a href=\"/account/password\">{pw}</a><a href=\"/api/v1/me\">/api/v1/me</a>\
         <a href=\"/healthz\">/healthz</a><a href=\"/metrics\">/metrics</a></nav>",
        title = t(lang, "title.home"),
        out = sign_out_form(lang, csrf_of(&auth.user)),
        who = t(lang, "signed_in_as"),
        name = escape(&a.display_name),
        user = escape(&a.username),
        role = t(lang, "role"),
        rl = role_label(lang, a.role),
        coming = t(lang, "coming"),
        pw = t(lang, "title.password"),
        chat = t(lang, "title.chat"),
        board = t(lang, "title.board"),
        messages = if a.role == kefu_core::access::Role::ClientViewer {
            String::new()
        } else {
            format!(
                "<a href=\"/console/messages\">{}</a><a href=\"/console/history\">{}</a><a href=\"/console/search\">{}</a><a href=\"/console/staff\">{}</a>",
                t(lang, "title.messages"),
                t(lang, "title.history"),
                t(lang, "title.search"),
                if lang == Lang::En { "Staff records" } else { "人员档案" }
            )
            .replace(
                if a.role == kefu_core::access::Role::QaReviewer {
                    "<a href=\"/console/search\">"
                } else {
                    "\u{0}"
                },
                "<a hidden href=\"/console/search\">",
            )
        },
    );
    page(lang, t(lang, "title.home"), true, &body).into_response()
}

#[derive(Deserialize)]
pub struct DutyForm {
    csrf: String,
    channel: String,
    on: bool,
}

/// The console's on/off-duty buttons.
pub async fn duty_submit(
    State(state): State<AppState>,
    auth: Authorized<crate::auth::Staff>,
    Form(form): Form<DutyForm>,
) -> Response {
    if form.csrf != csrf_of(&auth.user) || csrf_of(&auth.user).is_empty() {
        return (StatusCode::FORBIDDEN, "wrong form token").into_response();
    }
    let channel: kefu_store::Channel = match form.channel.parse() {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    match state
        .store
        .set_duty(auth.user.account.id, channel, form.on, None)
        .await
    {
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => crate::internal(e),
    }
}

fn password_form(
    lang: Lang,
    user: &crate::auth::CurrentUser,
    msg: Option<(&str, bool)>,
    status: StatusCode,
) -> Response {
    let must = if user.account.must_change_password {
        format!("<p>{}</p>", t(lang, "must_change"))
    } else {
        String::new()
    };
    let msg = msg.map_or(String::new(), |(m, ok)| {
        format!(
            "<p class=\"{}\" role=\"alert\">{}</p>",
            if ok { "ok" } else { "err" },
            escape(m)
        )
    });
    let body = format!(
        "<header><h1>{title}</h1>{out}</header>{must}{msg}\
         <form method=\"post\" action=\"/account/password\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"current\">{c}</label><input id=\"current\" name=\"current\" type=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"new\">{n}</label><input id=\"new\" name=\"new\" type=\"password\" autocomplete=\"new-password\" minlength=\"12\" required>\
         <label for=\"confirm\">{cf}</label><input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" minlength=\"12\" required>\
         <button type=\"submit\">{s}</button></form>",
        title = t(lang, "title.password"),
        out = sign_out_form(lang, csrf_of(user)),
        csrf = escape(csrf_of(user)),
        c = t(lang, "current_password"),
        n = t(lang, "new_password"),
        cf = t(lang, "confirm_password"),
        s = t(lang, "save"),
    );
    (status, page(lang, t(lang, "title.password"), false, &body)).into_response()
}

pub async fn password_page(
    SignedIn(user): SignedIn,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    password_form(lang, &user, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    confirm: String,
}

pub async fn password_submit(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    if form.csrf != csrf_of(&user) || csrf_of(&user).is_empty() {
        return password_form(
            lang,
            &user,
            Some((t(lang, "bad_form"), false)),
            StatusCode::FORBIDDEN,
        );
    }
    if form.new != form.confirm {
        return password_form(
            lang,
            &user,
            Some((t(lang, "mismatch"), false)),
            StatusCode::BAD_REQUEST,
        );
    }
    match state
        .store
        .change_password(&user.account.username, &form.current, &form.new)
        .await
    {
        Ok(true) => Redirect::to("/").into_response(),
        Ok(false) => password_form(
            lang,
            &user,
            Some((t(lang, "wrong_current"), false)),
            StatusCode::BAD_REQUEST,
        ),
        Err(e) if e.is_user_error() => password_form(
            lang,
            &user,
            Some((&e.to_string(), false)),
            StatusCode::BAD_REQUEST,
        ),
        Err(e) => crate::internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_comes_from_the_query_then_the_browser_and_defaults_to_chinese() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("kefu_lang=en"));
        assert_eq!(Lang::pick(None, &h), Lang::En, "a remembered choice");
        assert_eq!(Lang::pick(Some("zh"), &h), Lang::Zh, "the query wins");
        h.clear();
        assert_eq!(Lang::pick(None, &h), Lang::Zh);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("en-GB,en;q=0.9"),
        );
        assert_eq!(Lang::pick(None, &h), Lang::En);
        assert_eq!(Lang::pick(Some("zh"), &h), Lang::Zh);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("fr,zh-CN;q=0.8"),
        );
        assert_eq!(Lang::pick(None, &h), Lang::Zh);
    }

    #[test]
    fn after_sign_in_only_local_paths_are_followed() {
        for (next, to) in [
            (Some("/calls?day=1"), "/calls?day=1"),
            (Some("https://evil.example/"), "/"),
            (Some("//evil.example/"), "/"),
            (Some("/\\evil"), "/"),
            (None, "/"),
        ] {
            assert_eq!(safe_next(next), to);
        }
        assert_eq!(
            escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }
}

/// The agent's chat console.
pub async fn console_chat(
    auth: Authorized<crate::auth::Staff>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let labels = match lang {
        Lang::Zh => {
            serde_json::json!({"conversation": "会话", "end": "结束会话", "placeholder": "回复客户…", "send": "发送", "sending": "发送中", "sent": "已送达", "ready": "已就绪,等待分配会话", "ended": "会话已结束"})
        }
        Lang::En => {
            serde_json::json!({"conversation": "Conversation", "end": "End", "placeholder": "Reply…", "send": "Send", "sending": "sending", "sent": "delivered", "ready": "Ready: waiting for conversations", "ended": "The conversation has ended"})
        }
    };
    let body = format!(
        "<header><h1>kefu · {title}</h1>{out}</header><p><a href=\"/\">←</a> {hint}</p>\
         <p id=\"status\">{connecting}</p><div id=\"chats\"></div>\
         <script type=\"application/json\" id=\"labels\">{labels}</script>\
         <script src=\"/console/chat.js\"></script>",
        title = t(lang, "title.chat"),
        out = sign_out_form(lang, csrf_of(&auth.user)),
        hint = t(lang, "chat_hint"),
        connecting = t(lang, "connecting"),
        // Inside <script> nothing is decoded: keep the JSON as is, with `<` escaped so that no
        // text can close the element.
        labels = labels.to_string().replace('<', "\\u003c"),
    );
    let extra_css = ".conv{border:1px solid #dde;border-radius:8px;margin:1rem 0;padding:.6rem}\
        .conv header{display:flex;justify-content:space-between;align-items:center}.conv .log{max-height:18rem;overflow-y:auto;background:#f5f6f8;padding:.5rem;margin:.5rem 0}\
        .m{max-width:80%;margin:.3rem 0;padding:.4rem .6rem;border-radius:6px;white-space:pre-wrap}.m.customer{background:#fff;border:1px solid #dde}.m.agent{margin-left:auto;background:#dbe8ff}\
        .s{font-size:.7rem;color:#667;text-align:right}.reply{display:flex;gap:.5rem}.reply textarea{flex:1}.reply button,.end{margin:0}.note{color:#667;text-align:center}.ended{opacity:.6}";
    page_with_css(lang, t(lang, "title.chat"), &body, extra_css)
}

/// A page that embeds the widget, to try it (and for the browser test).
pub async fn widget_demo(Query(q): Query<DemoQuery>, headers: HeaderMap) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let contract = escape(q.contract.as_deref().unwrap_or(""));
    let body = format!(
        "<h1>{title}</h1><p>{text}</p>\
         <script src=\"/widget.js\" data-contract=\"{contract}\" data-lang=\"{lang}\"></script>",
        title = t(lang, "title.demo"),
        text = t(lang, "demo_text"),
        lang = if lang == Lang::En { "en" } else { "zh" },
    );
    page(lang, t(lang, "title.demo"), true, &body).into_response()
}

#[derive(Deserialize, Default)]
pub struct DemoQuery {
    lang: Option<String>,
    contract: Option<String>,
}
