//! Commands. Each parses its arguments, calls the library and prints; the
//! caller's mistakes are `UserError`s (exit 2), anything else exits 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use jiff::civil::Date;
use kefu_core::contract::Diagnostics;

use crate::files;

mod demo;
mod pdf;
mod phone_cmds;
mod serve;
mod show;
mod staff_cmds;
mod staffing_cmds;
mod store_cmds;

#[derive(Parser, Debug)]
#[command(
    name = "kefu",
    version,
    about = "kefu: customer service held to its contract"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Database URL: sqlite://PATH (embedded, the default) or postgres://…
    #[arg(
        long = "db",
        env = "KEFU_DATABASE_URL",
        global = true,
        default_value = "sqlite://./data/kefu.db"
    )]
    pub database_url: String,
    /// Folder for kefu's own files: the field-encryption key (and the SQLite database by default).
    #[arg(long, env = "KEFU_DATA_DIR", global = true, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Extra holiday-data files (one TOML per year) that add to or replace the built-in years.
    #[arg(long, env = "KEFU_HOLIDAYS_DIR", global = true)]
    pub holidays: Option<PathBuf>,
    /// Which of the above were given (flag or environment) rather than defaulted.
    #[arg(skip)]
    pub explicit: Explicit,
}

/// Whether a global option was given on the command line or in the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Explicit {
    pub database_url: bool,
    pub data_dir: bool,
}

impl Explicit {
    fn from_matches(m: &clap::ArgMatches) -> Explicit {
        // Global options are seen by the subcommand's matches too; ask both.
        let given = |id: &str| {
            let mut all = vec![m];
            if let Some((_, sub)) = m.subcommand() {
                all.push(sub);
            }
            all.iter().any(|m| {
                matches!(
                    m.value_source(id),
                    Some(
                        clap::parser::ValueSource::CommandLine
                            | clap::parser::ValueSource::EnvVariable
                    )
                )
            })
        };
        Explicit {
            database_url: given("database_url"),
            data_dir: given("data_dir"),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check, show and load contract documents.
    #[command(subcommand)]
    Contract(ContractCmd),
    /// Print the PRC working-day calendar for a year or a month.
    Calendar {
        /// Year to print (default: this year).
        #[arg(long)]
        year: Option<i16>,
        /// Month 1–12; without it the whole year is printed.
        #[arg(long)]
        month: Option<i8>,
    },
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Import call records (Asterisk queue_log or CDR, Amazon Connect, any CSV through a mapping).
    Import(phone_cmds::ImportArgs),
    /// The quality evaluation report (客服服务质量评估报告) of a billing period.
    Report(phone_cmds::ReportArgs),
    /// One day's calls, callers masked, each with the source lines it came from.
    Calls(phone_cmds::CallsArgs),
    /// Generate realistic traffic for tests, benchmarks and demos.
    #[command(subcommand)]
    Generate(GenerateCmd),
    /// A first look: the example contract, a generated month of calls, its quality report.
    Demo(demo::DemoArgs),
    /// Run the web server: API, console, health (/healthz) and metrics (/metrics).
    Serve(serve::ServeArgs),
    /// Staffing models: the agents a queue needs for its targets (Erlang B, C, A).
    #[command(subcommand)]
    Staffing(staffing_cmds::StaffingCmd),
    /// Staff records: import certificates, trainings, assessments, NDAs and profiles from
    /// CSV; the training-records document (附件6) of a month.
    #[command(subcommand)]
    Staff(staff_cmds::StaffCmd),
}

#[derive(Subcommand, Debug)]
pub enum GenerateCmd {
    /// A month of phone calls as Asterisk queue_log, CDR or Amazon Connect records.
    Calls(phone_cmds::GenerateCallsArgs),
}

#[derive(Subcommand, Debug)]
pub enum ContractCmd {
    /// Validate contract documents and the amendments they list; every error names file:line:column.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Show the terms in force on a day, amendments applied.
    Show {
        file: PathBuf,
        /// The day (YYYY-MM-DD); default today in the contract's time zone.
        #[arg(long)]
        on: Option<Date>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Validate a contract and store it (and its amendments) as versions in the database.
    Load { file: PathBuf },
    /// List the stored versions of a contract.
    Versions { number: String },
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Walk the hash chain and report the first broken row.
    Verify,
}

/// A mistake the user can fix: exit code 2.
#[derive(Debug)]
pub enum UserError {
    Diagnostics(Diagnostics),
    Message(String),
}

pub type CmdResult = Result<ExitCode, CmdError>;

#[derive(Debug)]
pub enum CmdError {
    User(UserError),
    Unexpected(anyhow::Error),
}

impl From<UserError> for CmdError {
    fn from(e: UserError) -> Self {
        CmdError::User(e)
    }
}

impl From<anyhow::Error> for CmdError {
    fn from(e: anyhow::Error) -> Self {
        CmdError::Unexpected(e)
    }
}

pub fn main() -> ExitCode {
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let mut cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    cli.global.explicit = Explicit::from_matches(&matches);
    match run(cli) {
        Ok(code) => code,
        Err(CmdError::User(UserError::Diagnostics(d))) => {
            files::print_diagnostics(&d);
            ExitCode::from(2)
        }
        Err(CmdError::User(UserError::Message(m))) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(CmdError::Unexpected(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

pub fn run(cli: Cli) -> CmdResult {
    let g = cli.global;
    match cli.command {
        Command::Contract(ContractCmd::Check { files }) => contract_check(&g, &files),
        Command::Contract(ContractCmd::Show { file, on, json }) => {
            contract_show(&g, &file, on, json)
        }
        Command::Contract(ContractCmd::Load { file }) => store_cmds::contract_load(&g, &file),
        Command::Contract(ContractCmd::Versions { number }) => {
            store_cmds::contract_versions(&g, &number)
        }
        Command::Calendar { year, month } => calendar(&g, year, month),
        Command::Audit(AuditCmd::Verify) => store_cmds::audit_verify(&g),
        Command::Import(a) => phone_cmds::import(&g, &a),
        Command::Report(a) => phone_cmds::report(&g, &a),
        Command::Calls(a) => phone_cmds::calls(&g, &a),
        Command::Generate(GenerateCmd::Calls(a)) => phone_cmds::generate_calls(&g, &a),
        Command::Demo(a) => demo::demo(&g, &a),
        Command::Serve(a) => serve::serve(&g, &a),
        Command::Staffing(c) => staffing_cmds::run(&g, &c),
        Command::Staff(c) => staff_cmds::run(&g, &c),
    }
}

fn contract_check(g: &Global, paths: &[PathBuf]) -> CmdResult {
    let holidays = files::holidays(g.holidays.as_deref())?;
    let mut all = Vec::new();
    let mut failed_to_read = 0usize;
    for path in paths {
        match files::load_contract(path, &holidays) {
            Ok(doc) => {
                let base = doc.base();
                let last = doc
                    .effective_dates()
                    .last()
                    .and_then(|d| doc.terms_on(*d).ok())
                    .map_or(base.ends_on, |t| t.contract.ends_on);
                println!(
                    "ok: {} — contract {} ({}), in force {} to {}, {} amendment{}",
                    path.display(),
                    base.number,
                    base.title,
                    base.effective_from,
                    last,
                    doc.amendments().len(),
                    if doc.amendments().len() == 1 { "" } else { "s" }
                );
            }
            Err(UserError::Diagnostics(d)) => all.extend(d.0),
            Err(UserError::Message(m)) => {
                // Report it and go on: the other files' errors matter too.
                eprintln!("error: {m}");
                failed_to_read += 1;
            }
        }
    }
    if !all.is_empty() {
        Err(UserError::Diagnostics(Diagnostics(all)).into())
    } else if failed_to_read > 0 {
        Ok(ExitCode::from(2))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

fn contract_show(g: &Global, path: &Path, on: Option<Date>, json: bool) -> CmdResult {
    let holidays = files::holidays(g.holidays.as_deref())?;
    let doc = files::load_contract(path, &holidays)?;
    let on = on.unwrap_or_else(|| {
        jiff::ZonedDateTime::now()
            .with_time_zone(doc.base().time_zone.clone())
            .date()
    });
    let terms = doc
        .terms_on(on)
        .map_err(|e| UserError::Message(e.to_string()))?;
    if json {
        let text = serde_json::to_string_pretty(&terms).map_err(anyhow::Error::from)?;
        println!("{text}");
    } else {
        print!("{}", show::terms_text(&terms));
    }
    Ok(ExitCode::SUCCESS)
}

fn calendar(g: &Global, year: Option<i16>, month: Option<i8>) -> CmdResult {
    let holidays = files::holidays(g.holidays.as_deref())?;
    // The PRC calendar's year is China's, whatever zone this machine runs in.
    let year = year.unwrap_or_else(|| {
        let now = jiff::ZonedDateTime::now();
        jiff::tz::TimeZone::get("Asia/Shanghai")
            .map(|tz| now.with_time_zone(tz).year())
            .unwrap_or_else(|_| now.year())
    });
    let text = match month {
        Some(m) if !(1..=12).contains(&m) => {
            return Err(UserError::Message(format!("--month: expected 1 to 12, found {m}")).into());
        }
        Some(m) => kefu_core::calendar::render_month(&holidays, year, m),
        None => kefu_core::calendar::render_year(&holidays, year),
    }
    .map_err(|e| UserError::Message(e.to_string()))?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
