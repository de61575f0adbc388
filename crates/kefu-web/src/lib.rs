//! kefu's web server: one process serving the REST API, the console and the live channels,
//! over the same store and use cases as the command line. This first part: start-up, health,
//! metrics, request ids, structured logs, graceful shutdown.
//!
//! Start-up goes through [`Server::bind`] both in `kefu serve` and in the tests (which listen
//! on port 0), so the tests exercise the real path.

mod api;
pub mod assets;
pub mod auth;
mod chat;
pub mod config;
mod console;
mod contracts;
mod history;
mod live;
mod metrics;
pub mod pages;
mod staff;
mod staffing;
mod wallboard;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kefu_store::{Store, on_db};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use config::{LogFormat, ServeConfig};
use metrics::Metrics;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    store: Store,
    metrics: Arc<Metrics>,
    logins: Arc<auth::LoginLimiter>,
    contracts: Arc<contracts::ContractCache>,
    chat: Arc<chat::ChatHub>,
}

/// A server bound to its address, not yet serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    app: Router,
}

impl Server {
    /// Binds the listening socket and builds the application.
    pub async fn bind(config: &ServeConfig, store: Store) -> Result<Server, String> {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let state = AppState {
            store,
            metrics: Arc::new(Metrics::new()),
            logins: Arc::new(auth::LoginLimiter::default()),
            contracts: Arc::new(contracts::ContractCache::default()),
            chat: Arc::new(chat::ChatHub::default()),
        };
        state.chat.start(state.store.clone());
        state
            .store
            .checkpoint_in_background()
            .await
            .map_err(|e| format!("cannot start WAL checkpoints: {e}"))?;
        Ok(Server {
            listener,
            app: router(state),
        })
    }

    /// The address bound (with the port the system chose for port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, String> {
        self.listener
            .local_addr()
            .map_err(|e| format!("no local address: {e}"))
    }

    /// Serves until `shutdown` completes, then stops accepting and lets requests in flight
    /// finish.
    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), String> {
        // With the peer's address, for the sign-in rate limit.
        let app = self.app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| format!("server error: {e}"))
    }
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is called (not when
/// first awaited), so call it before telling anyone the server is up: a signal sent right
/// after "listening" then stops it cleanly instead of killing it.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = term => {}
                () = int => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Structured logs on stderr: text or JSON, level from `KEFU_LOG` (default `info`).
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("KEFU_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

fn router(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request| {
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
    })
    // One line per request at INFO: status and latency, inside the span with its request id.
    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/", get(pages::home))
        .route("/login", get(pages::login_page).post(pages::login_submit))
        .route("/logout", axum::routing::post(pages::logout))
        .route(
            "/account/password",
            get(pages::password_page).post(pages::password_submit),
        )
        .route("/api/v1/me", get(api::me))
        .route("/api/v1/users", get(api::list_users).post(api::create_user))
        .route("/api/v1/tokens", axum::routing::post(api::create_token))
        .route(
            "/api/v1/calls/events",
            axum::routing::post(live::post_call_event),
        )
        .route("/api/v1/presence", get(api::presence))
        .route(
            "/api/v1/presence/{channel}",
            axum::routing::put(api::set_duty),
        )
        .route("/duty", axum::routing::post(pages::duty_submit))
        .route("/chat/ws", get(chat::customer_ws))
        .route("/widget.js", get(assets::widget_js))
        .route("/api/openapi.json", get(assets::openapi_json))
        .route("/api/docs", get(assets::api_docs))
        .route("/api/docs.js", get(assets::api_docs_js))
        .route("/console/chat.js", get(assets::console_chat_js))
        .route("/console/chat", get(pages::console_chat))
        .route("/console/messages", get(console::messages_page))
        .route("/console/history", get(history::history_page))
        .route("/console/history/{id}", get(history::transcript_page))
        .route("/console/search", get(history::search_page))
        .route(
            "/console/messages/{id}/reveal",
            axum::routing::post(console::reveal),
        )
        .route(
            "/console/messages/{id}/follow-up",
            axum::routing::post(console::follow_up_submit),
        )
        .route(
            "/account/language",
            axum::routing::post(console::language_submit),
        )
        .route(
            "/api/v1/staffing/erlang",
            axum::routing::post(staffing::erlang),
        )
        .route("/api/v1/staffing/chat", axum::routing::post(staffing::chat))
        .route(
            "/api/v1/staffing/email",
            axum::routing::post(staffing::email),
        )
        .route("/api/v1/staffing/plan", get(staffing::plan))
        .route("/api/v1/offline-messages", get(console::list_api))
        .route(
            "/api/v1/offline-messages/{id}/follow-up",
            axum::routing::post(console::follow_up_api),
        )
        .route("/demo/widget", get(pages::widget_demo))
        .route("/wallboard", get(wallboard::page))
        .route("/wallboard.js", get(wallboard::board_js))
        .route("/api/v1/wallboard", get(wallboard::snapshot))
        .route(
            "/api/v1/contracts/{number}/report",
            get(api::contract_report),
        )
        .route("/api/v1/wallboard/stream", get(wallboard::stream))
        .route("/api/v1/chat/ws", get(chat::agent_ws))
        .route("/api/v1/staff", get(staff::list_api))
        .route("/api/v1/staff/{username}", get(staff::file_api))
        .route(
            "/api/v1/staff/{username}/profile",
            get(staff::profile_get).post(staff::profile_post),
        )
        .route(
            "/api/v1/staff/{username}/certificates",
            get(staff::certificates_get).post(staff::certificates_post),
        )
        .route(
            "/api/v1/staff/{username}/trainings",
            get(staff::trainings_get).post(staff::trainings_post),
        )
        .route(
            "/api/v1/staff/{username}/assessments",
            get(staff::assessments_get).post(staff::assessments_post),
        )
        .route(
            "/api/v1/staff/{username}/nda",
            get(staff::ndas_get).post(staff::nda_post),
        )
        .route("/console/staff", get(staff::list_page))
        .route("/console/staff/{username}", get(staff::file_page))
        .fallback(not_found)
        .layer(middleware::from_fn(pages::remember_lang))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(trace)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    state.metrics.record(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// A failure that is not the caller's: logged, and answered as a 500 without details.
pub(crate) fn internal(e: impl std::fmt::Display) -> Response {
    internal_problem(e).into_response()
}

pub(crate) fn internal_problem(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "internal error");
    Problem {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        title: "Internal Server Error",
        detail: "something went wrong on our side; the log has the details".to_owned(),
    }
}

/// An error as `application/problem+json` (RFC 9457).
pub struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut res = (self.status, body.to_string()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}

async fn not_found(req: Request) -> Problem {
    Problem {
        status: StatusCode::NOT_FOUND,
        title: "Not Found",
        detail: format!("no such page or endpoint: {}", req.uri().path()),
    }
}

/// Liveness and readiness: the process answers and the database does.
async fn healthz(State(state): State<AppState>) -> Response {
    let db: Result<(i64,), _> = on_db!(state.store.db(), pool => {
        kefu_store::sqlx::query_as(kefu_store::sql!("SELECT CAST(1 AS BIGINT)")).fetch_one(pool).await
    });
    match db {
        Ok(_) => axum::Json(serde_json::json!({
            "status": "ok",
            "database": "ok",
            "version": env!("CARGO_PKG_VERSION"),
        }))
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            Problem {
                status: StatusCode::SERVICE_UNAVAILABLE,
                title: "Service Unavailable",
                detail: "the database does not answer".to_owned(),
            }
            .into_response()
        }
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let mut res = state.metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}
