//! Files served as they are, embedded in the binary.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const WIDGET_JS: &str = include_str!("../assets/widget.js");
const CONSOLE_CHAT_JS: &str = include_str!("../assets/console-chat.js");
const API_DOCS_JS: &str = include_str!("../assets/api-docs.js");
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

pub async fn api_docs_js() -> Response {
    js(API_DOCS_JS)
}

/// The API's interactive documentation: every operation of the OpenAPI document with a form
/// that sends it to this server (no external assets).
pub async fn api_docs() -> axum::response::Html<String> {
    let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap_or_default();
    axum::response::Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>kefu API</title>\
         <style>body{{font-family:system-ui,'Noto Sans CJK SC',sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1d2330}}\
         .op{{border:1px solid #dde;border-radius:6px;margin:.5rem 0;padding:.4rem .7rem}}.op summary{{cursor:pointer}}\
         .m{{display:inline-block;min-width:3.5rem;font-weight:600}}.get{{color:#0a6}}.post{{color:#15c}}.put{{color:#a60}}.delete{{color:#b00}}\
         label{{display:block;margin:.5rem 0;font-size:.9rem}}input,textarea{{display:block;width:100%;box-sizing:border-box;font:13px ui-monospace,monospace;padding:.35rem}}\
         button{{margin:.3rem 0;padding:.4rem 1rem;background:#1f5fbf;color:#fff;border:0;border-radius:4px;cursor:pointer}}\
         pre.out{{background:#f5f6f8;padding:.5rem;white-space:pre-wrap;max-height:24rem;overflow:auto}}pre.out:empty{{display:none}}</style></head><body>\
         <h1>kefu API</h1><p>{}</p><p>Machine-readable: <a href=\"/api/openapi.json\">/api/openapi.json</a> (OpenAPI 3.1).</p>\
         <label>API token (<code>kefu_…</code>, from POST /api/v1/tokens; kept in this tab only)\
         <input id=\"token\" autocomplete=\"off\" spellcheck=\"false\"></label>\
         <div id=\"ops\"><noscript>{}</noscript></div><script src=\"/api/docs.js\"></script></body></html>",
        crate::pages::escape(doc["info"]["description"].as_str().unwrap_or("")),
        static_list(&doc),
    ))
}

/// The operations as a plain table, for browsers without JavaScript.
fn static_list(doc: &serde_json::Value) -> String {
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
    format!("<table>{rows}</table>")
}
