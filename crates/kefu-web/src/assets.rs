//! Files served as they are, embedded in the binary.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const WIDGET_JS: &str = include_str!("../assets/widget.js");
const CONSOLE_CHAT_JS: &str = include_str!("../assets/console-chat.js");
/// The API's OpenAPI document, kept by hand next to the handlers; a test checks that every
/// `/api/` route of the router is in it.
pub const OPENAPI_JSON: &str = include_str!("../assets/openapi.json");

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

pub async fn openapi_json() -> Response {
    let mut r = OPENAPI_JSON.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A readable page of the API from the OpenAPI document (no external assets).
pub async fn api_docs() -> axum::response::Html<String> {
    let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap_or_default();
    let mut rows = String::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            if let Some(ops) = ops.as_object() {
                for (method, op) in ops {
                    rows.push_str(&format!(
                        "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                        method.to_uppercase(),
                        crate::pages::escape(path),
                        crate::pages::escape(op["summary"].as_str().unwrap_or(""))
                    ));
                }
            }
        }
    }
    axum::response::Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>kefu API</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}}\
         td{{padding:.35rem .8rem;border-bottom:1px solid #dde;vertical-align:top}}</style></head><body>\
         <h1>kefu API</h1><p>{}</p><p>Machine-readable: <a href=\"/api/openapi.json\">/api/openapi.json</a> (OpenAPI 3.1).</p>\
         <table>{rows}</table></body></html>",
        crate::pages::escape(doc["info"]["description"].as_str().unwrap_or(""))
    ))
}
