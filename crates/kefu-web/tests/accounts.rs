//! Accounts, sessions and roles through the real server, on SQLite and PostgreSQL: signing in
//! through the form (CSRF, rate limit, first-password change), API tokens, and who gets 200,
//! 401 and 403 on each endpoint.

#[path = "../../kefu-store/tests/common/mod.rs"]
mod common;
mod support;

use std::net::SocketAddr;

use common::on_each_backend;
use kefu_core::access::Role;
use kefu_store::Store;
use kefu_store::accounts::NewAccount;
use support::{form, get, request, sign_in, with_server};

const PASSWORD: &str = "a long enough password";

async fn contract(store: &Store) -> kefu_store::ContractId {
    common::placeholder_contract(store, "HT-1").await
}

/// One account per role, passwords already changed; returns an API token for each.
async fn one_of_each(store: &Store) -> Vec<(Role, String)> {
    let cid = contract(store).await;
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let name = format!("u-{}", role.as_str());
        let a = store
            .create_account(
                "tester",
                &NewAccount {
                    username: &name,
                    display_name: &name,
                    role,
                    contract_id: role.is_scoped_to_one_contract().then_some(cid),
                    password: "first password 123",
                    must_change_password: true,
                },
            )
            .await
            .expect("account");
        assert!(
            store
                .change_password(&name, "first password 123", PASSWORD)
                .await
                .expect("change")
        );
        tokens.push((
            role,
            store.create_api_token(a.id, "test").await.expect("token"),
        ));
    }
    tokens
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn each_role_gets_what_its_role_allows_on_each_endpoint() {
    on_each_backend(async |store: &Store| {
        let tokens = one_of_each(store).await;
        with_server(store, async |addr: SocketAddr| {
            // (method, path, body, status for: admin, supervisor, agent, qa, client, anonymous)
            let new_user = r#"{"username":"made","display_name":"Made","role":"agent","password":"another long password"}"#;
            let matrix: [(&str, &str, Option<&str>, [u16; 6]); 6] = [
                ("GET", "/api/v1/me", None, [200, 200, 200, 200, 200, 401]),
                ("GET", "/api/v1/users", None, [200, 403, 403, 403, 403, 401]),
                ("POST", "/api/v1/users", Some(new_user), [201, 403, 403, 403, 403, 401]),
                ("POST", "/api/v1/tokens", Some(r#"{"name":"ci"}"#), [201, 201, 201, 201, 201, 401]),
                ("GET", "/api/v1/presence", None, [200, 200, 200, 200, 403, 401]),
                ("GET", "/api/v1/wallboard", None, [200, 200, 403, 403, 403, 401]),
            ];
            for (method, path, body, expected) in matrix {
                for (i, want) in expected.iter().enumerate() {
                    let auth = tokens.get(i).map(|(_, t)| bearer(t));
                    let headers: Vec<(&str, &str)> = auth
                        .as_deref()
                        .map(|a| vec![("Authorization", a)])
                        .unwrap_or_default();
                    // A second admin POST of the same user would be 400 (taken): use a fresh name.
                    let body = body.map(|b| b.replace("\"made\"", &format!("\"made{i}\"")));
                    let r = request(
                        addr,
                        method,
                        path,
                        &headers,
                        body.as_deref().map(|b| ("application/json", b)),
                    )
                    .await;
                    let who = tokens.get(i).map_or("anonymous", |(r, _)| r.as_str());
                    assert_eq!(r.status, *want, "{method} {path} as {who}: {}", r.body);
                    if r.status >= 400 {
                        assert_eq!(r.header("content-type"), Some("application/problem+json"));
                    }
                }
            }
            let me = get(addr, "/api/v1/me", &[("Authorization", &bearer(&tokens[4].1))]).await;
            assert_eq!(me.json()["role"], "client_viewer");
            assert!(me.json()["contract_id"].is_string(), "a client viewer is tied to its contract");
            let bad = get(addr, "/api/v1/me", &[("Authorization", "Bearer kefu_not-a-token")]).await;
            assert_eq!(bad.status, 401);
            // Mistakes in a body are problem+json that says what is wrong.
            let admin = bearer(&tokens[0].1);
            for (body, status, says) in [
                ("{not json", 400, "JSON"),
                (r#"{"name":"x","extra":1}"#, 422, "extra"),
                (r#"{"username":"q","display_name":"Q","role":"boss","password":"long enough password"}"#, 400, "role"),
                (r#"{"username":"q","display_name":"Q","role":"agent","password":"short"}"#, 400, "12 characters"),
            ] {
                let path = if body.contains("username") { "/api/v1/users" } else { "/api/v1/tokens" };
                let r = request(addr, "POST", path, &[("Authorization", &admin)], Some(("application/json", body))).await;
                assert_eq!(r.status, status, "{body}: {}", r.body);
                assert_eq!(r.header("content-type"), Some("application/problem+json"));
                assert!(r.body.contains(says), "{body}: {}", r.body);
            }
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_browser_signs_in_changes_its_first_password_and_signs_out() {
    on_each_backend(async |store: &Store| {
        let first = store
            .ensure_first_admin()
            .await
            .expect("bootstrap")
            .expect("admin");
        with_server(store, async |addr: SocketAddr| {
            // Pages need a session: to the sign-in page, keeping where we were going.
            let r = get(addr, "/", &[]).await;
            assert_eq!(r.status, 303);
            assert_eq!(r.header("location"), Some("/login?next=/"));
            let page = get(addr, "/login", &[("Accept-Language", "zh-CN,zh;q=0.9")]).await;
            assert!(page.body.contains("用户名") && page.body.contains("lang=\"zh-CN\""));
            let page = get(addr, "/login?lang=en", &[]).await;
            assert!(page.body.contains("User name"));

            // A form without the matching CSRF cookie is refused.
            let body = form(&[
                ("username", "admin"),
                ("password", &first.one_time_password),
                ("csrf", "forged"),
            ]);
            let r = request(
                addr,
                "POST",
                "/login",
                &[],
                Some(("application/x-www-form-urlencoded", &body)),
            )
            .await;
            assert_eq!(r.status, 403);
            assert!(r.cookie("kefu_session").is_none());

            let r = sign_in(addr, "admin", &first.one_time_password).await;
            assert_eq!(r.status, 303);
            assert_eq!(
                r.header("location"),
                Some("/account/password"),
                "first password must change"
            );
            let session = r.cookie("kefu_session").expect("session cookie");
            let set = r
                .headers
                .iter()
                .find(|(k, v)| {
                    k.eq_ignore_ascii_case("set-cookie") && v.starts_with("kefu_session")
                })
                .map(|(_, v)| v.clone())
                .expect("set-cookie");
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Lax"),
                "{set}"
            );
            let cookie = format!("kefu_session={session}");

            // Until it is changed, nothing else opens.
            let r = get(addr, "/api/v1/users", &[("Cookie", &cookie)]).await;
            assert_eq!(r.status, 403);
            let page = get(addr, "/account/password?lang=en", &[("Cookie", &cookie)]).await;
            assert_eq!(page.status, 200);
            let csrf = page
                .body
                .split("name=\"csrf\" value=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .expect("the form carries the session's CSRF token")
                .to_owned();
            let new_pw = "the administrator's own password";
            let body = form(&[
                ("csrf", &csrf),
                ("current", &first.one_time_password),
                ("new", new_pw),
                ("confirm", new_pw),
            ]);
            let r = request(
                addr,
                "POST",
                "/account/password",
                &[("Cookie", &cookie)],
                Some(("application/x-www-form-urlencoded", &body)),
            )
            .await;
            assert_eq!(r.status, 303, "{}", r.body);
            let home = get(addr, "/?lang=en", &[("Cookie", &cookie)]).await;
            assert_eq!(home.status, 200);
            assert!(home.body.contains("Administrator"));

            // The API with a session cookie: reads freely, writes only with the CSRF header.
            let users = get(addr, "/api/v1/users", &[("Cookie", &cookie)]).await;
            assert_eq!(users.status, 200);
            let r = request(
                addr,
                "POST",
                "/api/v1/tokens",
                &[("Cookie", &cookie)],
                Some(("application/json", r#"{"name":"x"}"#)),
            )
            .await;
            assert_eq!(r.status, 403, "no x-csrf-token");
            let r = request(
                addr,
                "POST",
                "/api/v1/tokens",
                &[("Cookie", &cookie), ("x-csrf-token", &csrf)],
                Some(("application/json", r#"{"name":"x"}"#)),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.body);

            // Sign out: the session no longer opens anything.
            let body = form(&[("csrf", &csrf)]);
            let r = request(
                addr,
                "POST",
                "/logout",
                &[("Cookie", &cookie)],
                Some(("application/x-www-form-urlencoded", &body)),
            )
            .await;
            assert_eq!(r.status, 303);
            let r = get(addr, "/api/v1/me", &[("Cookie", &cookie)]).await;
            assert_eq!(r.status, 401);
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_slowed_down() {
    on_each_backend(async |store: &Store| {
        let first = store
            .ensure_first_admin()
            .await
            .expect("bootstrap")
            .expect("admin");
        with_server(store, async |addr: SocketAddr| {
            for _ in 0..5 {
                let r = sign_in(addr, "admin", "wrong password").await;
                assert_eq!(r.status, 401);
            }
            // Even the right password waits now.
            let r = sign_in(addr, "admin", &first.one_time_password).await;
            assert_eq!(r.status, 429);
            assert!(r.header("retry-after").is_some());
            assert!(r.cookie("kefu_session").is_none());
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn staff_go_on_and_off_duty_and_the_intervals_are_kept() {
    on_each_backend(async |store: &Store| {
        let tokens = one_of_each(store).await;
        let token_of = |role: Role| {
            tokens
                .iter()
                .find(|(r, _)| *r == role)
                .map(|(_, t)| bearer(t))
                .expect("token")
        };
        let (agent, supervisor, client) = (
            token_of(Role::Agent),
            token_of(Role::Supervisor),
            token_of(Role::ClientViewer),
        );
        with_server(store, async |addr: SocketAddr| {
            let put = async |who: &str, channel: &str, on: bool| {
                let body = format!("{{\"on_duty\":{on}}}");
                request(
                    addr,
                    "PUT",
                    &format!("/api/v1/presence/{channel}"),
                    &[("Authorization", who)],
                    Some(("application/json", &body)),
                )
                .await
            };
            let r = put(&agent, "chat", true).await;
            assert_eq!(
                (r.status, r.json()["changed"].as_bool()),
                (200, Some(true)),
                "{}",
                r.body
            );
            let r = put(&agent, "chat", true).await;
            assert_eq!(
                r.json()["changed"],
                false,
                "already on duty: nothing changes"
            );
            assert_eq!(put(&client, "chat", true).await.status, 403);
            assert_eq!(put(&agent, "fax", true).await.status, 404);

            let now = get(addr, "/api/v1/presence", &[("Authorization", &supervisor)]).await;
            assert_eq!(now.status, 200);
            let list = now.json();
            assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
            assert_eq!(list[0]["username"], "u-agent");
            assert_eq!(list[0]["channel"], "chat");
            assert_eq!(
                get(addr, "/api/v1/presence", &[("Authorization", &client)])
                    .await
                    .status,
                403
            );

            let r = put(&agent, "chat", false).await;
            assert_eq!(r.json()["changed"], true);
        })
        .await;
        let from = jiff::Timestamp::UNIX_EPOCH;
        let to = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
        let kept = store.duty_intervals(from, to).await.expect("intervals");
        assert_eq!(kept.len(), 1);
        let ended = kept[0].ended_at.expect("closed");
        assert!(ended >= kept[0].started_at);
        assert!(store.on_duty_now().await.expect("now").is_empty());
    })
    .await;
}

/// A client viewer (甲方) reads its own contract's report and nothing of another contract's
/// (which is "not found" to it, as if it did not exist); the provider's staff read any.
#[tokio::test]
async fn a_client_viewer_sees_its_own_contract_only() {
    on_each_backend(async |store: &Store| {
        support::example_contract(store).await;
        let own = store
            .contract_id(support::EXAMPLE_NUMBER)
            .await
            .expect("id")
            .expect("stored");
        let other = contract(store).await; // HT-1
        let mut tokens = Vec::new();
        for (name, role, cid) in [
            ("client-own", Role::ClientViewer, Some(own)),
            ("client-other", Role::ClientViewer, Some(other)),
            ("sup", Role::Supervisor, None),
        ] {
            let a = store
                .create_account(
                    "tester",
                    &NewAccount {
                        username: name,
                        display_name: name,
                        role,
                        contract_id: cid,
                        password: PASSWORD,
                        must_change_password: false,
                    },
                )
                .await
                .expect("account");
            tokens.push(bearer(
                &store.create_api_token(a.id, "t").await.expect("token"),
            ));
        }
        with_server(store, async |addr: SocketAddr| {
            let report = |n: &str| format!("/api/v1/contracts/{n}/report?period=2026-10");
            let cases = [
                (0, report(support::EXAMPLE_NUMBER), 200),
                (1, report(support::EXAMPLE_NUMBER), 404),
                (0, report("HT-1"), 404),
                (2, report(support::EXAMPLE_NUMBER), 200),
                (2, report("NO-SUCH"), 404),
                (
                    2,
                    "/api/v1/contracts/GDT-KF-2026-0017/report?period=2026-13".to_owned(),
                    400,
                ),
            ];
            for (who, path, status) in cases {
                let r = get(addr, &path, &[("Authorization", &tokens[who])]).await;
                assert_eq!(r.status, status, "{who} {path}: {}", r.body);
            }
            let r = get(
                addr,
                &report(support::EXAMPLE_NUMBER),
                &[("Authorization", &tokens[0])],
            )
            .await;
            assert_eq!(r.json()["contract"]["number"], support::EXAMPLE_NUMBER);
            assert_eq!(r.json()["period"], "2026-10");
        })
        .await;
    })
    .await;
}
