//! Files served as they are, embedded in the binary.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const WIDGET_JS: &str = include_str!("../assets/widget.js");
const CONSOLE_CHAT_JS: &str = include_str!("../assets/console-chat.js");

fn js(body: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// The embeddable chat widget: `<script src=".../widget.js" data-contract="…">`.
pub async fn widget_js() -> Response {
    js(WIDGET_JS)
}

pub async fn console_chat_js() -> Response {
    js(CONSOLE_CHAT_JS)
}
