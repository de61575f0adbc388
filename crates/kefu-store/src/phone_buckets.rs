//! Phone buckets in the store: every import chunk folds the calls it inserted
//! into their (interval, queue, agent) buckets inside the chunk's own
//! transaction, so the buckets never disagree with `calls` after a crash. A
//! call *replaced* by a newer version marks its local day dirty; dirty days
//! (and everything, when the contract's interval or time zone changed) are
//! rebuilt from `calls` before buckets are read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use kefu_core::phone::CallRecord;
use kefu_core::phone::aggregate::{BucketKey, Interval, PhoneBucket, bucket_key};

use crate::error::StoreError;
use crate::ids::{ContractId, ImportBatchId};
use crate::{Store, Tx, on_db, on_tx, sql};

/// How buckets are cut: the contract's staffing interval in its time zone.
#[derive(Debug, Clone)]
pub struct BucketPlan {
    pub interval: Interval,
    pub tz: TimeZone,
}

impl BucketPlan {
    fn tz_name(&self) -> String {
        self.tz.iana_name().unwrap_or("UTC").to_owned()
    }
}

const ROWS_PER_STATEMENT: usize = 256;

/// Which aggregation a bucket row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Grain {
    /// Per (interval, queue), all agents together.
    Interval,
    /// Per (local day, queue, agent).
    AgentDay,
}

impl Grain {
    fn as_str(self) -> &'static str {
        match self {
            Grain::Interval => "interval",
            Grain::AgentDay => "agent_day",
        }
    }
    fn parse(s: &str) -> Result<Grain, StoreError> {
        match s {
            "interval" => Ok(Grain::Interval),
            "agent_day" => Ok(Grain::AgentDay),
            other => Err(StoreError::Corrupt {
                what: "phone_buckets.grain",
                detail: format!("unknown grain {other:?}"),
            }),
        }
    }
}

pub(crate) type Folded = BTreeMap<(Grain, BucketKey), PhoneBucket>;

/// The two buckets a call counts in.
fn fold(into: &mut Folded, c: &CallRecord, plan: &BucketPlan) {
    let mut key = bucket_key(c, plan.interval, &plan.tz);
    let agent = key.agent.take();
    into.entry((Grain::Interval, key.clone()))
        .or_default()
        .add_call(c);
    let day = BucketKey {
        start: key.start.date().to_datetime(Time::midnight()),
        queue: key.queue,
        agent,
    };
    into.entry((Grain::AgentDay, day)).or_default().add_call(c);
}

/// Like [`fold`] for many calls, without an owned key per call: a chunk of 20,000 calls
/// touches a few hundred buckets, so keys are made once per bucket.
pub(crate) fn fold_borrowed(calls: &[&CallRecord], plan: &BucketPlan) -> Folded {
    type Borrowed<'a> = (Grain, DateTime, Option<&'a str>, Option<&'a str>);
    let mut cells: HashMap<Borrowed<'_>, PhoneBucket, foldhash::fast::RandomState> =
        HashMap::default();
    for c in calls {
        let start = plan.interval.floor(plan.tz.to_datetime(c.offered_at));
        let queue = c.queue.as_deref();
        cells
            .entry((Grain::Interval, start, queue, None))
            .or_default()
            .add_call(c);
        cells
            .entry((
                Grain::AgentDay,
                start.date().to_datetime(Time::midnight()),
                queue,
                c.agent.as_deref(),
            ))
            .or_default()
            .add_call(c);
    }
    cells
        .into_iter()
        .map(|((g, start, queue, agent), b)| {
            (
                (
                    g,
                    BucketKey {
                        start,
                        queue: queue.map(str::to_owned),
                        agent: agent.map(str::to_owned),
                    },
                ),
                b,
            )
        })
        .collect()
}

/// A contract's stored buckets for some days.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PhoneBuckets {
    /// Per (interval, queue); `agent` is always `None`.
    pub intervals: Vec<(BucketKey, PhoneBucket)>,
    /// Per (local day, queue, agent); `start` is the day's midnight.
    pub agent_days: Vec<(BucketKey, PhoneBucket)>,
}

fn start_text(dt: DateTime) -> String {
    dt.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

fn key_of(start: &str, queue: String, agent: String) -> Result<BucketKey, StoreError> {
    let start: DateTime = start.parse().map_err(|e| StoreError::Corrupt {
        what: "phone_buckets.start_local",
        detail: format!("{start:?}: {e}"),
    })?;
    Ok(BucketKey {
        start,
        queue: (!queue.is_empty()).then_some(queue),
        agent: (!agent.is_empty()).then_some(agent),
    })
}

/// A bucket is stored in postcard's compact binary form (varints, no field names): an import
/// reads and rewrites hundreds of them per chunk, where JSON cost a tenth of the import.
fn parse_bucket(data: &[u8]) -> Result<PhoneBucket, StoreError> {
    postcard::from_bytes(data).map_err(|e| StoreError::Corrupt {
        what: "phone_buckets.data",
        detail: e.to_string(),
    })
}

fn bucket_bytes(b: &PhoneBucket) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(b).map_err(|e| StoreError::Corrupt {
        what: "phone_buckets.data",
        detail: e.to_string(),
    })
}

/// On PostgreSQL, serialise everything that reads and rewrites a contract's buckets (import
/// chunks, rebuilds) until the transaction ends; SQLite's single writer does so already.
pub(crate) async fn lock_buckets(tx: &mut Tx, cid: &str) -> Result<(), StoreError> {
    if let Tx::Postgres(pg) = tx {
        sqlx::query(sql!(
            "SELECT pg_advisory_xact_lock(hashtext('kefu.phone_buckets:' || $1))"
        ))
        .bind(cid)
        .execute(&mut **pg)
        .await?;
    }
    Ok(())
}

/// The plan stored for a contract, if any.
async fn stored_plan(tx: &mut Tx, cid: &str) -> Result<Option<(i64, String)>, StoreError> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_as(sql!(
            "SELECT interval_ms, time_zone FROM phone_bucket_plans WHERE contract_id = $1"
        ))
        .bind(cid)
        .fetch_optional(&mut *conn)
        .await?
    }))
}

fn same_plan(stored: &(i64, String), plan: &BucketPlan) -> bool {
    u64::try_from(stored.0).ok() == Some(plan.interval.as_millis()) && stored.1 == plan.tz_name()
}

/// Buckets an import run has folded but not written yet, per local day. A day's buckets are
/// written once, when the run has moved past it or ends, instead of being read and rewritten
/// by every chunk; until then the day carries the run's mark in `phone_bucket_dirty_days`,
/// so that a reader rebuilds it from the calls (and a run that dies leaves it to be rebuilt).
#[derive(Debug, Default)]
pub(crate) struct PendingBuckets {
    runs: HashMap<ImportBatchId, BTreeMap<Date, Folded>>,
}

impl PendingBuckets {
    pub(crate) fn take(&mut self, run: ImportBatchId) -> BTreeMap<Date, Folded> {
        self.runs.remove(&run).unwrap_or_default()
    }

    pub(crate) fn put_back(&mut self, run: ImportBatchId, days: BTreeMap<Date, Folded>) {
        if !days.is_empty() {
            self.runs.insert(run, days);
        }
    }
}

fn merge_into(into: &mut Folded, from: Folded) {
    for (k, b) in from {
        match into.get_mut(&k) {
            Some(mine) => mine.merge(&b),
            None => {
                into.insert(k, b);
            }
        }
    }
}

/// The marks on a local day: `''` (rebuild from the calls) and the runs with a fold pending.
async fn day_marks(tx: &mut Tx, cid: &str, day: &str) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = on_tx!(tx, conn => {
        sqlx::query_as(sql!(
            "SELECT pending_batch FROM phone_bucket_dirty_days WHERE contract_id = $1 AND day = $2"
        ))
        .bind(cid)
        .bind(day)
        .fetch_all(&mut *conn)
        .await?
    });
    Ok(rows.into_iter().map(|(m,)| m).collect())
}

async fn mark_day(tx: &mut Tx, cid: &str, day: &str, mark: &str) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query(sql!(
            "INSERT INTO phone_bucket_dirty_days (contract_id, day, pending_batch) VALUES ($1, $2, $3)
             ON CONFLICT (contract_id, day, pending_batch) DO NOTHING"
        ))
        .bind(cid)
        .bind(day)
        .bind(mark)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// Writes a run's pending fold of one day: merged into the stored buckets if the day still
/// carries the run's mark and no rebuild is due; dropped otherwise (a rebuild since then
/// counted the run's calls, or will).
pub(crate) async fn flush_day(
    tx: &mut Tx,
    cid: &str,
    run: &str,
    day: Date,
    fold: Folded,
) -> Result<(), StoreError> {
    let day_text = day.to_string();
    let marks = day_marks(tx, cid, &day_text).await?;
    if !marks.iter().any(|m| m == run) {
        return Ok(());
    }
    if !marks.iter().any(|m| m.is_empty()) {
        let lo = start_text(day.to_datetime(Time::midnight()));
        let next = day
            .checked_add(1.day())
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let hi = start_text(next.to_datetime(Time::midnight()));
        let existing: Vec<(String, String, String, String, Vec<u8>)> = on_tx!(tx, conn => {
            sqlx::query_as(sql!(
                "SELECT grain, start_local, queue, agent, data FROM phone_buckets
                 WHERE contract_id = $1 AND start_local >= $2 AND start_local < $3"
            ))
            .bind(cid)
            .bind(&lo)
            .bind(&hi)
            .fetch_all(&mut *conn)
            .await?
        });
        let mut fresh = fold;
        for (grain, start, queue, agent, data) in existing {
            let key = (Grain::parse(&grain)?, key_of(&start, queue, agent)?);
            if let Some(b) = fresh.get_mut(&key) {
                b.merge(&parse_bucket(&data)?);
            }
        }
        write_buckets(tx, cid, &fresh).await?;
    }
    on_tx!(tx, conn => {
        sqlx::query(sql!(
            "DELETE FROM phone_bucket_dirty_days
             WHERE contract_id = $1 AND day = $2 AND pending_batch = $3"
        ))
        .bind(cid)
        .bind(&day_text)
        .bind(run)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// Inside an import chunk's transaction: fold the inserted calls into the run's pending
/// buckets (see [`PendingBuckets`]), write the days the run has left behind, and mark the days
/// of replaced calls for a rebuild. With no stored plan yet, or a different one, nothing is
/// folded: the next read rebuilds everything from the calls. Returns the run's pending days,
/// to be kept only once the transaction commits.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn fold_chunk(
    tx: &mut Tx,
    contract_id: ContractId,
    run: ImportBatchId,
    mut pending: BTreeMap<Date, Folded>,
    plan: &BucketPlan,
    inserted: &[&CallRecord],
    replaced: &[&CallRecord],
    replaced_from: &[Timestamp],
    prefolded: Option<Folded>,
) -> Result<BTreeMap<Date, Folded>, StoreError> {
    let cid = contract_id.text();
    lock_buckets(tx, &cid).await?;
    match stored_plan(tx, &cid).await? {
        Some(p) if same_plan(&p, plan) => {}
        Some(_) => return Ok(BTreeMap::new()),
        None => {
            // The contract's first calls: start the buckets from empty with this plan. If
            // calls were stored before, they are rebuilt from the calls on the next read.
            let n = crate::calls::count_in_tx(tx, &cid).await?;
            if !replaced.is_empty() || usize::try_from(n).ok() != Some(inserted.len()) {
                return Ok(BTreeMap::new());
            }
            let interval_ms = i64::try_from(plan.interval.as_millis()).unwrap_or(i64::MAX);
            on_tx!(tx, conn => {
                sqlx::query(sql!(
                    "INSERT INTO phone_bucket_plans (contract_id, interval_ms, time_zone)
                     VALUES ($1, $2, $3) ON CONFLICT (contract_id) DO NOTHING"
                ))
                .bind(&cid)
                .bind(interval_ms)
                .bind(plan.tz_name())
                .execute(&mut *conn)
                .await?
                .rows_affected()
            });
        }
    }
    let rebuild: BTreeSet<String> = replaced
        .iter()
        .map(|c| c.offered_at)
        .chain(replaced_from.iter().copied())
        .map(|t| plan.tz.to_datetime(t).date().to_string())
        .collect();
    for day in rebuild {
        mark_day(tx, &cid, &day, "").await?;
    }
    if inserted.is_empty() {
        return Ok(pending);
    }
    // Folded ahead (on the importer's preparing thread) when every call of the chunk was new.
    let fresh = prefolded.unwrap_or_else(|| fold_borrowed(inserted, plan));
    let mut by_day: BTreeMap<Date, Folded> = BTreeMap::new();
    for (k, b) in fresh {
        by_day.entry(k.1.start.date()).or_default().insert(k, b);
    }
    let run_text = run.text();
    let first_day = by_day.keys().next().copied();
    for (day, fold) in by_day {
        let day_text = day.to_string();
        let ours = day_marks(tx, &cid, &day_text).await?.contains(&run_text);
        if ours {
            merge_into(pending.entry(day).or_default(), fold);
        } else {
            // New to this run, or rebuilt since (which counted what the run had folded).
            mark_day(tx, &cid, &day_text, &run_text).await?;
            pending.insert(day, fold);
        }
    }
    // Files run forward in time: a day more than one day behind this chunk is done.
    if let Some(first) = first_day.and_then(|d| d.checked_sub(1.day()).ok()) {
        let behind: Vec<Date> = pending.range(..first).map(|(d, _)| *d).collect();
        for day in behind {
            if let Some(fold) = pending.remove(&day) {
                flush_day(tx, &cid, &run_text, day, fold).await?;
            }
        }
    }
    Ok(pending)
}

type BucketRow = (&'static str, String, String, String, Vec<u8>);

async fn write_buckets(tx: &mut Tx, cid: &str, buckets: &Folded) -> Result<(), StoreError> {
    let rows: Vec<BucketRow> = buckets
        .iter()
        .map(|((grain, k), b)| {
            Ok((
                grain.as_str(),
                start_text(k.start),
                k.queue.clone().unwrap_or_default(),
                k.agent.clone().unwrap_or_default(),
                bucket_bytes(b)?,
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    for chunk in crate::db::statement_batches(&rows, ROWS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO phone_buckets (contract_id, grain, start_local, queue, agent, data) ",
            );
            qb.push_values(chunk, |mut b, (grain, start, queue, agent, data)| {
                b.push_bind(cid.to_owned())
                    .push_bind(*grain)
                    .push_bind(start.clone())
                    .push_bind(queue.clone())
                    .push_bind(agent.clone())
                    .push_bind(data.clone());
            });
            qb.push(
                " ON CONFLICT (contract_id, grain, start_local, queue, agent) DO UPDATE SET data = excluded.data",
            );
            qb.build().execute(&mut *conn).await?.rows_affected()
        });
    }
    Ok(())
}

/// A span of calls to rebuild: its instants, and its local starts (None: everything).
type Rebuild = (Timestamp, Timestamp, Option<(String, String)>);

fn local_midnight(tz: &TimeZone, d: Date) -> Result<Timestamp, StoreError> {
    tz.to_timestamp(d.to_datetime(Time::midnight()))
        .map_err(|e| StoreError::Invalid(format!("local midnight of {d}: {e}")))
}

impl Store {
    /// The phone buckets of a contract for the local dates `first..=last`, cut by `plan`.
    /// Stale buckets (dirty days, another plan, none built yet) are rebuilt from `calls` first.
    pub async fn phone_buckets(
        &self,
        contract_id: ContractId,
        plan: &BucketPlan,
        first: Date,
        last: Date,
    ) -> Result<PhoneBuckets, StoreError> {
        self.refresh_phone_buckets(contract_id, plan).await?;
        let cid = contract_id.text();
        let lo = start_text(first.to_datetime(Time::midnight()));
        let next = last
            .checked_add(1.day())
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let hi = start_text(next.to_datetime(Time::midnight()));
        let rows: Vec<(String, String, String, String, Vec<u8>)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT grain, start_local, queue, agent, data FROM phone_buckets
                 WHERE contract_id = $1 AND start_local >= $2 AND start_local < $3
                 ORDER BY grain, start_local, queue, agent"
            ))
            .bind(&cid)
            .bind(&lo)
            .bind(&hi)
            .fetch_all(pool)
            .await?
        });
        let mut out = PhoneBuckets::default();
        for (g, s, q, a, d) in rows {
            let row = (key_of(&s, q, a)?, parse_bucket(&d)?);
            match Grain::parse(&g)? {
                Grain::Interval => out.intervals.push(row),
                Grain::AgentDay => out.agent_days.push(row),
            }
        }
        Ok(out)
    }

    /// Rebuilds what is stale: everything when the plan changed or none is stored, else the
    /// dirty days. Each rebuild is one transaction.
    pub async fn refresh_phone_buckets(
        &self,
        contract_id: ContractId,
        plan: &BucketPlan,
    ) -> Result<(), StoreError> {
        let cid = contract_id.text();
        let mut tx = self.db().begin().await?;
        lock_buckets(&mut tx, &cid).await?;
        let current = stored_plan(&mut tx, &cid).await?;
        let dirty: Vec<(String,)> = on_tx!(&mut tx, conn => {
            sqlx::query_as(sql!(
                "SELECT DISTINCT day FROM phone_bucket_dirty_days WHERE contract_id = $1 ORDER BY day"
            ))
            .bind(&cid)
            .fetch_all(&mut *conn)
            .await?
        });
        let whole = !matches!(&current, Some(p) if same_plan(p, plan));
        if !whole && dirty.is_empty() {
            tx.rollback().await?;
            return Ok(());
        }
        // The ranges to rebuild, as instants.
        let ranges: Vec<Rebuild> = if whole {
            vec![(Timestamp::MIN, Timestamp::MAX, None)]
        } else {
            let mut v = Vec::new();
            for (day,) in &dirty {
                let d: Date = day.parse().map_err(|e| StoreError::Corrupt {
                    what: "phone_bucket_dirty_days.day",
                    detail: format!("{day:?}: {e}"),
                })?;
                let next = d
                    .checked_add(1.day())
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                v.push((
                    local_midnight(&plan.tz, d)?,
                    local_midnight(&plan.tz, next)?,
                    Some((
                        start_text(d.to_datetime(Time::midnight())),
                        start_text(next.to_datetime(Time::midnight())),
                    )),
                ));
            }
            v
        };
        for (from, to, starts) in ranges {
            match &starts {
                None => {
                    on_tx!(&mut tx, conn => {
                        sqlx::query(sql!("DELETE FROM phone_buckets WHERE contract_id = $1"))
                            .bind(&cid)
                            .execute(&mut *conn)
                            .await?
                            .rows_affected()
                    });
                }
                Some((lo, hi)) => {
                    on_tx!(&mut tx, conn => {
                        sqlx::query(sql!(
                            "DELETE FROM phone_buckets
                             WHERE contract_id = $1 AND start_local >= $2 AND start_local < $3"
                        ))
                        .bind(&cid)
                        .bind(lo)
                        .bind(hi)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected()
                    });
                }
            }
            let mut buckets = Folded::new();
            crate::calls::for_each_call_in_tx(self, &mut tx, contract_id, from, to, |c| {
                fold(&mut buckets, c, plan);
            })
            .await?;
            write_buckets(&mut tx, &cid, &buckets).await?;
        }
        on_tx!(&mut tx, conn => {
            sqlx::query(sql!("DELETE FROM phone_bucket_dirty_days WHERE contract_id = $1"))
                .bind(&cid)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        let interval_ms = i64::try_from(plan.interval.as_millis()).unwrap_or(i64::MAX);
        on_tx!(&mut tx, conn => {
            sqlx::query(sql!(
                "INSERT INTO phone_bucket_plans (contract_id, interval_ms, time_zone) VALUES ($1, $2, $3)
                 ON CONFLICT (contract_id) DO UPDATE
                 SET interval_ms = excluded.interval_ms, time_zone = excluded.time_zone"
            ))
            .bind(&cid)
            .bind(interval_ms)
            .bind(plan.tz_name())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        tx.commit().await?;
        Ok(())
    }
}
