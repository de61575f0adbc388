//! `kefu import` (call records into the store) and `kefu report` (the quality
//! evaluation report of a billing period).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::ValueEnum;
use kefu_app::import::{
    ImportEnd, ImportObserver, ImportOptions, ImportSummary, MakeReader, ReadFrom, import_file,
};
use kefu_channels::phone::cdr::{CdrOptions, CdrReader};
use kefu_channels::phone::connect::{ConnectOptions, ConnectReader};
use kefu_channels::phone::mapped::{MappedReader, Mapping};
use kefu_channels::phone::queue_log::{QueueLogLayout, QueueLogOptions, QueueLogReader};
use kefu_channels::phone::source::{RecordReader, RejectedRow};
use kefu_core::phone::metrics::BillingPeriod;

use super::store_cmds::{app_error, open, open_existing, runtime};
use super::{CmdResult, Global, UserError};
use crate::files;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Asterisk queue_log: the pipe file or the queue_log table's rows (detected per row).
    QueueLog,
    /// Asterisk CDR Master.csv (16 to 21 columns).
    Cdr,
    /// Amazon Connect contact trace records (JSON object, array or lines).
    Connect,
    /// Any CSV/TSV through a mapping file (--mapping).
    Mapped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Json,
    Html,
    /// Printed from the HTML by a headless Chromium (needs --out).
    Pdf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Zh,
    En,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    #[arg(long, value_enum)]
    pub format: Format,
    /// The mapping file for --format mapped.
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// The contract the calls belong to (default: the only stored contract).
    #[arg(long)]
    pub contract: Option<String>,
    /// Time zone of local times in the files (default: the contract's).
    #[arg(long)]
    pub tz: Option<String>,
    /// Write the rejected rows, as they were, to this file.
    #[arg(long)]
    pub errors: Option<PathBuf>,
    /// Stop at the first bad row (the calls before it are kept).
    #[arg(long)]
    pub strict: bool,
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct GenerateCallsArgs {
    /// The contract document whose time zone and phone hours shape the traffic.
    #[arg(long)]
    pub contract: PathBuf,
    /// The month, YYYY-MM.
    #[arg(long)]
    pub month: BillingPeriod,
    /// About how many calls the month should have.
    #[arg(long, default_value_t = 30_000)]
    pub calls: u64,
    #[arg(long, value_enum, default_value = "queue-log")]
    pub format: GenFormat,
    /// The same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write; standard output when absent.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GenFormat {
    QueueLog,
    Cdr,
    Connect,
}

#[derive(clap::Args, Debug)]
pub struct CallsArgs {
    /// The local day (contract time zone) whose calls to list.
    #[arg(long)]
    pub on: jiff::civil::Date,
    #[arg(long)]
    pub contract: Option<String>,
    /// Only calls with this outcome (answered, abandoned, timed_out, no_agents, exited_with_key, unknown).
    #[arg(long)]
    pub outcome: Option<String>,
    /// At most this many calls.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The billing period, YYYY-MM.
    #[arg(long)]
    pub period: BillingPeriod,
    #[arg(long)]
    pub contract: Option<String>,
    #[arg(long, value_enum, default_value = "json")]
    pub format: ReportFormat,
    #[arg(long, value_enum, default_value = "zh")]
    pub lang: Lang,
    /// Where to write the report; standard output when absent.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Reasons printed to the terminal before the rest are only counted.
const SHOWN_REJECTIONS: usize = 20;

struct Observer {
    file: String,
    shown: usize,
    errors_out: Option<File>,
    write_error: Option<String>,
    bar: indicatif::ProgressBar,
}

impl ImportObserver for Observer {
    fn started(&mut self, total_bytes: u64, resumed_at: u64) {
        self.bar.set_length(total_bytes);
        self.bar.set_position(resumed_at);
    }
    fn progress(&mut self, bytes_read: u64) {
        self.bar.set_position(bytes_read);
    }
    fn rejected(&mut self, row: &RejectedRow) {
        if self.shown < SHOWN_REJECTIONS {
            self.shown += 1;
            let col = row.column.map(|c| format!(":{c}")).unwrap_or_default();
            let field = row
                .field
                .as_deref()
                .map(|f| format!(" {f}:"))
                .unwrap_or_default();
            let value = row
                .value
                .as_deref()
                .map(|v| format!(" {v:?}:"))
                .unwrap_or_default();
            self.bar.suspend(|| {
                eprintln!(
                    "rejected: {}:{}{col}:{field}{value} {}",
                    self.file, row.line, row.reason
                );
            });
        }
        if let Some(f) = &mut self.errors_out
            && let Err(e) = writeln!(f, "{}", row.raw)
        {
            self.write_error.get_or_insert(e.to_string());
        }
    }
}

fn make_reader(
    format: Format,
    path: &Path,
    tz: jiff::tz::TimeZone,
    mapping: Option<Arc<Mapping>>,
) -> MakeReader {
    let path = path.to_path_buf();
    Box::new(move |input: Box<dyn BufRead + Send>, from: ReadFrom| {
        let reader: Box<dyn RecordReader + Send> = match format {
            Format::QueueLog => Box::new(QueueLogReader::new(
                input,
                QueueLogOptions {
                    layout: QueueLogLayout::Auto,
                    time_zone: tz,
                    start_line: from.line,
                    start_offset: from.offset,
                    replayed_until: from.replayed_until,
                    ..QueueLogOptions::default()
                },
            )),
            Format::Cdr => Box::new(CdrReader::new(
                input,
                CdrOptions {
                    time_zone: tz,
                    start_line: from.line,
                    start_offset: from.offset,
                    ..CdrOptions::default()
                },
            )),
            Format::Connect => Box::new(ConnectReader::new(
                input,
                ConnectOptions {
                    start_line: from.line,
                    start_offset: from.offset,
                },
            )),
            Format::Mapped => {
                let mapping = mapping.ok_or("--format mapped needs --mapping FILE")?;
                // The mapped reader reads the header row itself, so it gets the file whole.
                drop(input);
                let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let reader = if from.offset == 0 {
                    MappedReader::open(&mapping, BufReader::with_capacity(256 * 1024, file), tz)
                } else {
                    let mut buf = BufReader::with_capacity(256 * 1024, file);
                    buf.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
                    MappedReader::resume(&mapping, buf, tz, from.offset, from.line)
                };
                Box::new(reader.map_err(|e| format!("{}: {e}", path.display()))?)
            }
        };
        Ok(reader)
    })
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn print_summary(s: &ImportSummary, errors: Option<&Path>) {
    if s.end == ImportEnd::AlreadyImported {
        println!(
            "{}: already imported (same content, {} format); nothing to do",
            s.source, s.format
        );
        return;
    }
    let resumed = s
        .resumed_from_line
        .map(|l| format!(" (resumed at line {l})"))
        .unwrap_or_default();
    let earlier = s.rows_rejected.saturating_sub(s.rows_rejected_now);
    let earlier = if earlier > 0 {
        format!(
            " ({} more rejected by the interrupted run, reported then)",
            thousands(earlier)
        )
    } else {
        String::new()
    };
    let rejected = if s.rows_rejected_now == 0 {
        format!("no rows rejected{earlier}")
    } else {
        let to = errors
            .map(|p| format!(", written to {}", p.display()))
            .unwrap_or_default();
        format!(
            "{} rows rejected{to}{earlier}",
            thousands(s.rows_rejected_now)
        )
    };
    println!(
        "{}{resumed}: {} calls read — {} stored, {} already stored; {rejected}; {} skipped (not offered or filtered); {} agent events; {:.1} s",
        s.source,
        thousands(s.calls_read),
        thousands(s.calls_stored),
        thousands(s.calls_unchanged),
        thousands(s.rows_skipped),
        thousands(s.agent_events),
        s.elapsed.as_secs_f64()
    );
}

pub(crate) fn import(g: &Global, a: &ImportArgs) -> CmdResult {
    let holidays = files::holidays(g.holidays.as_deref())?;
    let mapping = match (a.format, &a.mapping) {
        (Format::Mapped, None) => {
            return Err(UserError::Message("--format mapped needs --mapping FILE".into()).into());
        }
        (Format::Mapped, Some(p)) => {
            let text = files::read_text(p)?;
            let m =
                Mapping::parse(&p.display().to_string(), &text).map_err(UserError::Diagnostics)?;
            Some(Arc::new(m))
        }
        (_, Some(_)) => {
            return Err(UserError::Message("--mapping is only for --format mapped".into()).into());
        }
        (_, None) => None,
    };
    // The format is part of every call's identity: it must not depend on what the mapping
    // file happens to be called, or renaming it would import every call again.
    let format_name = match a.format {
        Format::QueueLog => "queue_log",
        Format::Cdr => "cdr",
        Format::Connect => "connect",
        Format::Mapped => "mapped",
    }
    .to_owned();
    let mut errors_out = match &a.errors {
        Some(p) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| UserError::Message(format!("{}: cannot write: {e}", p.display())))?,
        ),
        None => None,
    };
    runtime()?.block_on(async {
        let store = open(g).await?;
        let result = async {
            let number = kefu_app::contracts::resolve_number(&store, a.contract.as_deref())
                .await
                .map_err(app_error)?;
            let stored = kefu_app::contracts::load_stored(&store, &number, &holidays)
                .await
                .map_err(app_error)?;
            let tz = match &a.tz {
                Some(name) => jiff::tz::TimeZone::get(name).map_err(|_| {
                    UserError::Message(format!(
                        "--tz: expected an IANA time zone name like \"Asia/Shanghai\", found \"{name}\""
                    ))
                })?,
                None => stored.document.base().time_zone.clone(),
            };
            let doc = &stored.document;
            let term = (
                doc.base().effective_from,
                doc.effective_dates()
                    .last()
                    .and_then(|d| doc.terms_on(*d).ok())
                    .map_or(doc.base().ends_on, |t| t.contract.ends_on),
            );
            let opts = ImportOptions {
                strict: a.strict,
                actor: super::store_cmds::actor(),
                bucket_plan: Some(kefu_app::contracts::bucket_plan(&stored).map_err(app_error)?),
                ..ImportOptions::default()
            };
            let mut code = ExitCode::SUCCESS;
            for path in &a.files {
                let bar = indicatif::ProgressBar::new(0);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_message(path.display().to_string());
                let mut obs = Observer {
                    file: path.display().to_string(),
                    shown: 0,
                    errors_out: errors_out.take(),
                    write_error: None,
                    bar,
                };
                let reader = make_reader(a.format, path, tz.clone(), mapping.clone());
                let summary = import_file(&store, stored.id, &format_name, path, reader, &opts, &mut obs)
                    .await
                    .map_err(app_error)?;
                obs.bar.finish_and_clear();
                errors_out = obs.errors_out.take();
                if summary.rows_rejected_now as usize > obs.shown {
                    eprintln!(
                        "rejected: … {} more rows in {}",
                        summary.rows_rejected_now as usize - obs.shown,
                        path.display()
                    );
                }
                if let Some(e) = obs.write_error {
                    eprintln!("error: writing rejected rows: {e}");
                    code = ExitCode::from(1);
                }
                print_summary(&summary, a.errors.as_deref());
                if let Some((lo, hi)) = summary.offered_span {
                    let day = |t: jiff::Timestamp| tz.to_datetime(t).date();
                    let (first, last) = (term.0, term.1);
                    if day(lo) < first || day(hi) > last {
                        eprintln!(
                            "warning: {}: calls offered from {} to {} lie partly or wholly outside contract {}'s term ({} to {}); reports only count days in force",
                            path.display(),
                            day(lo),
                            day(hi),
                            number,
                            first,
                            last
                        );
                    }
                }
                if summary.end == ImportEnd::Complete
                    && summary.calls_read == 0
                    && summary.agent_events == 0
                    && summary.rows_rejected_now > 0
                {
                    eprintln!(
                        "error: {}: no row could be read as --format {}; is that the file's format?",
                        path.display(),
                        format_name.replace('_', "-")
                    );
                    code = ExitCode::from(2);
                }
                if let ImportEnd::Interrupted { line } = &summary.end {
                    eprintln!(
                        "interrupted: {} is imported up to line {line}; run the same command again to go on",
                        path.display()
                    );
                    return Ok(ExitCode::from(130));
                }
                if let ImportEnd::StoppedAt { line, reason } = &summary.end {
                    eprintln!(
                        "error: {}:{line}: {reason} (stopped by --strict; the calls before it are stored, a rerun goes on from there)",
                        path.display()
                    );
                    let rest: Vec<String> = a
                        .files
                        .iter()
                        .skip_while(|f| *f != path)
                        .skip(1)
                        .map(|f| f.display().to_string())
                        .collect();
                    if !rest.is_empty() {
                        eprintln!("not imported: {}", rest.join(", "));
                    }
                    return Ok(ExitCode::from(2));
                }
            }
            Ok(code)
        }
        .await;
        store.close().await;
        result
    })
}

pub(crate) fn report(g: &Global, a: &ReportArgs) -> CmdResult {
    let holidays = Arc::new(files::holidays(g.holidays.as_deref())?);
    let report = runtime()?.block_on(async {
        let store = open_existing(g).await?;
        let r = kefu_app::report::phone_quality_report(
            &store,
            a.contract.as_deref(),
            a.period,
            holidays,
            jiff::Timestamp::now(),
        )
        .await
        .map_err(app_error);
        store.close().await;
        r
    })?;
    let text = match a.format {
        ReportFormat::Json => serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?,
        ReportFormat::Html => kefu_report::html(&report, matches!(a.lang, Lang::En)),
        ReportFormat::Pdf => {
            let out = a.out.as_deref().ok_or_else(|| {
                UserError::Message("--format pdf writes a file: give it --out FILE.pdf".to_owned())
            })?;
            super::pdf::print(&kefu_report::html(&report, matches!(a.lang, Lang::En)), out)?;
            println!("{}", out.display());
            return Ok(ExitCode::SUCCESS);
        }
    };
    match &a.out {
        Some(p) => std::fs::write(p, text.as_bytes())
            .map_err(|e| UserError::Message(format!("{}: cannot write: {e}", p.display())))?,
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.write_all(b"\n");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn generate_calls(g: &Global, a: &GenerateCallsArgs) -> CmdResult {
    use kefu_channels::phone::generate::{Format as Gen, GenerateOptions, Generator};
    let holidays = files::holidays(g.holidays.as_deref())?;
    let doc = files::load_contract(&a.contract, &holidays)?;
    let (year, month) = (a.month.year(), a.month.month());
    let terms = doc
        .terms_on(a.month.first_day())
        .or_else(|_| doc.terms_on(a.month.last_day()))
        .map_err(|e| UserError::Message(e.to_string()))?;
    let mut opts = GenerateOptions::for_contract(terms.contract, year, month, a.calls);
    opts.seed = a.seed;
    opts.holidays = holidays;
    let generator = Generator::new(opts).map_err(|e| UserError::Message(e.to_string()))?;
    let format = match a.format {
        GenFormat::QueueLog => Gen::QueueLog,
        GenFormat::Cdr => Gen::Cdr,
        GenFormat::Connect => Gen::Connect,
    };
    let summary = match &a.out {
        Some(p) => {
            let file = File::create(p)
                .map_err(|e| UserError::Message(format!("{}: cannot write: {e}", p.display())))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            generator
                .run(format, &mut w)
                .and_then(|s| w.flush().map(|()| s))
                .map_err(|e| UserError::Message(format!("{}: cannot write: {e}", p.display())))?
        }
        None => {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            let s = generator
                .run(format, &mut out)
                .map_err(anyhow::Error::from)?;
            out.flush().map_err(anyhow::Error::from)?;
            s
        }
    };
    eprintln!(
        "generated {} calls ({} answered, {} abandoned) in {} lines, {} bytes, {} agents",
        thousands(summary.offered),
        thousands(summary.answered),
        thousands(summary.abandoned),
        thousands(summary.lines),
        thousands(summary.bytes),
        summary.agents
    );
    Ok(ExitCode::SUCCESS)
}

/// Lists one day's calls with callers masked and the source lines each came from: how a
/// disputed figure is traced back to the records that made it.
pub(crate) fn calls(g: &Global, a: &CallsArgs) -> CmdResult {
    let holidays = files::holidays(g.holidays.as_deref())?;
    let outcome = match &a.outcome {
        Some(o) => Some(kefu_core::phone::CallOutcome::parse(o).ok_or_else(|| {
            UserError::Message(format!(
                "--outcome: expected one of answered, abandoned, timed_out, no_agents, exited_with_key, unknown, found \"{o}\""
            ))
        })?),
        None => None,
    };
    runtime()?.block_on(async {
        let store = open_existing(g).await?;
        let result = async {
            let number = kefu_app::contracts::resolve_number(&store, a.contract.as_deref())
                .await
                .map_err(app_error)?;
            let stored = kefu_app::contracts::load_stored(&store, &number, &holidays)
                .await
                .map_err(app_error)?;
            let tz = stored.document.base().time_zone.clone();
            let bound = |d: jiff::civil::Date| {
                tz.to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                    .map_err(|e| UserError::Message(e.to_string()))
            };
            let next =
                a.on.checked_add(jiff::Span::new().days(1))
                    .map_err(|e| UserError::Message(e.to_string()))?;
            let list = store
                .calls_offered_between(stored.id, None, bound(a.on)?, bound(next)?, true)
                .await
                .map_err(|e| app_error(e.into()))?;
            let sources: std::collections::HashMap<String, String> = store
                .import_batches(stored.id)
                .await
                .map_err(|e| app_error(e.into()))?
                .into_iter()
                .map(|b| (b.id.to_string(), b.source_name))
                .collect();
            println!(
                "{:<8}  {:<9}  {:<10}  {:<14}  {:>7}  {:>7}  {:<16}  source",
                "offered", "outcome", "queue", "agent", "wait", "talk", "caller"
            );
            let mut shown = 0;
            for c in list
                .iter()
                .filter(|c| outcome.is_none_or(|o| c.call.outcome == o))
                .take(a.limit)
            {
                shown += 1;
                let call = &c.call;
                let secs = |d: Option<jiff::SignedDuration>| {
                    d.map_or("—".to_owned(), |d| format!("{:.0}s", d.as_secs_f64()))
                };
                let source = match (&c.import_batch_id, c.first_line, c.last_line) {
                    (Some(b), Some(f), Some(l)) => format!(
                        "{}:{}{}",
                        sources.get(b).map_or(b.as_str(), String::as_str),
                        f,
                        if l != f {
                            format!("-{l}")
                        } else {
                            String::new()
                        }
                    ),
                    _ => "—".to_owned(),
                };
                println!(
                    "{:<8}  {:<9}  {:<10}  {:<14}  {:>7}  {:>7}  {:<16}  {}",
                    tz.to_datetime(call.offered_at).strftime("%H:%M:%S"),
                    call.outcome.as_str(),
                    call.queue.as_deref().unwrap_or("—"),
                    call.agent.as_deref().unwrap_or("—"),
                    secs(call.wait()),
                    secs(call.talk_time()),
                    call.caller
                        .as_deref()
                        .map_or("—".to_owned(), kefu_core::mask::mask_phone),
                    source
                );
            }
            let total = list
                .iter()
                .filter(|c| outcome.is_none_or(|o| c.call.outcome == o))
                .count();
            eprintln!("{shown} of {total} calls on {} (callers masked)", a.on);
            Ok(ExitCode::SUCCESS)
        }
        .await;
        store.close().await;
        result
    })
}
