//! Phone calls, stored in segments: the calls of one contract, source format and UTC day
//! written by one import chunk, kept column by column and compressed in one row of
//! `call_segments` (layout in [`crate::segment_codec`]). A month of three million calls is a
//! few hundred rows; the engine reads them a day at a time.
//!
//! A call's natural key (contract, source format, source id) is unique across segments: before
//! writing, the writer looks the key up among the segments of the call's day and the day on
//! either side (a call's records never lie further apart), through a cache of the keys each
//! day holds that is checked against the database inside the transaction. A newer version of
//! a stored call (Amazon Connect's LastUpdateTimestamp), or a finished call where an open one
//! was stored, rewrites the old call's segment without it and stores the new record.
//!
//! The caller's number is customer data: a segment's numbers are encrypted as one
//! value bound to the segment's id. There is no blind index: finding a number's calls means
//! decrypting the caller lists of the period searched, which for a month of 3 million calls
//! is some 36 MB of ciphertext, tens of milliseconds.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use jiff::Timestamp;
use kefu_core::phone::{CallOutcome, CallRecord};

use crate::crypto::FieldRef;
use crate::error::StoreError;
use crate::ids::{ContractId, ImportBatchId};
use crate::segment_codec::{self, SegmentCall, SegmentRow};
use crate::{Store, Tx, on_tx, sql};

const TABLE: &str = "call_segments";
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Days of keys a writer keeps per (contract, format); files come roughly in time order, so a
/// chunk needs its own day and the one on either side.
const CACHED_DAYS: usize = 6;

/// A call to store, with where it came from.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub call: CallRecord,
    /// A newer record of the same call (higher version) replaces an older one; 0 when the
    /// source has no versions. At equal versions a finished call replaces one stored as
    /// `unknown` (a call still open when an earlier file ended).
    pub version: i64,
    pub first_line: Option<i64>,
    pub last_line: Option<i64>,
}

/// What a chunk write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkOutcome {
    /// Calls inserted or replaced by a newer version.
    pub stored: u64,
    /// Calls already stored with the same or a newer version (re-import, overlap).
    pub unchanged: u64,
}

/// What a chunk write did to each call: indexes into the input of the calls newly inserted
/// and of those that replaced an older version of themselves.
pub(crate) struct ChunkWrite {
    pub(crate) outcome: ChunkOutcome,
    pub(crate) inserted: Vec<usize>,
    pub(crate) replaced: Vec<usize>,
    /// Offer times the replaced calls had before (a newer version may move a call to
    /// another day, whose buckets then need a rebuild too).
    pub(crate) replaced_from: Vec<Timestamp>,
    /// The buckets of the inserted calls, folded ahead (see [`PreparedCalls`]).
    pub(crate) prefolded: Option<crate::phone_buckets::Folded>,
}

/// A stored call, as the engine reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCall {
    pub call: CallRecord,
    pub version: i64,
    pub import_batch_id: Option<String>,
    pub first_line: Option<i64>,
    pub last_line: Option<i64>,
}

fn day_of(t: Timestamp) -> i64 {
    t.as_microsecond().div_euclid(MICROS_PER_DAY)
}

fn corrupt(id: &str, e: segment_codec::DecodeError) -> StoreError {
    StoreError::Corrupt {
        what: "call_segments.data",
        detail: format!("segment {id}: {}", e.0),
    }
}

// ---------------------------------------------------------------------------------------------
// The writer's cache of keys

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The hash a day's key set is kept by: 8 bytes a key instead of the key itself. Equal hashes
/// are confirmed against the stored segment before a call counts as already stored.
fn key_hash(source_id: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x6b65_6675_6361_6c6c).hash_one(source_id)
}

/// What a day's key set says of a hash.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// One stored call has this hash, in the segment at this position of
    /// [`DayKeys::segment_ids`] (whether it is the same call is checked there).
    In(u32),
    /// Several stored calls of the day share the hash: look through all the day's segments.
    Several,
}

/// The keys stored on one (contract, format, day), as of the segments listed.
#[derive(Debug, Default)]
struct DayKeys {
    /// Segment id → generation, for the check against the database.
    segments: HashMap<String, i64>,
    segment_ids: Vec<String>,
    keys: FastMap<u64, Slot>,
    last_used: u64,
}

impl DayKeys {
    /// Adds a segment's keys, given as [`key_hash`]es.
    fn add_segment(&mut self, id: &str, generation: i64, hashes: impl Iterator<Item = u64>) {
        let pos = u32::try_from(self.segment_ids.len()).unwrap_or(u32::MAX);
        self.segment_ids.push(id.to_owned());
        self.segments.insert(id.to_owned(), generation);
        for h in hashes {
            self.keys
                .entry(h)
                .and_modify(|s| *s = Slot::Several)
                .or_insert(Slot::In(pos));
        }
    }
}

type DayKey = (String, String, i64);

/// Per store: the keys of the days recently written, by (contract, format, day). Entries are
/// taken out for the length of a chunk's transaction and put back only when it commits.
#[derive(Debug, Default)]
pub(crate) struct SegmentKeys {
    days: HashMap<DayKey, DayKeys>,
    tick: u64,
}

impl SegmentKeys {
    fn take(&mut self, cid: &str, format: &str, days: &BTreeSet<i64>) -> BTreeMap<i64, DayKeys> {
        days.iter()
            .filter_map(|&d| {
                self.days
                    .remove(&(cid.to_owned(), format.to_owned(), d))
                    .map(|k| (d, k))
            })
            .collect()
    }

    fn put_back(&mut self, cid: &str, format: &str, days: BTreeMap<i64, DayKeys>) {
        self.tick += 1;
        for (d, mut k) in days {
            k.last_used = self.tick;
            self.days.insert((cid.to_owned(), format.to_owned(), d), k);
        }
        // Keep the most recently used days of this (contract, format).
        let mut mine: Vec<(u64, i64)> = self
            .days
            .iter()
            .filter(|((c, f, _), _)| c == cid && f == format)
            .map(|((_, _, d), k)| (k.last_used, *d))
            .collect();
        if mine.len() > CACHED_DAYS {
            mine.sort_unstable();
            for (_, d) in &mine[..mine.len() - CACHED_DAYS] {
                self.days.remove(&(cid.to_owned(), format.to_owned(), *d));
            }
        }
    }
}

/// Segment id, day, generation.
type SegmentHead = (String, i64, i64);

/// Brings the cached keys of `days` up to date with the database (inside the transaction,
/// after the contract's writer lock): segments added since are read in, and a day whose
/// segments were rewritten or removed is read again whole.
async fn refresh_days(
    tx: &mut Tx,
    cid: &str,
    format: &str,
    days: &BTreeSet<i64>,
    cached: &mut BTreeMap<i64, DayKeys>,
) -> Result<(), StoreError> {
    let mut heads: BTreeMap<i64, Vec<(String, i64)>> = BTreeMap::new();
    for (lo, hi) in runs(days) {
        let rows: Vec<SegmentHead> = on_tx!(tx, conn => {
            sqlx::query_as(sql!(
                "SELECT id, day, generation FROM call_segments
                 WHERE contract_id = $1 AND source_format = $2 AND day >= $3 AND day <= $4"
            ))
            .bind(cid)
            .bind(format)
            .bind(lo)
            .bind(hi)
            .fetch_all(&mut *conn)
            .await?
        });
        for (id, day, generation) in rows {
            heads.entry(day).or_default().push((id, generation));
        }
    }
    for &day in days {
        let listed = heads.remove(&day).unwrap_or_default();
        let entry = cached.entry(day).or_default();
        let still_valid = entry
            .segments
            .iter()
            .all(|(id, g)| listed.iter().any(|(lid, lg)| lid == id && lg == g));
        if !still_valid {
            *entry = DayKeys::default();
        }
        let missing: Vec<&(String, i64)> = listed
            .iter()
            .filter(|(id, _)| !entry.segments.contains_key(id))
            .collect();
        for (id, generation) in missing {
            let (data,): (Vec<u8>,) = on_tx!(tx, conn => {
                sqlx::query_as(sql!("SELECT data FROM call_segments WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?
            });
            let calls = segment_codec::decode(&data, None).map_err(|e| corrupt(id, e))?;
            entry.add_segment(
                id,
                *generation,
                calls.iter().map(|c| key_hash(&c.call.source_id)),
            );
        }
    }
    Ok(())
}

/// Consecutive days as inclusive ranges.
fn runs(days: &BTreeSet<i64>) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &d in days {
        match out.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(d) => *hi = d,
            _ => out.push((d, d)),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Writing

/// A chunk of calls made ready for the store away from the writer (on an importer's reading
/// thread): de-duplicated, cut into per-day segments, encoded, compressed, encrypted, and
/// folded into buckets, all on the assumption that every call is new. The writer uses what
/// holds (a re-import or a newer version falls back to doing it on write).
#[derive(Debug)]
pub struct PreparedCalls {
    /// Indexes of the calls kept (the newest of each source id in the chunk), ascending.
    keep: Vec<usize>,
    /// The [`key_hash`] of every call of the chunk.
    hashes: Vec<u64>,
    segments: Vec<PreparedSegment>,
    folded: Option<crate::phone_buckets::Folded>,
}

#[derive(Debug)]
struct PreparedSegment {
    day: i64,
    id: String,
    /// The calls in it, indexes into the chunk.
    members: Vec<usize>,
    data: Vec<u8>,
    callers_enc: Option<Vec<u8>>,
    span: (i64, i64),
}

/// Indexes of the newest record of each source id in a chunk (the first one on a tie, as a
/// re-import would), ascending.
fn newest_of_each(calls: &[NewCall]) -> Vec<usize> {
    let mut newest: FastMap<&str, usize> = FastMap::default();
    newest.reserve(calls.len());
    for (i, c) in calls.iter().enumerate() {
        match newest.get(c.call.source_id.as_str()) {
            Some(&j) if calls[j].version >= c.version => {}
            _ => {
                newest.insert(c.call.source_id.as_str(), i);
            }
        }
    }
    let mut keep: Vec<usize> = newest.into_values().collect();
    keep.sort_unstable();
    keep
}

/// The calls of `members` as segment rows, in segment order.
fn rows_of<'a>(calls: &'a [NewCall], members: &mut [usize], batch: &'a str) -> Vec<SegmentRow<'a>> {
    members.sort_unstable_by(|&a, &b| {
        let (a, b) = (&calls[a].call, &calls[b].call);
        (a.offered_at, &a.source_id).cmp(&(b.offered_at, &b.source_id))
    });
    members
        .iter()
        .map(|&i| {
            let n = &calls[i];
            SegmentRow {
                call: &n.call,
                version: n.version,
                import_batch_id: Some(batch),
                first_line: n.first_line,
                last_line: n.last_line,
            }
        })
        .collect()
}

/// Encodes and seals one day's calls as a segment with a new id.
fn make_segment(
    store: &Store,
    calls: &[NewCall],
    day: i64,
    mut members: Vec<usize>,
    batch: &str,
) -> Result<PreparedSegment, StoreError> {
    let rows = rows_of(calls, &mut members, batch);
    let id = uuid::Uuid::now_v7().hyphenated().to_string();
    let enc = segment_codec::encode(&rows).map_err(StoreError::Invalid)?;
    let callers_enc = seal_callers(store, &id, enc.callers.as_deref())?;
    let span = offered_span(&rows);
    Ok(PreparedSegment {
        day,
        id,
        members,
        data: enc.data,
        callers_enc,
        span,
    })
}

fn segments_by_day(
    store: &Store,
    calls: &[NewCall],
    members: impl Iterator<Item = usize>,
    batch: &str,
) -> Result<Vec<PreparedSegment>, StoreError> {
    let mut by_day: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for i in members {
        by_day
            .entry(day_of(calls[i].call.offered_at))
            .or_default()
            .push(i);
    }
    by_day
        .into_iter()
        .map(|(day, members)| make_segment(store, calls, day, members, batch))
        .collect()
}

impl Store {
    /// Prepares a chunk for [`Store::commit_import_chunk`] (pure computation: run it on another
    /// thread than the writer). `plan` is the bucket plan the commit will be given.
    pub fn prepare_calls(
        &self,
        batch: ImportBatchId,
        calls: &[NewCall],
        plan: Option<&crate::phone_buckets::BucketPlan>,
    ) -> Result<PreparedCalls, StoreError> {
        let keep = newest_of_each(calls);
        let segments = segments_by_day(self, calls, keep.iter().copied(), &batch.text())?;
        let folded = plan.map(|plan| {
            let all: Vec<&CallRecord> = keep.iter().map(|&i| &calls[i].call).collect();
            crate::phone_buckets::fold_borrowed(&all, plan)
        });
        Ok(PreparedCalls {
            keep,
            hashes: calls.iter().map(|c| key_hash(&c.call.source_id)).collect(),
            segments,
            folded,
        })
    }
}

/// Writes calls inside the caller's transaction; idempotent on (contract, format, source id).
pub(crate) async fn insert_calls(
    store: &Store,
    tx: &mut Tx,
    contract_id: ContractId,
    format: &str,
    batch: ImportBatchId,
    calls: &[NewCall],
    prepared: Option<PreparedCalls>,
) -> Result<ChunkWrite, StoreError> {
    let cid = contract_id.text();
    let (keep, hashes, mut prepared) = match prepared {
        Some(mut p) if p.hashes.len() == calls.len() => (
            std::mem::take(&mut p.keep),
            std::mem::take(&mut p.hashes),
            Some(p),
        ),
        _ => (
            newest_of_each(calls),
            calls.iter().map(|c| key_hash(&c.call.source_id)).collect(),
            None,
        ),
    };
    if keep.is_empty() {
        return Ok(ChunkWrite {
            outcome: ChunkOutcome::default(),
            inserted: Vec::new(),
            replaced: Vec::new(),
            replaced_from: Vec::new(),
            prefolded: None,
        });
    }

    // One writer per contract at a time (PostgreSQL; SQLite has one writer anyway).
    crate::phone_buckets::lock_buckets(tx, &cid).await?;
    let mut days: BTreeSet<i64> = BTreeSet::new();
    for &i in &keep {
        let d = day_of(calls[i].call.offered_at);
        days.extend([d.saturating_sub(1), d, d.saturating_add(1)]);
    }
    let mut cached = store
        .segment_keys()
        .lock()
        .map(|mut k| k.take(&cid, format, &days))
        .unwrap_or_default();
    refresh_days(tx, &cid, format, &days, &mut cached).await?;

    // Decide per call: new, a replacement of a stored record (which segment), or unchanged.
    // The key sets hold hashes; a hit is confirmed in the segment itself (read once here).
    let mut confirmed: HashMap<String, FastMap<String, (i64, CallOutcome)>> = HashMap::new();
    let mut inserted = Vec::new();
    let mut replaced = Vec::new();
    // Segment id → (its day, source ids to take out of it).
    let mut take_out: BTreeMap<String, (i64, Vec<&str>)> = BTreeMap::new();
    for &i in &keep {
        let n = &calls[i];
        let id = n.call.source_id.as_str();
        let h = hashes[i];
        let d = day_of(n.call.offered_at);
        let mut found = None;
        for day in [d, d.saturating_sub(1), d.saturating_add(1)] {
            let Some(k) = cached.get(&day) else { continue };
            let candidates: Vec<String> = match k.keys.get(&h) {
                None => continue,
                Some(Slot::In(pos)) => k
                    .segment_ids
                    .get(*pos as usize)
                    .cloned()
                    .into_iter()
                    .collect(),
                Some(Slot::Several) => k.segment_ids.clone(),
            };
            for segment in candidates {
                if !confirmed.contains_key(&segment) {
                    let calls = read_segment(store, tx, &cid, &segment, false).await?;
                    let keys = calls
                        .into_iter()
                        .map(|c| (c.call.source_id, (c.version, c.call.outcome)))
                        .collect();
                    confirmed.insert(segment.clone(), keys);
                }
                if let Some(&stored) = confirmed.get(&segment).and_then(|keys| keys.get(id)) {
                    found = Some((day, segment, stored));
                    break;
                }
            }
            if found.is_some() {
                break;
            }
        }
        match found {
            None => inserted.push(i),
            Some((day, segment, (version, outcome))) => {
                let newer = version < n.version
                    || (version == n.version
                        && outcome == CallOutcome::Unknown
                        && n.call.outcome != CallOutcome::Unknown);
                if newer {
                    replaced.push(i);
                    take_out
                        .entry(segment)
                        .or_insert_with(|| (day, Vec::new()))
                        .1
                        .push(id);
                }
            }
        }
    }

    // Take the replaced calls out of their segments.
    let mut replaced_from = Vec::new();
    let mut rewritten_days = BTreeSet::new();
    for (segment, (day, ids)) in &take_out {
        let old = read_segment(store, tx, &cid, segment, true).await?;
        let gone: BTreeSet<&str> = ids.iter().copied().collect();
        let (out, left): (Vec<SegmentCall>, Vec<SegmentCall>) = old
            .into_iter()
            .partition(|c| gone.contains(c.call.source_id.as_str()));
        replaced_from.extend(out.iter().map(|c| c.call.offered_at));
        rewrite_segment(store, tx, &cid, segment, &left).await?;
        rewritten_days.insert(*day);
    }
    for day in &rewritten_days {
        cached.remove(day);
    }

    // New segments: one per day among the calls stored now; those prepared ahead when every
    // call turned out new.
    let all_new = replaced.is_empty() && inserted.len() == keep.len();
    let (segments, prefolded) = match prepared.take() {
        Some(p) if all_new => (p.segments, p.folded),
        _ => (
            segments_by_day(
                store,
                calls,
                inserted.iter().chain(&replaced).copied(),
                &batch.text(),
            )?,
            None,
        ),
    };
    let batch = batch.text();
    for seg in &segments {
        insert_segment(tx, &cid, format, &batch, seg).await?;
        if let Some(k) = cached.get_mut(&seg.day) {
            k.add_segment(&seg.id, 0, seg.members.iter().map(|&i| hashes[i]));
        }
    }
    if let Ok(mut k) = store.segment_keys().lock() {
        k.put_back(&cid, format, cached);
    }
    let stored = (inserted.len() + replaced.len()) as u64;
    Ok(ChunkWrite {
        outcome: ChunkOutcome {
            stored,
            // Duplicates inside the chunk were never written; like re-imported rows they
            // change nothing.
            unchanged: (calls.len() as u64).saturating_sub(stored),
        },
        inserted,
        replaced,
        replaced_from,
        prefolded,
    })
}

fn seal_callers(
    store: &Store,
    id: &str,
    callers: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, StoreError> {
    callers
        .map(|plain| {
            store
                .cipher()
                .encrypt(FieldRef::new(TABLE, "callers", id), plain)
        })
        .transpose()
}

fn offered_span(calls: &[SegmentRow<'_>]) -> (i64, i64) {
    let lo = calls
        .first()
        .map_or(0, |c| c.call.offered_at.as_microsecond());
    let hi = calls
        .last()
        .map_or(0, |c| c.call.offered_at.as_microsecond());
    (lo, hi)
}

async fn insert_segment(
    tx: &mut Tx,
    cid: &str,
    format: &str,
    batch: &str,
    seg: &PreparedSegment,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query(sql!(
            "INSERT INTO call_segments (id, contract_id, source_format, day, calls,
                first_offered_at, last_offered_at, import_batch_id, data, callers_enc)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&seg.id)
        .bind(cid)
        .bind(format)
        .bind(seg.day)
        .bind(seg.members.len() as i64)
        .bind(seg.span.0)
        .bind(seg.span.1)
        .bind(batch)
        .bind(&seg.data)
        .bind(&seg.callers_enc)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// Writes a segment's calls again (without those taken out), or deletes it when none is left.
async fn rewrite_segment(
    store: &Store,
    tx: &mut Tx,
    cid: &str,
    id: &str,
    calls: &[SegmentCall],
) -> Result<(), StoreError> {
    if calls.is_empty() {
        on_tx!(tx, conn => {
            sqlx::query(sql!("DELETE FROM call_segments WHERE id = $1 AND contract_id = $2"))
                .bind(id)
                .bind(cid)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        return Ok(());
    }
    let rows: Vec<SegmentRow<'_>> = calls.iter().map(SegmentCall::row).collect();
    let enc = segment_codec::encode(&rows).map_err(StoreError::Invalid)?;
    let callers = seal_callers(store, id, enc.callers.as_deref())?;
    let (lo, hi) = offered_span(&rows);
    on_tx!(tx, conn => {
        sqlx::query(sql!(
            "UPDATE call_segments SET calls = $1, first_offered_at = $2, last_offered_at = $3,
                data = $4, callers_enc = $5, generation = generation + 1
             WHERE id = $6 AND contract_id = $7"
        ))
        .bind(calls.len() as i64)
        .bind(lo)
        .bind(hi)
        .bind(&enc.data)
        .bind(&callers)
        .bind(id)
        .bind(cid)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// One segment's calls, callers decrypted when `with_callers`.
async fn read_segment(
    store: &Store,
    tx: &mut Tx,
    cid: &str,
    id: &str,
    with_callers: bool,
) -> Result<Vec<SegmentCall>, StoreError> {
    let (data, callers): (Vec<u8>, Option<Vec<u8>>) = on_tx!(tx, conn => {
        sqlx::query_as(sql!(
            "SELECT data, callers_enc FROM call_segments WHERE id = $1 AND contract_id = $2"
        ))
        .bind(id)
        .bind(cid)
        .fetch_one(&mut *conn)
        .await?
    });
    decode_segment(store, id, &data, callers.as_deref(), with_callers)
}

fn decode_segment(
    store: &Store,
    id: &str,
    data: &[u8],
    callers_enc: Option<&[u8]>,
    with_callers: bool,
) -> Result<Vec<SegmentCall>, StoreError> {
    let callers = match (with_callers, callers_enc) {
        (true, Some(ct)) => Some(
            store
                .cipher()
                .decrypt(FieldRef::new(TABLE, "callers", id), ct)?,
        ),
        _ => None,
    };
    segment_codec::decode(data, callers.as_deref()).map_err(|e| corrupt(id, e))
}

// ---------------------------------------------------------------------------------------------
// Reading

/// A stored segment as read: id, source format, data, encrypted callers.
type SegmentBody = (String, String, Vec<u8>, Option<Vec<u8>>);

/// Calls offered in `[from, to)`, one UTC day at a time, each day in offer order (then source
/// id): `f` gets each day's calls with their source format.
async fn for_each_day(
    store: &Store,
    tx: &mut Tx,
    cid: &str,
    from: Timestamp,
    to: Timestamp,
    with_callers: bool,
    mut f: impl FnMut(Vec<(String, SegmentCall)>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    if from >= to {
        return Ok(());
    }
    let (lo, hi) = (from.as_microsecond(), to.as_microsecond());
    let days: Vec<(i64,)> = on_tx!(tx, conn => {
        sqlx::query_as(sql!(
            "SELECT DISTINCT day FROM call_segments
             WHERE contract_id = $1 AND day >= $2 AND day <= $3
               AND last_offered_at >= $4 AND first_offered_at < $5
             ORDER BY day"
        ))
        .bind(cid)
        .bind(lo.div_euclid(MICROS_PER_DAY))
        .bind((hi - 1).div_euclid(MICROS_PER_DAY))
        .bind(lo)
        .bind(hi)
        .fetch_all(&mut *conn)
        .await?
    });
    for (day,) in days {
        let rows: Vec<SegmentBody> = on_tx!(tx, conn => {
            sqlx::query_as(sql!(
                "SELECT id, source_format, data, callers_enc FROM call_segments
                 WHERE contract_id = $1 AND day = $2
                   AND last_offered_at >= $3 AND first_offered_at < $4"
            ))
            .bind(cid)
            .bind(day)
            .bind(lo)
            .bind(hi)
            .fetch_all(&mut *conn)
            .await?
        });
        let mut all: Vec<(String, SegmentCall)> = Vec::new();
        for (id, format, data, callers) in rows {
            let calls = decode_segment(store, &id, &data, callers.as_deref(), with_callers)?;
            all.extend(
                calls
                    .into_iter()
                    .filter(|c| c.call.offered_at >= from && c.call.offered_at < to)
                    .map(|c| (format.clone(), c)),
            );
        }
        all.sort_unstable_by(|(_, a), (_, b)| {
            (a.call.offered_at, &a.call.source_id).cmp(&(b.call.offered_at, &b.call.source_id))
        });
        f(all)?;
    }
    Ok(())
}

fn stored(c: SegmentCall) -> StoredCall {
    StoredCall {
        call: c.call,
        version: c.version,
        import_batch_id: c.import_batch_id,
        first_line: c.first_line,
        last_line: c.last_line,
    }
}

/// Streams the calls offered in `[from, to)` inside a transaction (callers not decrypted).
pub(crate) async fn for_each_call_in_tx(
    store: &Store,
    tx: &mut Tx,
    contract_id: ContractId,
    from: Timestamp,
    to: Timestamp,
    mut f: impl FnMut(&CallRecord),
) -> Result<(), StoreError> {
    let cid = contract_id.text();
    for_each_day(store, tx, &cid, from, to, false, |day| {
        for (_, c) in &day {
            f(&c.call);
        }
        Ok(())
    })
    .await
}

/// How many calls a contract has stored (inside a transaction).
pub(crate) async fn count_in_tx(tx: &mut Tx, cid: &str) -> Result<i64, StoreError> {
    let (n,): (i64,) = on_tx!(tx, conn => {
        sqlx::query_as(sql!(
            "SELECT CAST(COALESCE(SUM(calls), 0) AS BIGINT) FROM call_segments WHERE contract_id = $1"
        ))
        .bind(cid)
        .fetch_one(&mut *conn)
        .await?
    });
    Ok(n)
}

impl Store {
    pub(crate) fn segment_keys(&self) -> &Mutex<SegmentKeys> {
        &self.segment_keys
    }

    /// Calls of a contract offered in `[from, to)`, in offer order, optionally of one source
    /// format. With `with_caller` the caller's number is decrypted (customer data: callers of
    /// this must mask it for display).
    pub async fn calls_offered_between(
        &self,
        contract_id: ContractId,
        format: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        with_caller: bool,
    ) -> Result<Vec<StoredCall>, StoreError> {
        let cid = contract_id.text();
        let mut out = Vec::new();
        let mut tx = self.db().begin().await?;
        for_each_day(self, &mut tx, &cid, from, to, with_caller, |day| {
            out.extend(
                day.into_iter()
                    .filter(|(f, _)| format.is_none_or(|want| want == f))
                    .map(|(_, c)| stored(c)),
            );
            Ok(())
        })
        .await?;
        tx.rollback().await?;
        Ok(out)
    }

    /// Streams the calls of a contract offered in `[from, to)` to `f`, in offer order, a day
    /// at a time (a month can be millions of calls). Callers' numbers are not decrypted.
    pub async fn for_each_call_offered_between(
        &self,
        contract_id: ContractId,
        from: Timestamp,
        to: Timestamp,
        mut f: impl FnMut(StoredCall),
    ) -> Result<u64, StoreError> {
        let cid = contract_id.text();
        let mut n = 0u64;
        let mut tx = self.db().begin().await?;
        for_each_day(self, &mut tx, &cid, from, to, false, |day| {
            n += day.len() as u64;
            for (_, c) in day {
                f(stored(c));
            }
            Ok(())
        })
        .await?;
        tx.rollback().await?;
        Ok(n)
    }

    /// How many calls a contract has (all formats).
    pub async fn call_count(&self, contract_id: ContractId) -> Result<i64, StoreError> {
        let mut tx = self.db().begin().await?;
        let n = count_in_tx(&mut tx, &contract_id.text()).await?;
        tx.rollback().await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_days_form_one_range() {
        let days: BTreeSet<i64> = [1, 2, 3, 5, 7, 8].into_iter().collect();
        assert_eq!(runs(&days), vec![(1, 3), (5, 5), (7, 8)]);
        assert_eq!(runs(&BTreeSet::new()), vec![]);
    }

    #[test]
    fn a_day_before_the_epoch_is_the_day_that_contains_it() {
        let t: Timestamp = "1969-12-31T23:59:59Z".parse().expect("time");
        assert_eq!(day_of(t), -1);
        let t: Timestamp = "1970-01-01T00:00:00Z".parse().expect("time");
        assert_eq!(day_of(t), 0);
    }
}
