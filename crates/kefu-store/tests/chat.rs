//! Live chat storage on SQLite and PostgreSQL: every message stored once, numbered without
//! gaps or repeats even when sent concurrently, encrypted, readable from any point.

mod common;

use common::on_each_backend;
use kefu_store::chat::Sender;
use kefu_store::sqlx;
use kefu_store::{Store, on_db, sql};

async fn contract(store: &Store) -> kefu_store::ContractId {
    common::placeholder_contract(store, "HT-1").await
}

#[tokio::test]
async fn a_resent_message_is_stored_once_and_numbers_never_repeat() {
    on_each_backend(async |store: &Store| {
        let cid = contract(store).await;
        let conv = store.open_conversation(cid).await.expect("open");
        assert!(store.visitor_owns(&conv.id, &conv.visitor_token).await.expect("own"));
        assert!(!store.visitor_owns(&conv.id, "someone else").await.expect("own"));

        let a = store
            .append_message(&conv.id, Sender::Customer, None, "m1", "你好,我的宽带断了")
            .await
            .expect("m1");
        let again = store
            .append_message(&conv.id, Sender::Customer, None, "m1", "你好,我的宽带断了")
            .await
            .expect("m1 again");
        assert_eq!((a.seq, a.duplicate), (1, false));
        assert_eq!((again.seq, again.duplicate), (1, true), "a resend is the same message");

        // Twenty senders at once: twenty distinct numbers, 2..=21.
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = store.clone();
            let id = conv.id.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .append_message(&id, Sender::Customer, None, &format!("c{i}"), "hello")
                    .await
            }));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.expect("join").expect("append").seq);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (2..=21).collect::<Vec<_>>());

        let after = store.messages_after(&conv.id, 19).await.expect("read");
        assert_eq!(after.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![20, 21]);
        let all = store.messages_after(&conv.id, 0).await.expect("read");
        assert_eq!(all.len(), 21);
        assert_eq!(all[0].text, "你好,我的宽带断了");
        assert_eq!(all[0].sender, Sender::Customer);

        let raw: Vec<(Vec<u8>,)> = on_db!(store.db(), pool => {
            sqlx::query_as(sql!("SELECT body_enc FROM chat_messages")).fetch_all(pool).await.expect("raw")
        });
        let plain = "宽带".as_bytes();
        assert!(raw.iter().all(|(b,)| !b.windows(plain.len()).any(|w| w == plain)), "message text is encrypted");

        for (text, ok) in [("", false), ("   ", false), ("x", true)] {
            let r = store.append_message(&conv.id, Sender::Agent, None, &format!("t{text}"), text).await;
            assert_eq!(r.is_ok(), ok, "{text:?}");
        }
        assert!(store.rate_conversation(&conv.id, 0).await.is_err());
        assert!(store.rate_conversation(&conv.id, 6).await.is_err());
        store.rate_conversation(&conv.id, 5).await.expect("rate");
        store.end_conversation(&conv.id).await.expect("end");
        store.end_conversation(&conv.id).await.expect("end twice");
        assert!(
            store
                .append_message(&conv.id, Sender::Customer, None, "late", "still there?")
                .await
                .is_err(),
            "an ended conversation takes no message"
        );
    })
    .await;
}
