//! `kefu staff …`: staff records from CSV files, and the training-records document (附件6)
//! of a month. (Not `kefu staffing`, which sizes queues.)

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use kefu_app::staff::CsvKind;

use super::phone_cmds::Lang;
use super::store_cmds::{app_error, open, open_existing, runtime};
use super::{CmdResult, Global, UserError};

#[derive(Subcommand, Debug)]
pub enum StaffCmd {
    /// Import staff records from a CSV file with a header row. Bad rows are reported with
    /// file:line, column and value; good rows are kept; importing the same file again adds
    /// nothing. Examples: examples/staff/*.csv.
    Import {
        #[arg(long, value_enum)]
        kind: Kind,
        file: PathBuf,
        /// The contract whose assessment pass mark applies to rows without a pass_score
        /// (default: the only stored contract).
        #[arg(long)]
        contract: Option<String>,
    },
    /// The training-records document (附件6) of a month: trainings and assessments per agent,
    /// as PDF (printed by headless Chromium) or, for an --out ending in .html, as HTML.
    TrainingReport {
        /// The month, YYYY-MM.
        #[arg(long)]
        period: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "zh")]
        lang: Lang,
        /// The contract the document is filed under (default: the only stored contract).
        #[arg(long)]
        contract: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Certificates,
    Trainings,
    Assessments,
    Ndas,
    Profiles,
}

impl From<Kind> for CsvKind {
    fn from(k: Kind) -> CsvKind {
        match k {
            Kind::Certificates => CsvKind::Certificates,
            Kind::Trainings => CsvKind::Trainings,
            Kind::Assessments => CsvKind::Assessments,
            Kind::Ndas => CsvKind::Ndas,
            Kind::Profiles => CsvKind::Profiles,
        }
    }
}

pub(crate) fn run(g: &Global, c: &StaffCmd) -> CmdResult {
    match c {
        StaffCmd::Import {
            kind,
            file,
            contract,
        } => import(g, *kind, file, contract.as_deref()),
        StaffCmd::TrainingReport {
            period,
            out,
            lang,
            contract,
        } => training_report(g, period, out, *lang, contract.as_deref()),
    }
}

fn import(g: &Global, kind: Kind, file: &PathBuf, contract: Option<&str>) -> CmdResult {
    let text = std::fs::read_to_string(file).map_err(|e| {
        UserError::Message(format!(
            "{}: cannot read as UTF-8 text: {e}",
            file.display()
        ))
    })?;
    let label = file.display().to_string();
    let summary = runtime()?.block_on(async {
        let store = open(g).await?;
        // The contract's pass mark for assessments without one; none is fine otherwise.
        let pass = match kefu_app::contracts::resolve_number(&store, contract).await {
            Ok(n) => {
                let holidays = kefu_core::calendar::HolidayCalendar::builtin();
                kefu_app::contracts::load_stored(&store, &n, &holidays)
                    .await
                    .ok()
                    .map(|c| c.document.base().staff.assessment_pass_score)
            }
            Err(_) => None,
        };
        kefu_app::staff::import_csv(&store, kind.into(), &label, &text, pass)
            .await
            .map_err(app_error)
    })?;
    for e in &summary.errors {
        eprintln!("error: {e}");
    }
    println!(
        "{label}: {} rows, {} added, {} already there, {} rejected",
        summary.rows,
        summary.added,
        summary.unchanged,
        summary.errors.len()
    );
    Ok(if summary.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn training_report(
    g: &Global,
    period: &str,
    out: &PathBuf,
    lang: Lang,
    contract: Option<&str>,
) -> CmdResult {
    let (data, contract) = runtime()?.block_on(async {
        let store = open_existing(g).await?;
        let data = kefu_app::staff::training_period(&store, period)
            .await
            .map_err(app_error)?;
        let contract = match kefu_app::contracts::resolve_number(&store, contract).await {
            Ok(n) => {
                let holidays = kefu_core::calendar::HolidayCalendar::builtin();
                Some(
                    match kefu_app::contracts::load_stored(&store, &n, &holidays).await {
                        Ok(c) => format!("{n} {}", c.document.base().title),
                        Err(_) => n,
                    },
                )
            }
            Err(_) => None,
        };
        Ok::<_, super::CmdError>((data, contract))
    })?;
    let html = kefu_report::training_html(&data, contract.as_deref(), lang == Lang::En);
    if out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("html"))
    {
        std::fs::write(out, html)
            .map_err(|e| UserError::Message(format!("{}: cannot write: {e}", out.display())))?;
    } else {
        super::pdf::print(&html, out)?;
    }
    println!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}
