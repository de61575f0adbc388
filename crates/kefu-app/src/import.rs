//! Importing a file of call records: identify the file by its content, open
//! or resume its import run, read it on a thread of its own (parsing and the
//! database writes overlap), and store calls in chunks, each chunk in one
//! transaction with the run's checkpoint. Memory stays bounded: at most two
//! chunks are in flight.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use kefu_channels::phone::source::{AgentEventKind, Item, RecordReader, RejectedRow};
use kefu_store::{BatchState, ContractId, ImportSource, ImportStart, NewCall, Store};

use crate::AppError;

/// Where a reader starts: at `offset` (whose line has number `line`); when a run is
/// resumed, `replayed_until` is how far the interrupted run had read.
#[derive(Debug, Clone, Copy)]
pub struct ReadFrom {
    pub offset: u64,
    pub line: u64,
    pub replayed_until: Option<u64>,
}

/// Builds the reader for one format over the file positioned at `from.offset`.
pub type MakeReader = Box<
    dyn FnOnce(Box<dyn BufRead + Send>, ReadFrom) -> Result<Box<dyn RecordReader + Send>, String>
        + Send,
>;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Stop at the first rejected row (the calls before it are kept).
    pub strict: bool,
    /// Calls per transaction.
    pub chunk_calls: usize,
    /// Who runs the import, for the audit log.
    pub actor: String,
    /// How the contract's phone buckets are cut; the calls stored are folded into them.
    pub bucket_plan: Option<kefu_store::BucketPlan>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            strict: false,
            chunk_calls: 10_000,
            actor: "kefu".to_owned(),
            bucket_plan: None,
        }
    }
}

/// Told about progress and rejected rows as they happen (a progress bar, an errors file).
pub trait ImportObserver {
    fn started(&mut self, _total_bytes: u64, _resumed_at: u64) {}
    fn progress(&mut self, _bytes_read: u64) {}
    fn rejected(&mut self, _row: &RejectedRow) {}
}

/// An observer that does nothing.
pub struct Quiet;
impl ImportObserver for Quiet {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportEnd {
    /// The whole file was read.
    Complete,
    /// The same file (same content) had been imported before: nothing was read.
    AlreadyImported,
    /// `--strict` stopped at a rejected row.
    StoppedAt { line: u64, reason: String },
    /// Interrupted (Ctrl-C): everything committed stays; a rerun goes on from `line`.
    Interrupted { line: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub source: String,
    pub format: String,
    pub end: ImportEnd,
    /// Line the run went on from when it resumed an interrupted run.
    pub resumed_from_line: Option<u64>,
    /// Calls read in this run.
    pub calls_read: u64,
    /// Calls newly stored (or replaced by a newer version) in this run.
    pub calls_stored: u64,
    /// Calls read that were already stored (re-import, overlapping file).
    pub calls_unchanged: u64,
    pub agent_events: u64,
    /// Rejected rows of the whole run (all attempts).
    pub rows_rejected: u64,
    /// Of those, the rows rejected by this attempt (the others were reported before).
    pub rows_rejected_now: u64,
    pub rows_skipped: u64,
    /// The earliest and latest offer times among the calls read in this run.
    pub offered_span: Option<(jiff::Timestamp, jiff::Timestamp)>,
    pub elapsed: Duration,
}

struct Chunk {
    calls: Vec<NewCall>,
    /// The calls made ready for the store on the reading thread.
    prepared: Option<kefu_store::PreparedCalls>,
    rejected: Vec<RejectedRow>,
    agent_events: Vec<kefu_store::NewAgentEvent>,
    resume_offset: u64,
    resume_line: u64,
    bytes_read: u64,
    max_line: u64,
    skipped: u64,
    /// Set on the last chunk: why reading ended.
    end: Option<ImportEnd>,
}

/// Digest (`blake3:<hex>`) and size of a file. BLAKE3 rather than
/// SHA-256: the import cannot start before it knows whether it saw the file, and SHA-256 of
/// a 700 MB month took a second of that (`b3sum` computes the same digest).
pub fn file_digest(path: &Path) -> Result<(String, u64), AppError> {
    let mut f = File::open(path)
        .map_err(|e| AppError::User(format!("{}: cannot read: {e}", path.display())))?;
    let mut hasher = blake3::Hasher::new();
    // Read, not memory-mapped: a mapped file's pages would count against the import's memory.
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| AppError::User(format!("{}: cannot read: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok((
        format!("blake3:{}", hasher.finalize().to_hex()),
        hasher.count(),
    ))
}

/// Imports one file into a contract's calls.
pub async fn import_file(
    store: &Store,
    contract_id: ContractId,
    format: &str,
    path: &Path,
    make_reader: MakeReader,
    opts: &ImportOptions,
    observer: &mut dyn ImportObserver,
) -> Result<ImportSummary, AppError> {
    let started = Instant::now();
    let source_name = path.display().to_string();
    let (digest, size) = file_digest(path)?;
    let src = ImportSource {
        contract_id,
        format,
        source_name: &source_name,
        digest: &digest,
        size,
    };
    let (batch, resumed) = match store.begin_import(&src, &opts.actor).await? {
        ImportStart::AlreadyDone(b) => {
            return Ok(ImportSummary {
                source: source_name,
                format: format.to_owned(),
                end: ImportEnd::AlreadyImported,
                resumed_from_line: None,
                calls_read: 0,
                calls_stored: 0,
                calls_unchanged: 0,
                agent_events: 0,
                rows_rejected: b.progress.rows_rejected,
                rows_rejected_now: 0,
                rows_skipped: b.progress.rows_skipped,
                offered_span: None,
                elapsed: started.elapsed(),
            });
        }
        ImportStart::Fresh(b) => (b, false),
        ImportStart::Resume(b) => (b, true),
    };
    let mut progress = batch.progress;
    let counted_through = if resumed { progress.lines_done } else { 0 };
    observer.started(size, progress.resume_offset);

    let mut file =
        File::open(path).map_err(|e| AppError::User(format!("{source_name}: cannot read: {e}")))?;
    file.seek(SeekFrom::Start(progress.resume_offset))
        .map_err(|e| AppError::User(format!("{source_name}: cannot seek: {e}")))?;
    let input: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(256 * 1024, file));
    let from = ReadFrom {
        offset: progress.resume_offset,
        line: progress.resume_line,
        replayed_until: resumed.then_some(progress.read_offset),
    };
    let reader = make_reader(input, from).map_err(AppError::User)?;

    // Three stages, each on its own thread: reading (parse, assemble calls), preparing
    // (encode, compress, encrypt, fold into buckets: pure computation), and writing (this
    // task). A chunk can fail to be prepared (the writer then does it and says why).
    let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<Chunk>(1);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(1);
    let strict = opts.strict;
    let chunk_calls = opts.chunk_calls.max(1);
    let preparer = store.clone();
    let plan = opts.bucket_plan.clone();
    let batch_id = batch.id;
    let reader_thread =
        std::thread::spawn(move || read_chunks(reader, raw_tx, strict, chunk_calls));
    let prepare_thread = std::thread::spawn(move || {
        for mut chunk in raw_rx {
            chunk.prepared = preparer
                .prepare_calls(batch_id, &chunk.calls, plan.as_ref())
                .ok();
            if tx.blocking_send(chunk).is_err() {
                return; // the writer stopped (a database error); it reports why
            }
        }
    });

    let mut summary = ImportSummary {
        source: source_name.clone(),
        format: format.to_owned(),
        end: ImportEnd::Complete,
        resumed_from_line: (resumed && progress.resume_line > 1).then_some(progress.resume_line),
        calls_read: 0,
        calls_stored: 0,
        calls_unchanged: 0,
        agent_events: 0,
        rows_rejected: 0,
        rows_rejected_now: 0,
        rows_skipped: 0,
        offered_span: None,
        elapsed: Duration::ZERO,
    };
    let mut failure = None;
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    loop {
        let mut chunk = tokio::select! {
            c = rx.recv() => match c {
                Some(c) => c,
                None => break,
            },
            _ = &mut interrupt => {
                summary.end = ImportEnd::Interrupted { line: progress.resume_line };
                break;
            }
        };
        let new_rejections: Vec<&RejectedRow> = chunk
            .rejected
            .iter()
            .filter(|row| row.line > counted_through)
            .collect();
        progress.rows_rejected += new_rejections.len() as u64;
        summary.rows_rejected_now += new_rejections.len() as u64;
        progress.rows_skipped = batch.progress.rows_skipped + chunk.skipped;
        progress.resume_offset = chunk.resume_offset;
        progress.resume_line = chunk.resume_line;
        progress.lines_done = progress.lines_done.max(chunk.max_line);
        progress.read_offset = progress.read_offset.max(chunk.bytes_read);
        summary.calls_read += chunk.calls.len() as u64;
        for c in &chunk.calls {
            let t = c.call.offered_at;
            summary.offered_span = Some(match summary.offered_span {
                None => (t, t),
                Some((lo, hi)) => (lo.min(t), hi.max(t)),
            });
        }
        summary.agent_events += chunk.agent_events.len() as u64;
        match store
            .commit_import_chunk(
                &batch,
                &chunk.calls,
                &progress,
                opts.bucket_plan.as_ref(),
                &chunk.agent_events,
                chunk.prepared.take(),
            )
            .await
        {
            Ok(outcome) => {
                progress.calls_stored += outcome.stored;
                summary.calls_stored += outcome.stored;
                summary.calls_unchanged += outcome.unchanged;
                // Told only once their chunk is committed: a run killed before that tells
                // them again on resume, never twice.
                for row in new_rejections {
                    observer.rejected(row);
                }
            }
            Err(e) => {
                failure = Some(AppError::from(e));
                break;
            }
        }
        observer.progress(chunk.bytes_read);
        if let Some(end) = chunk.end {
            summary.end = end;
        }
    }
    drop(rx);
    let _ = prepare_thread.join();
    let _ = reader_thread.join();
    if let Some(e) = failure {
        // The checkpoint of the last committed chunk stands; the next run resumes there.
        let _ = store
            .finish_import(&batch, &progress, BatchState::Failed, &opts.actor)
            .await;
        return Err(e);
    }
    // A file of which no row could be used (the wrong --format, garbage) is not "imported":
    // a rerun reads it again and says so again.
    let nothing_usable = summary.calls_read == 0
        && summary.agent_events == 0
        && summary.rows_rejected_now > 0
        && progress.calls_stored == 0;
    if nothing_usable {
        // Nothing to go on from: the next run starts at the top and reports every row again.
        progress = kefu_store::ImportProgress {
            resume_line: 1,
            ..kefu_store::ImportProgress::default()
        };
    }
    let state = match summary.end {
        ImportEnd::Complete if !nothing_usable => {
            progress.resume_offset = size;
            BatchState::Done
        }
        _ => BatchState::Failed,
    };
    store
        .finish_import(&batch, &progress, state, &opts.actor)
        .await?;
    summary.rows_rejected = progress.rows_rejected;
    summary.rows_skipped = progress.rows_skipped;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The reading side: runs on its own thread, cuts the stream into chunks.
fn read_chunks(
    mut reader: Box<dyn RecordReader + Send>,
    tx: std::sync::mpsc::SyncSender<Chunk>,
    strict: bool,
    chunk_calls: usize,
) {
    let empty = |r: &dyn RecordReader| Chunk {
        calls: Vec::with_capacity(chunk_calls),
        prepared: None,
        rejected: Vec::new(),
        agent_events: Vec::new(),
        resume_offset: r.resume_offset(),
        resume_line: r.resume_line(),
        bytes_read: r.bytes_read(),
        max_line: 0,
        skipped: 0,
        end: None,
    };
    let mut chunk = empty(reader.as_ref());
    loop {
        let Some(item) = reader.next() else {
            chunk.end = Some(ImportEnd::Complete);
            break;
        };
        match item {
            Item::Call { call, span } => {
                chunk.max_line = chunk.max_line.max(span.last_line);
                chunk.calls.push(NewCall {
                    call,
                    version: reader.item_version(),
                    first_line: i64::try_from(span.first_line).ok(),
                    last_line: i64::try_from(span.last_line).ok(),
                });
            }
            Item::Agent(ev) => {
                chunk.max_line = chunk.max_line.max(ev.line);
                chunk.agent_events.push(kefu_store::NewAgentEvent {
                    at: ev.at,
                    kind: match ev.kind {
                        AgentEventKind::Login => "login",
                        AgentEventKind::Logoff => "logoff",
                        AgentEventKind::Pause => "pause",
                        AgentEventKind::Unpause => "unpause",
                    },
                    agent: ev.agent,
                    queue: ev.queue,
                    reason: ev.reason,
                    line: i64::try_from(ev.line).ok(),
                });
            }
            Item::Rejected(row) => {
                chunk.max_line = chunk.max_line.max(row.line);
                let stop = strict.then(|| ImportEnd::StoppedAt {
                    line: row.line,
                    reason: row.reason.clone(),
                });
                chunk.rejected.push(row);
                if let Some(end) = stop {
                    chunk.end = Some(end);
                    break;
                }
            }
        }
        if chunk.calls.len() >= chunk_calls {
            chunk.resume_offset = reader.resume_offset();
            chunk.resume_line = reader.resume_line();
            chunk.bytes_read = reader.bytes_read();
            chunk.skipped = reader.skipped();
            let full = std::mem::replace(&mut chunk, empty(reader.as_ref()));
            if tx.send(full).is_err() {
                return; // the writer stopped (a database error); it reports why
            }
        }
    }
    chunk.resume_offset = reader.resume_offset();
    chunk.resume_line = reader.resume_line();
    chunk.bytes_read = reader.bytes_read();
    chunk.skipped = reader.skipped();
    let _ = tx.send(chunk);
}
