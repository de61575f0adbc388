//! Calls and import runs, on SQLite and PostgreSQL: nothing stored twice,
//! newer versions replace older ones, callers encrypted, runs resumable.

mod common;

use common::on_each_backend;
use jiff::{SignedDuration, Timestamp};
use kefu_core::phone::{CallOutcome, CallRecord};
use kefu_store::sqlx;
use kefu_store::{
    BatchState, ContractId, ImportProgress, ImportSource, ImportStart, NewCall, NewContractVersion,
    Store, VersionKind, on_db, sql,
};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn call(id: &str, offered: &str, outcome: CallOutcome) -> CallRecord {
    let offered_at = ts(offered);
    CallRecord {
        source_id: id.to_owned(),
        queue: Some("q1".to_owned()),
        caller: Some("13812345678".to_owned()),
        offered_at,
        answered_at: (outcome == CallOutcome::Answered)
            .then(|| offered_at + SignedDuration::from_secs(4)),
        ended_at: Some(offered_at + SignedDuration::from_secs(60)),
        outcome,
        agent: (outcome == CallOutcome::Answered).then(|| "Agent/1001".to_owned()),
        talk: (outcome == CallOutcome::Answered).then(|| SignedDuration::from_secs(56)),
        unanswered_rings: 1,
        transferred_to: None,
    }
}

fn new(call: CallRecord, version: i64) -> NewCall {
    NewCall {
        call,
        version,
        first_line: Some(1),
        last_line: Some(3),
    }
}

async fn contract(store: &Store) -> ContractId {
    let saved = store
        .save_contract(
            "HT-1",
            "test",
            &[NewContractVersion {
                kind: VersionKind::Base,
                label: "base".to_owned(),
                effective_from: jiff::civil::date(2026, 1, 1),
                document: "kefu = 1".to_owned(),
                source_path: Some("c.toml".to_owned()),
                amendment_number: None,
            }],
            "tester",
        )
        .await;
    match saved {
        Ok(o) => o.contract_id,
        Err(e) => panic!("save_contract: {e}"),
    }
}

fn source(contract_id: ContractId, sha: &str) -> ImportSource<'_> {
    ImportSource {
        contract_id,
        format: "queue_log",
        source_name: "queue_log",
        digest: sha,
        size: 100,
    }
}

async fn fresh(store: &Store, src: &ImportSource<'_>) -> kefu_store::ImportBatch {
    match store.begin_import(src, "tester").await {
        Ok(ImportStart::Fresh(b)) => b,
        other => panic!("expected a fresh run, got {other:?}"),
    }
}

#[tokio::test]
async fn the_same_calls_imported_twice_are_stored_once() {
    on_each_backend(async |store: &Store| {
        let cid = contract(store).await;
        let batch = fresh(store, &source(cid, "aa")).await;
        let calls = vec![
            new(call("c1", "2026-10-01T01:00:00Z", CallOutcome::Answered), 0),
            new(
                call("c2", "2026-10-01T01:05:00Z", CallOutcome::Abandoned),
                0,
            ),
            // The same call twice inside one chunk.
            new(
                call("c2", "2026-10-01T01:05:00Z", CallOutcome::Abandoned),
                0,
            ),
        ];
        let p = ImportProgress::default();
        let first = store
            .commit_import_chunk(&batch, &calls, &p, None, &[], None)
            .await
            .expect("chunk");
        assert_eq!((first.stored, first.unchanged), (2, 1));
        // Prepared ahead as an importer does: the writer finds them stored and writes nothing.
        let prepared = store
            .prepare_calls(batch.id, &calls, None)
            .expect("prepare");
        let again = store
            .commit_import_chunk(&batch, &calls, &p, None, &[], Some(prepared))
            .await
            .expect("chunk");
        assert_eq!((again.stored, again.unchanged), (0, 3));
        assert_eq!(store.call_count(cid).await.expect("count"), 2);
    })
    .await;
}

#[tokio::test]
async fn a_newer_version_of_a_call_replaces_the_older_and_never_the_reverse() {
    on_each_backend(async |store: &Store| {
        let cid = contract(store).await;
        let batch = fresh(store, &source(cid, "bb")).await;
        let p = ImportProgress::default();
        let waiting = call("ct-1", "2026-10-01T01:00:00Z", CallOutcome::Unknown);
        let answered = call("ct-1", "2026-10-01T01:00:00Z", CallOutcome::Answered);
        store
            .commit_import_chunk(&batch, &[new(waiting.clone(), 1)], &p, None, &[], None)
            .await
            .expect("v1");
        let up = store
            .commit_import_chunk(&batch, &[new(answered.clone(), 2)], &p, None, &[], None)
            .await
            .expect("v2");
        assert_eq!(up.stored, 1);
        let back = store
            .commit_import_chunk(&batch, &[new(waiting, 1)], &p, None, &[], None)
            .await
            .expect("v1 again");
        assert_eq!(
            back.stored, 0,
            "an older version never overwrites a newer one"
        );
        let stored = store
            .calls_offered_between(
                cid,
                None,
                ts("2026-10-01T00:00:00Z"),
                ts("2026-10-02T00:00:00Z"),
                true,
            )
            .await
            .expect("read");
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].call, answered, "caller decrypts after the upsert");
        assert_eq!(stored[0].version, 2);
    })
    .await;
}

#[tokio::test]
async fn caller_numbers_are_stored_encrypted() {
    on_each_backend(async |store: &Store| {
        let cid = contract(store).await;
        let batch = fresh(store, &source(cid, "cc")).await;
        let c = call("c1", "2026-10-01T01:00:00Z", CallOutcome::Answered);
        store
            .commit_import_chunk(&batch, &[new(c, 0)], &ImportProgress::default(), None, &[], None)
            .await
            .expect("chunk");
        let raw: Vec<(Vec<u8>, Option<Vec<u8>>)> = on_db!(store.db(), pool => {
            sqlx::query_as(sql!("SELECT data, callers_enc FROM call_segments")).fetch_all(pool).await.expect("select")
        });
        let (data, callers) = raw[0].clone();
        let callers = callers.expect("encrypted callers");
        let plain = zstd::stream::decode_all(&data[..]).expect("segment data is zstd");
        for bytes in [&callers, &plain] {
            assert!(!bytes.windows(11).any(|w| w == b"13812345678"), "no plaintext number in the database");
        }
        let without = store
            .calls_offered_between(cid, None, ts("2026-10-01T00:00:00Z"), ts("2026-10-02T00:00:00Z"), false)
            .await
            .expect("read");
        assert_eq!(without[0].call.caller, None, "the number is only decrypted on request");
    })
    .await;
}

#[tokio::test]
async fn an_interrupted_run_resumes_from_its_checkpoint_and_a_finished_one_is_not_repeated() {
    on_each_backend(async |store: &Store| {
        let cid = contract(store).await;
        let src = source(cid, "dd");
        let batch = fresh(store, &src).await;
        let checkpoint = ImportProgress {
            resume_offset: 4096,
            resume_line: 57,
            lines_done: 80,
            calls_stored: 0,
            rows_rejected: 2,
            rows_skipped: 1,
            read_offset: 6000,
        };
        store
            .commit_import_chunk(
                &batch,
                &[new(
                    call("c1", "2026-10-01T01:00:00Z", CallOutcome::Answered),
                    0,
                )],
                &checkpoint,
                None,
                &[],
                None,
            )
            .await
            .expect("chunk");
        // The process dies here. The next run finds the checkpoint.
        let resumed = match store.begin_import(&src, "tester").await {
            Ok(ImportStart::Resume(b)) => b,
            other => panic!("expected a resume, got {other:?}"),
        };
        assert_eq!(
            resumed.progress,
            ImportProgress {
                calls_stored: 1,
                ..checkpoint
            }
        );
        store
            .finish_import(&resumed, &resumed.progress, BatchState::Done, "tester")
            .await
            .expect("finish");
        assert!(matches!(
            store.begin_import(&src, "tester").await,
            Ok(ImportStart::AlreadyDone(_))
        ));
        let runs = store.import_batches(cid).await.expect("list");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].state, BatchState::Done);
        let actions: Vec<String> = store
            .audit()
            .list(1, 100)
            .await
            .expect("audit")
            .into_iter()
            .map(|r| r.action)
            .collect();
        assert!(
            actions.contains(&"import.started".to_owned()),
            "{actions:?}"
        );
        assert!(
            actions.contains(&"import.resumed".to_owned()),
            "{actions:?}"
        );
        assert!(actions.contains(&"import.done".to_owned()), "{actions:?}");
    })
    .await;
}

/// Buckets kept up to date by an import (with duplicates and a replaced call in the mix)
/// equal buckets rebuilt from the stored calls from scratch.
#[tokio::test]
async fn buckets_kept_at_import_agree_with_buckets_rebuilt_from_the_calls() {
    use kefu_core::phone::aggregate::Interval;
    use kefu_store::BucketPlan;
    on_each_backend(async |store: &Store| {
        let cid = contract(store).await;
        let shanghai = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
        let plan = BucketPlan {
            interval: Interval::DEFAULT,
            tz: shanghai.clone(),
        };
        let batch = fresh(store, &source(cid, "ee")).await;
        let outcomes = [
            CallOutcome::Answered,
            CallOutcome::Answered,
            CallOutcome::Abandoned,
            CallOutcome::Answered,
            CallOutcome::TimedOut,
            CallOutcome::Unknown,
        ];
        let start = ts("2026-10-30T15:00:00Z"); // 23:00 in Shanghai: calls cross midnight and the month
        let make = |i: i64| {
            let offered = start + SignedDuration::from_secs(i * 97 % 86_400 * 3);
            let mut c = call(&format!("k{i}"), "2026-10-01T00:00:00Z", outcomes[(i % 6) as usize]);
            let shift = offered.duration_since(c.offered_at);
            c.offered_at = offered;
            c.answered_at = c.answered_at.map(|a| a + shift + SignedDuration::from_millis(i * 731 % 40_000));
            c.ended_at = c.ended_at.map(|e| e + shift + SignedDuration::from_secs(i % 50));
            c.agent = c.agent.map(|_| format!("Agent/{}", 1000 + i % 7));
            c.queue = Some(if i % 3 == 0 { "vip" } else { "main" }.to_owned());
            c
        };
        let first: Vec<NewCall> = (0..300).map(|i| new(make(i), 0)).collect();
        let p = ImportProgress::default();
        let prepared = store.prepare_calls(batch.id, &first, Some(&plan)).expect("prepare 1");
        store.commit_import_chunk(&batch, &first, &p, Some(&plan), &[], Some(prepared)).await.expect("chunk 1");
        // Overlap: 100 already stored, 100 new; one stored-as-unknown call now finished.
        let mut second: Vec<NewCall> = (200..400).map(|i| new(make(i), 0)).collect();
        let mut finished = make(5);
        finished.outcome = CallOutcome::Answered;
        finished.answered_at = Some(finished.offered_at + SignedDuration::from_secs(9));
        finished.agent = Some("Agent/1999".to_owned());
        second.push(new(finished, 0));
        // A newer version of another call, offered a day later: both days change.
        let mut moved = make(150);
        let day = SignedDuration::from_hours(24);
        moved.offered_at += day;
        moved.answered_at = moved.answered_at.map(|t| t + day);
        moved.ended_at = moved.ended_at.map(|t| t + day);
        second.push(new(moved, 1));
        let prepared = store.prepare_calls(batch.id, &second, Some(&plan)).expect("prepare 2");
        let out = store.commit_import_chunk(&batch, &second, &p, Some(&plan), &[], Some(prepared)).await.expect("chunk 2");
        assert_eq!(out.stored, 102, "100 new calls and two replacements");
        store.finish_import(&batch, &p, BatchState::Done, "tester").await.expect("finish");

        // Days of replaced calls are left for a rebuild; the others were written by the import.
        let marks: Vec<(i64,)> = on_db!(store.db(), pool => {
            sqlx::query_as(sql!("SELECT COUNT(*) FROM phone_bucket_dirty_days WHERE pending_batch <> ''")).fetch_all(pool).await.expect("marks")
        });
        assert_eq!(marks[0].0, 0, "the finished import has no fold pending");
        let (d1, d2) = (jiff::civil::date(2026, 10, 30), jiff::civil::date(2026, 11, 5));
        let kept = store.phone_buckets(cid, &plan, d1, d2).await.expect("kept");
        // Another plan forces a rebuild from the calls; then back to this plan: rebuilt again.
        let utc = BucketPlan {
            interval: Interval::DEFAULT,
            tz: jiff::tz::TimeZone::UTC,
        };
        store.phone_buckets(cid, &utc, d1, d2).await.expect("utc");
        let rebuilt = store.phone_buckets(cid, &plan, d1, d2).await.expect("rebuilt");
        assert!(!kept.intervals.is_empty() && !kept.agent_days.is_empty());
        assert_eq!(kept, rebuilt);
        let offered: u64 = kept.intervals.iter().map(|(_, b)| b.offered).sum();
        assert_eq!(offered, 400);
        let by_agent: u64 = kept.agent_days.iter().map(|(_, b)| b.offered).sum();
        assert_eq!(by_agent, 400);
    })
    .await;
}

/// An import writes a day's buckets once it has moved past the day (or ends); a report read
/// in between rebuilds the days still open from the calls. Either way the buckets end exact,
/// and a finished import leaves no day to rebuild.
#[tokio::test]
async fn buckets_written_as_an_import_moves_on_are_exact_even_with_a_read_in_between() {
    use kefu_core::phone::aggregate::Interval;
    use kefu_store::BucketPlan;
    on_each_backend(async |store: &Store| {
        let cid = contract(store).await;
        let plan = BucketPlan {
            interval: Interval::DEFAULT,
            tz: jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz"),
        };
        let batch = fresh(store, &source(cid, "ff")).await;
        let start = ts("2026-10-01T00:00:00Z");
        // 600 calls, one every 20 minutes: a little over eight days, in three chunks.
        let all: Vec<NewCall> = (0..600i64)
            .map(|i| {
                let mut c = call(&format!("m{i}"), "2026-10-01T00:00:00Z", if i % 7 == 0 {
                    CallOutcome::Abandoned
                } else {
                    CallOutcome::Answered
                });
                let shift = SignedDuration::from_mins(20 * i);
                c.offered_at = start + shift;
                c.answered_at = c.answered_at.map(|t| t + shift);
                c.ended_at = c.ended_at.map(|t| t + shift);
                new(c, 0)
            })
            .collect();
        let p = ImportProgress::default();
        let (d1, d2) = (jiff::civil::date(2026, 9, 30), jiff::civil::date(2026, 10, 12));
        for (n, chunk) in all.chunks(200).enumerate() {
            let prepared = store.prepare_calls(batch.id, chunk, Some(&plan)).expect("prepare");
            store
                .commit_import_chunk(&batch, chunk, &p, Some(&plan), &[], Some(prepared))
                .await
                .expect("chunk");
            if n == 0 {
                // A report in the middle of the import.
                let mid = store.phone_buckets(cid, &plan, d1, d2).await.expect("mid");
                let offered: u64 = mid.intervals.iter().map(|(_, b)| b.offered).sum();
                assert_eq!(offered, 200, "a read during the import sees what is committed");
            }
        }
        store
            .finish_import(&batch, &p, BatchState::Done, "tester")
            .await
            .expect("finish");
        let marks: Vec<(i64,)> = on_db!(store.db(), pool => {
            sqlx::query_as(sql!("SELECT COUNT(*) FROM phone_bucket_dirty_days")).fetch_all(pool).await.expect("marks")
        });
        assert_eq!(marks[0].0, 0, "a finished import leaves no day to rebuild");
        let kept = store.phone_buckets(cid, &plan, d1, d2).await.expect("kept");
        let offered: u64 = kept.intervals.iter().map(|(_, b)| b.offered).sum();
        assert_eq!(offered, 600);
        let agent_offered: u64 = kept.agent_days.iter().map(|(_, b)| b.offered).sum();
        assert_eq!(agent_offered, 600);
        // Another plan forces a rebuild from the calls; back to this plan, rebuilt again.
        let utc = BucketPlan {
            interval: Interval::DEFAULT,
            tz: jiff::tz::TimeZone::UTC,
        };
        store.phone_buckets(cid, &utc, d1, d2).await.expect("utc");
        let rebuilt = store.phone_buckets(cid, &plan, d1, d2).await.expect("rebuilt");
        assert_eq!(kept, rebuilt);
    })
    .await;
}
