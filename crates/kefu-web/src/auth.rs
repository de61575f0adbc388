//! Who is asking, and whether they may: authorization is in the handlers' signatures.
//! A handler that takes [`Authorized<AdminOnly>`] cannot run for anyone but an administrator.
//!
//! A request is signed in by the `kefu_session` cookie (browsers; unsafe methods on the API
//! must then echo the session's CSRF token in `x-csrf-token`) or by `Authorization: Bearer`
//! with an API token (integrations; no cookie, so no CSRF). An account that must change its
//! password can do nothing else until it has.

use std::collections::{HashMap, VecDeque};
use std::marker::PhantomData;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kefu_core::access::Role;
use kefu_store::accounts::Account;

use crate::{AppState, Problem};

pub const SESSION_COOKIE: &str = "kefu_session";
pub const CSRF_COOKIE: &str = "kefu_csrf";

/// How the request was signed in.
#[derive(Debug, Clone)]
pub enum Via {
    /// A browser session, with its CSRF token.
    Session {
        token: String,
        csrf_token: String,
    },
    ApiToken,
}

/// The signed-in account of a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub account: Account,
    pub via: Via,
}

/// The value of one cookie of a request.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn is_api(parts: &Parts) -> bool {
    parts.uri.path().starts_with("/api/")
}

/// Why a request was not let in.
pub enum Refusal {
    /// Not signed in: 401 on the API, the sign-in page for pages.
    SignIn {
        api: bool,
        next: String,
    },
    /// Signed in but not allowed: 403.
    Forbidden(String),
    /// Must change the password first.
    ChangePassword {
        api: bool,
    },
    Internal(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::SignIn { api: true, .. } => {
                let mut r = Problem {
                    status: StatusCode::UNAUTHORIZED,
                    title: "Unauthorized",
                    detail: "sign in, or send an API token as `Authorization: Bearer …`".to_owned(),
                }
                .into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
                r
            }
            Refusal::SignIn { api: false, next } => {
                Redirect::to(&format!("/login?next={}", crate::pages::url_encode(&next)))
                    .into_response()
            }
            Refusal::Forbidden(detail) => Problem {
                status: StatusCode::FORBIDDEN,
                title: "Forbidden",
                detail,
            }
            .into_response(),
            Refusal::ChangePassword { api: true } => Problem {
                status: StatusCode::FORBIDDEN,
                title: "Forbidden",
                detail: "change your password first (/account/password)".to_owned(),
            }
            .into_response(),
            Refusal::ChangePassword { api: false } => {
                Redirect::to("/account/password").into_response()
            }
            Refusal::Internal(detail) => Problem {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                title: "Internal Server Error",
                detail,
            }
            .into_response(),
        }
    }
}

/// The signed-in account, even one that must still change its password (for the pages that
/// let it do so and sign out).
pub struct SignedIn(pub CurrentUser);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let api = is_api(parts);
        let next = parts
            .uri
            .path_and_query()
            .map_or("/".to_owned(), |p| p.as_str().to_owned());
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .map(str::to_owned);
        if let Some(token) = bearer {
            return match state.store.token_user(&token).await {
                Ok(Some(account)) => Ok(SignedIn(CurrentUser {
                    account,
                    via: Via::ApiToken,
                })),
                Ok(None) => Err(Refusal::SignIn { api: true, next }),
                Err(e) => Err(Refusal::Internal(e.to_string())),
            };
        }
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Refusal::SignIn { api, next });
        };
        let user = match state.store.session_user(&token).await {
            Ok(Some(u)) => u,
            Ok(None) => return Err(Refusal::SignIn { api, next }),
            Err(e) => return Err(Refusal::Internal(e.to_string())),
        };
        // The API's unsafe methods with a cookie must prove they come from our pages.
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if api && !safe {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            if sent != Some(user.csrf_token.as_str()) {
                return Err(Refusal::Forbidden(
                    "missing or wrong x-csrf-token for a signed-in browser request".to_owned(),
                ));
            }
        }
        Ok(SignedIn(CurrentUser {
            account: user.account,
            via: Via::Session {
                token,
                csrf_token: user.csrf_token,
            },
        }))
    }
}

/// Which roles a handler admits.
pub trait Policy {
    /// For messages: who is admitted.
    const WHO: &'static str;
    fn admits(role: Role) -> bool;
}

/// Any signed-in account.
pub struct AnyRole;
impl Policy for AnyRole {
    const WHO: &'static str = "any signed-in user";
    fn admits(_: Role) -> bool {
        true
    }
}

/// Administrators only.
pub struct AdminOnly;
impl Policy for AdminOnly {
    const WHO: &'static str = "administrators";
    fn admits(role: Role) -> bool {
        role == Role::Admin
    }
}

/// The provider's staff (everyone but the client's viewers).
pub struct Staff;
impl Policy for Staff {
    const WHO: &'static str = "the provider's staff";
    fn admits(role: Role) -> bool {
        role != Role::ClientViewer
    }
}

/// A signed-in account whose role the policy `P` admits (and whose password is not pending
/// a change).
pub struct Authorized<P: Policy> {
    pub user: CurrentUser,
    _policy: PhantomData<P>,
}

impl<P: Policy> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let SignedIn(user) = SignedIn::from_request_parts(parts, state).await?;
        if user.account.must_change_password {
            return Err(Refusal::ChangePassword { api: is_api(parts) });
        }
        if !P::admits(user.account.role) {
            return Err(Refusal::Forbidden(format!(
                "this is for {}; you are signed in as {} ({})",
                P::WHO,
                user.account.username,
                user.account.role
            )));
        }
        Ok(Authorized {
            user,
            _policy: PhantomData,
        })
    }
}

/// Failed sign-ins per user name and per client address: more than [`LoginLimiter::MAX`] in
/// [`LoginLimiter::WINDOW`] and further attempts are refused until the oldest ages out.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub const MAX: usize = 5;
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);

    /// `Some(wait)` when any of `keys` is over the limit.
    pub fn blocked(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().ok()?;
        let mut wait = None;
        for k in keys {
            if let Some(q) = map.get_mut(k) {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > Self::WINDOW)
                {
                    q.pop_front();
                }
                if q.len() >= Self::MAX
                    && let Some(oldest) = q.front()
                {
                    let w = Self::WINDOW.saturating_sub(now.duration_since(*oldest));
                    wait = Some(wait.map_or(w, |x: Duration| x.max(w)));
                }
            }
        }
        wait
    }

    pub fn failed(&self, keys: &[String]) {
        if let Ok(mut map) = self.failures.lock() {
            for k in keys {
                map.entry(k.clone()).or_default().push_back(Instant::now());
            }
            // Bound the memory an attacker can make us use.
            if map.len() > 100_000 {
                map.clear();
            }
        }
    }

    pub fn succeeded(&self, username_key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(username_key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_failure_in_the_window_is_refused_and_success_clears_the_name() {
        let l = LoginLimiter::default();
        let keys = vec!["user:admin".to_owned(), "ip:10.0.0.1".to_owned()];
        for _ in 0..LoginLimiter::MAX {
            assert!(l.blocked(&keys).is_none());
            l.failed(&keys);
        }
        assert!(l.blocked(&keys).is_some());
        l.succeeded("user:admin");
        assert!(l.blocked(&["user:admin".to_owned()]).is_none());
        assert!(
            l.blocked(&["ip:10.0.0.1".to_owned()]).is_some(),
            "the address stays limited"
        );
    }
}
