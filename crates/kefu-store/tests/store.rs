//! Storage stories, each written once and run on SQLite and on PostgreSQL (see common/mod.rs).

mod common;

use common::{TestEnv, on_each_backend, on_each_env};
use jiff::civil::date;
use kefu_store::crypto::{DataKey, key_path};
use kefu_store::sqlx::{self, AssertSqlSafe};
use kefu_store::{
    AuditVerification, Backend, BreakReason, Channel, CustomerPii, NewAuditEntry, NewContact,
    NewContactEvent, NewContractVersion, Store, StoreError, VersionKind, on_db, sql,
};

const TABLES: [&str; 10] = [
    "contracts",
    "contract_versions",
    "customers",
    "agents",
    "presence",
    "import_batches",
    "contacts",
    "contact_events",
    "key_check",
    "audit_log",
];

fn ok<T>(what: &str, result: Result<T, StoreError>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what}: {e}"),
    }
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    let result: Result<i64, sqlx::Error> = on_db!(store.db(), pool => {
        sqlx::query_scalar(sql).fetch_one(pool).await
    });
    match result {
        Ok(n) => n,
        Err(e) => panic!("{sql}: {e}"),
    }
}

fn entry(actor: &str, n: usize) -> NewAuditEntry {
    NewAuditEntry {
        actor: actor.to_owned(),
        action: "test.appended".to_owned(),
        subject: format!("item:{n}"),
        detail: serde_json::json!({ "n": n, "note": "测试 | with \"quotes\"" }),
    }
}

fn base_version() -> NewContractVersion {
    NewContractVersion {
        kind: VersionKind::Base,
        label: "base contract".to_owned(),
        effective_from: date(2025, 1, 1),
        document: "[contract]\nnumber = \"HT-2025-001\"\n".to_owned(),
        source_path: Some("contract.toml".to_owned()),
        amendment_number: None,
    }
}

async fn with_contract(store: &Store) {
    ok(
        "save contract",
        store
            .save_contract(
                "HT-2025-001",
                "客服外包服务合同",
                &[base_version()],
                "tester",
            )
            .await,
    );
}

async fn raw_execute(store: &Store, sql: String) -> Result<u64, sqlx::Error> {
    on_db!(store.db(), pool => {
        sqlx::query(AssertSqlSafe(sql)).execute(pool).await.map(|r| r.rows_affected())
    })
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn migrations_apply_on_both_backends_and_reapplying_is_a_no_op() {
    on_each_env(async |env: &TestEnv| {
        let store = env.open_ok().await;
        ok("migrate again", store.db().migrate().await);
        let applied = count(&store, sql!("SELECT COUNT(*) FROM _sqlx_migrations")).await;
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
            .map(|d| d.count())
            .unwrap_or_default();
        assert_eq!(applied as usize, files);
        for table in TABLES {
            let n: Result<i64, sqlx::Error> = on_db!(store.db(), pool => {
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(pool)
                    .await
            });
            assert!(n.is_ok(), "[{}] table {table}: {n:?}", env.label);
        }
        store.close().await;

        // Opening again re-runs migrations (no-op) and the key check, and adds no audit row.
        let store = env.open_ok().await;
        assert_eq!(
            count(&store, sql!("SELECT COUNT(*) FROM _sqlx_migrations")).await,
            applied
        );
        assert_eq!(
            count(&store, sql!("SELECT COUNT(*) FROM audit_log")).await,
            1
        );
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn sqlite_file_and_folder_are_created_on_first_open() {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("tempdir: {e}"),
    };
    let file = dir.path().join("nested").join("data").join("kefu.db");
    // The `sqlite:PATH` form (no slashes) is accepted too.
    let url = format!("sqlite:{}", file.display());
    let data_dir = dir.path().join("data-folder");
    let store = ok("open", Store::open(&url, &data_dir).await);
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(file.exists(), "SQLite file not created");
    assert!(key_path(&data_dir).exists(), "key file not created");
    store.close().await;
}

#[tokio::test]
async fn customer_pii_round_trips_encrypted_and_is_bound_to_its_row() {
    on_each_backend(async |store: &Store| {
        with_contract(store).await;
        let pii = CustomerPii {
            name: Some("王小明".to_owned()),
            phone: Some("+86 138 0013 8000".to_owned()),
            email: Some("Wang.XM@Example.com".to_owned()),
            id_number: Some("110101199003071234".to_owned()),
            address: Some("北京市朝阳区建国路 1 号".to_owned()),
        };
        let a = ok("insert", store.insert_customer("HT-2025-001", &pii).await);
        assert_eq!(ok("read", store.customer(a).await), Some(pii.clone()));

        // What is stored is ciphertext: no plaintext bytes, our header, one key id.
        let row: Result<(Vec<u8>, Vec<u8>), sqlx::Error> = on_db!(store.db(), pool => {
            sqlx::query_as(sql!("SELECT phone_enc, name_enc FROM customers WHERE id = $1"))
                .bind(a.to_string())
                .fetch_one(pool)
                .await
        });
        let (phone_ct, name_ct) = match row {
            Ok(row) => row,
            Err(e) => panic!("select: {e}"),
        };
        for (ct, plain) in [(&phone_ct, "138 0013 8000"), (&name_ct, "王小明")] {
            assert!(!ct.windows(plain.len()).any(|w| w == plain.as_bytes()));
            assert_eq!(ct[0], 1, "format version");
            assert_eq!(ct[1], 1, "algorithm");
            assert_eq!(&ct[2..10], store.key_id().as_bytes());
        }

        // Blind-index lookups.
        let by_phone = store.find_customer_by_phone("HT-2025-001", "13800138000").await;
        assert_eq!(ok("by phone", by_phone), Some(a));
        let by_email = store.find_customer_by_email("HT-2025-001", " wang.xm@example.COM").await;
        assert_eq!(ok("by email", by_email), Some(a));
        let nobody = store.find_customer_by_phone("HT-2025-001", "13900000000").await;
        assert_eq!(ok("by other phone", nobody), None);
        assert!(
            store
                .find_customer_by_phone("NO-SUCH", "13800138000")
                .await
                .is_err_and(|e| e.is_user_error())
        );

        // A ciphertext copied to another row does not decrypt there.
        let other = CustomerPii {
            phone: Some("13911112222".to_owned()),
            ..CustomerPii::default()
        };
        let b = ok("insert b", store.insert_customer("HT-2025-001", &other).await);
        let copied = raw_execute(
            store,
            format!(
                "UPDATE customers SET phone_enc = (SELECT phone_enc FROM customers WHERE id = '{a}') WHERE id = '{b}'"
            ),
        )
        .await;
        assert!(matches!(copied, Ok(1)), "{copied:?}");
        match store.customer(b).await {
            Err(StoreError::Decrypt { table, column, row, .. }) => {
                assert_eq!((table, column), ("customers", "phone_enc"));
                assert_eq!(row, b.to_string());
            }
            other => panic!("copied ciphertext decrypted: {other:?}"),
        }

        // … nor in another column of the same row.
        let moved = raw_execute(
            store,
            format!("UPDATE customers SET email_enc = name_enc WHERE id = '{a}'"),
        )
        .await;
        assert!(matches!(moved, Ok(1)), "{moved:?}");
        assert!(matches!(
            store.customer(a).await,
            Err(StoreError::Decrypt { column: "email_enc", .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn wrong_key_file_makes_open_fail_with_mismatch_error() {
    on_each_env(async |env: &TestEnv| {
        let store = env.open_ok().await;
        let db_key_id = store.key_id().to_string();
        store.close().await;

        let path = key_path(env.data_dir.path());
        if let Err(e) = std::fs::remove_file(&path) {
            panic!("remove key: {e}");
        }
        let other = ok("generate", DataKey::generate());
        ok("write other key", other.write_new(&path));

        match env.open().await {
            Err(err @ StoreError::KeyMismatch { .. }) => {
                let msg = err.to_string();
                assert!(err.is_user_error());
                assert!(msg.contains(&format!("(id {db_key_id})")), "{msg}");
                assert!(msg.contains(&format!("(id {})", other.id())), "{msg}");
                assert!(msg.contains("does not match this database"), "{msg}");
                assert!(msg.contains("restore the right key file"), "{msg}");
                assert!(msg.contains(&path.display().to_string()), "{msg}");
            }
            other => panic!("[{}] expected a key mismatch, got {other:?}", env.label),
        }
    })
    .await;
}

#[tokio::test]
async fn missing_key_file_with_existing_data_makes_open_fail() {
    on_each_env(async |env: &TestEnv| {
        let store = env.open_ok().await;
        store.close().await;
        let path = key_path(env.data_dir.path());
        if let Err(e) = std::fs::remove_file(&path) {
            panic!("remove key: {e}");
        }
        match env.open().await {
            Err(err @ StoreError::KeyMissing { .. }) => {
                assert!(err.is_user_error());
                assert!(err.to_string().contains("restore the key file"), "{err}");
            }
            other => panic!(
                "[{}] expected a missing-key error, got {other:?}",
                env.label
            ),
        }
        assert!(
            !path.exists(),
            "a fresh key must not be generated over existing data"
        );
    })
    .await;
}

#[tokio::test]
async fn key_is_never_in_debug_output() {
    on_each_env(async |env: &TestEnv| {
        let store = env.open_ok().await;
        let path = key_path(env.data_dir.path());
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let secret = text
            .lines()
            .find_map(|l| l.strip_prefix("key = "))
            .map(str::to_owned);
        let Some(secret) = secret else {
            panic!("no key line in the key file")
        };
        let loaded = ok("load", DataKey::load(&path));
        let outputs = [
            format!("{store:?}"),
            format!("{store:#?}"),
            format!("{loaded:?}"),
            format!("{:?}", store.key_id()),
        ];
        for out in &outputs {
            assert!(!out.contains(&secret), "key leaked in Debug: {out}");
            assert!(out.contains(&store.key_id().to_string()) || out.contains("redacted"));
        }
        // The audit row of the key's creation names the id only.
        let rows = ok("list", store.audit().list(1, 10).await);
        assert_eq!(rows[0].action, "key.generated");
        assert_eq!(rows[0].detail["key_id"], store.key_id().to_string());
        assert!(!rows[0].detail.to_string().contains(&secret));
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn audit_append_and_verify_ok_on_n_rows() {
    on_each_backend(async |store: &Store| {
        const N: usize = 40;
        let mut last = None;
        for n in 0..N {
            last = Some(ok("append", store.audit().append(entry("tester", n)).await));
        }
        let Some(last) = last else { return };
        // Row 1 is the key.generated row written at first start.
        assert_eq!(last.seq, N as i64 + 1);
        let expected = AuditVerification::Intact {
            rows: N as u64 + 1,
            head: last.hash,
        };
        assert_eq!(ok("verify", store.audit().verify().await), expected);
        // Paged walk (pages of 7 rows) gives the same answer.
        assert_eq!(
            ok("verify paged", store.audit().verify_in_pages(7).await),
            expected
        );

        let rows = ok("list", store.audit().list(1, 100).await);
        assert_eq!(rows.len(), N + 1);
        assert_eq!(rows[0].prev_hash, [0u8; 32]);
        for pair in rows.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1);
            assert_eq!(pair[1].prev_hash, pair[0].hash);
        }
        assert_eq!(rows[N].detail, entry("tester", N - 1).detail);
    })
    .await;
}

#[tokio::test]
async fn tampered_audit_row_is_found_by_verify() {
    on_each_backend(async |store: &Store| {
        for n in 0..10 {
            ok("append", store.audit().append(entry("tester", n)).await);
        }
        // Only someone who bypasses the database's guard can change a row.
        let disable = match store.backend() {
            Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
            Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
        };
        let disabled = raw_execute(store, disable.to_owned()).await;
        assert!(disabled.is_ok(), "{disabled:?}");
        let changed = raw_execute(
            store,
            "UPDATE audit_log SET detail = '{\"n\":999}' WHERE seq = 7".to_owned(),
        )
        .await;
        assert!(matches!(changed, Ok(1)), "{changed:?}");
        let verdict = ok("verify", store.audit().verify().await);
        assert_eq!(
            verdict,
            AuditVerification::Broken {
                seq: 7,
                reason: BreakReason::HashMismatch
            }
        );
        assert!(verdict.to_string().contains("seq 7"), "{verdict}");

        // Re-hashing the altered row only moves the break to the next row's link.
        let rows = ok("list", store.audit().list(7, 1).await);
        let r = &rows[0];
        let rehash = kefu_store::audit::row_hash(
            r.seq,
            r.at.as_microsecond(),
            &r.actor,
            &r.action,
            &r.subject,
            "{\"n\":999}",
            &r.prev_hash,
        );
        let forged = raw_execute(
            store,
            match store.backend() {
                Backend::Sqlite => format!(
                    "UPDATE audit_log SET hash = X'{}' WHERE seq = 7",
                    hex::encode(rehash)
                ),
                Backend::Postgres => format!(
                    "UPDATE audit_log SET hash = '\\x{}'::bytea WHERE seq = 7",
                    hex::encode(rehash)
                ),
            },
        )
        .await;
        assert!(matches!(forged, Ok(1)), "{forged:?}");
        assert_eq!(
            ok("verify", store.audit().verify().await),
            AuditVerification::Broken {
                seq: 8,
                reason: BreakReason::PrevHashMismatch
            }
        );
    })
    .await;
}

#[tokio::test]
async fn audit_log_update_and_delete_are_refused_by_the_database() {
    on_each_backend(async |store: &Store| {
        ok("append", store.audit().append(entry("tester", 1)).await);
        for statement in [
            "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
            "DELETE FROM audit_log WHERE seq = 2",
            "DELETE FROM audit_log",
        ] {
            match raw_execute(store, statement.to_owned()).await {
                Err(e) => assert!(e.to_string().contains("append-only"), "{statement}: {e}"),
                Ok(n) => panic!("{statement} was allowed ({n} rows)"),
            }
        }
        if store.backend() == Backend::Postgres {
            let truncated = raw_execute(store, "TRUNCATE audit_log".to_owned()).await;
            assert!(truncated.is_err(), "TRUNCATE was allowed");
        }
        assert!(matches!(
            ok("verify", store.audit().verify().await),
            AuditVerification::Intact { rows: 2, .. }
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_audit_appends_keep_a_valid_chain() {
    on_each_backend(async |store: &Store| {
        const TASKS: usize = 4;
        const EACH: usize = 25;
        let mut handles = Vec::new();
        for t in 0..TASKS {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                for n in 0..EACH {
                    store.audit().append(entry(&format!("task-{t}"), n)).await?;
                }
                Ok::<(), StoreError>(())
            }));
        }
        for handle in handles {
            match handle.await {
                Ok(result) => ok("append task", result),
                Err(e) => panic!("task panicked: {e}"),
            }
        }
        match ok("verify", store.audit().verify().await) {
            AuditVerification::Intact { rows, .. } => {
                assert_eq!(rows, (TASKS * EACH) as u64 + 1);
            }
            broken => panic!("chain forked: {broken}"),
        }
    })
    .await;
}

#[tokio::test]
async fn same_contact_imported_twice_keeps_one_row() {
    on_each_backend(async |store: &Store| {
        with_contract(store).await;
        let contract_id = match ok("id", store.contract_id("HT-2025-001").await) {
            Some(id) => id,
            None => panic!("contract not stored"),
        };
        let agent = ok(
            "agent",
            store.ensure_agent(contract_id, "A007", "李娜").await,
        );
        let again = ok(
            "agent again",
            store.ensure_agent(contract_id, "A007", "李娜").await,
        );
        assert_eq!(agent, again);

        let started = jiff::Timestamp::from_second(1_750_000_000).unwrap_or_default();
        let contact = NewContact {
            contract_id,
            channel: Channel::Phone,
            external_id: "1750000000.42".to_owned(),
            queue: Some("hotline".to_owned()),
            agent_id: Some(agent),
            customer_id: None,
            started_at: started,
            ended_at: None,
            state: "ended".to_owned(),
            import_batch_id: None,
        };
        let first = ok("insert", store.insert_contact(&contact).await);
        let second = ok("insert again", store.insert_contact(&contact).await);
        assert!(first.created);
        assert!(!second.created);
        assert_eq!(first.id, second.id);
        assert_eq!(count(store, sql!("SELECT COUNT(*) FROM contacts")).await, 1);

        // The same external id on another channel is another contact.
        let chat = NewContact {
            channel: Channel::Chat,
            ..contact.clone()
        };
        assert!(ok("chat", store.insert_contact(&chat).await).created);

        let event = NewContactEvent {
            at: started,
            kind: "enqueued".to_owned(),
            agent_id: None,
            data: serde_json::json!({ "queue": "hotline" }),
        };
        assert_eq!(
            ok(
                "event 1",
                store.append_contact_event(first.id, &event).await
            ),
            1
        );
        assert_eq!(
            ok(
                "event 2",
                store.append_contact_event(first.id, &event).await
            ),
            2
        );
    })
    .await;
}

#[tokio::test]
async fn contract_versions_are_stored_once_and_listed_in_effective_order() {
    on_each_backend(async |store: &Store| {
        let amendment = |label: &str, day: jiff::civil::Date| NewContractVersion {
            kind: VersionKind::Amendment,
            label: label.to_owned(),
            effective_from: day,
            document: format!("[amendment]\nlabel = \"{label}\"\n"),
            source_path: Some(format!("{label}.toml")),
            amendment_number: Some(label.to_owned()),
        };
        let versions = [
            amendment("补充协议二", date(2025, 9, 1)),
            base_version(),
            amendment("补充协议一", date(2025, 6, 1)),
        ];
        let saved = ok(
            "save",
            store
                .save_contract("HT-2025-001", "客服外包服务合同", &versions, "tester")
                .await,
        );
        assert!(saved.contract_created);
        assert_eq!(saved.new_versions(), 3);
        assert_eq!(saved.versions[1].version_no, 0, "base is version 0");

        let listed = ok("list", store.contract_versions("HT-2025-001").await);
        let labels: Vec<&str> = listed.iter().map(|v| v.label.as_str()).collect();
        assert_eq!(labels, ["base contract", "补充协议一", "补充协议二"]);
        assert_eq!(listed[0].kind, VersionKind::Base);
        assert_eq!(listed[0].effective_from, date(2025, 1, 1));
        for v in &listed {
            assert_eq!(v.number, "HT-2025-001");
            assert_eq!(
                v.sha256,
                kefu_store::contracts::document_sha256(&v.document)
            );
        }

        // Loading the same documents again stores nothing and audits nothing.
        let audit_rows = count(store, sql!("SELECT COUNT(*) FROM audit_log")).await;
        let again = ok(
            "save again",
            store
                .save_contract("HT-2025-001", "客服外包服务合同", &versions, "tester")
                .await,
        );
        assert!(!again.contract_created);
        assert_eq!(again.new_versions(), 0);
        assert_eq!(
            count(store, sql!("SELECT COUNT(*) FROM audit_log")).await,
            audit_rows
        );
        assert_eq!(
            count(
                store,
                sql!("SELECT COUNT(*) FROM audit_log WHERE action = 'contract.version_loaded'")
            )
            .await,
            3
        );

        // A second, different base is refused; so is an amendment without a base.
        let other_base = NewContractVersion {
            document: "changed".to_owned(),
            ..base_version()
        };
        let refused = store
            .save_contract("HT-2025-001", "t", &[other_base], "tester")
            .await;
        assert!(refused.is_err_and(|e| e.is_user_error()));
        let orphan = store
            .save_contract(
                "HT-2025-002",
                "t",
                &[amendment("x", date(2025, 2, 1))],
                "tester",
            )
            .await;
        assert!(orphan.is_err_and(|e| e.is_user_error()));
        // The refused call rolled back: no contract HT-2025-002 was left behind.
        assert_eq!(ok("lookup", store.contract_id("HT-2025-002").await), None);
        assert!(matches!(
            ok("verify", store.audit().verify().await),
            AuditVerification::Intact { .. }
        ));
    })
    .await;
}

#[tokio::test]
async fn a_signed_amendment_cannot_be_stored_again_with_other_text() {
    on_each_backend(async |store: &Store| {
        let amendment = |text: &str| NewContractVersion {
            kind: VersionKind::Amendment,
            label: "补充协议一".to_owned(),
            effective_from: date(2025, 6, 1),
            document: text.to_owned(),
            source_path: Some("a1.toml".to_owned()),
            amendment_number: Some("HT-2025-001-A1".to_owned()),
        };
        ok(
            "first",
            store
                .save_contract("HT-2025-001", "t", &[base_version(), amendment("rate = 1")], "tester")
                .await,
        );
        let edited = store
            .save_contract("HT-2025-001", "t", &[amendment("rate = 2")], "tester")
            .await;
        let err = match edited {
            Ok(o) => panic!("an edited amendment was stored: {o:?}"),
            Err(e) => e,
        };
        assert!(err.is_user_error());
        assert!(
            err.to_string().contains("amendment `HT-2025-001-A1` of contract `HT-2025-001` is already stored with a different text"),
            "{err}"
        );
        let versions = ok("versions", store.contract_versions("HT-2025-001").await);
        assert_eq!(versions.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn an_audit_value_of_the_wrong_type_is_reported_as_a_broken_row() {
    on_each_backend(async |store: &Store| {
        if store.backend() != Backend::Sqlite {
            return; // PostgreSQL's column types refuse such an edit outright
        }
        for n in 0..4 {
            ok("append", store.audit().append(entry("tester", n)).await);
        }
        let dropped = raw_execute(store, "DROP TRIGGER audit_log_no_update".to_owned()).await;
        assert!(dropped.is_ok(), "{dropped:?}");
        let changed = raw_execute(
            store,
            "UPDATE audit_log SET at = 'abc' WHERE seq = 3".to_owned(),
        )
        .await;
        assert!(matches!(changed, Ok(1)), "{changed:?}");
        let verdict = ok("verify", store.audit().verify().await);
        assert_eq!(
            verdict,
            AuditVerification::Broken {
                seq: 3,
                reason: BreakReason::HashMismatch
            }
        );
    })
    .await;
}
