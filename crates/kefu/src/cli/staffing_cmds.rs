//! `kefu staffing erlang`: Erlang B, C or A for one interval — what a number
//! of agents achieves, or the least number that meets the targets.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use kefu_core::staffing::{Model, Shrinkage, StaffingError, StaffingResult};

use super::{CmdResult, UserError};

#[derive(Subcommand, Debug)]
pub enum StaffingCmd {
    /// One interval under Erlang B, C or A: with --agents, what they achieve;
    /// without, the least number of agents that meets every target.
    Erlang(ErlangArgs),
    /// A week's phone staffing plan from the contract and the history: forecast contacts and
    /// handling time per interval, agents required by the targets, agents on duty, shortage,
    /// and service hours with nobody on duty ("service not provided").
    Plan(PlanArgs),
}

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// Contract number (may be left out when only one is stored).
    #[arg(long)]
    pub contract: Option<String>,
    /// ISO week, e.g. 2026-W48.
    #[arg(long)]
    pub week: String,
    /// Print the plan as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write a chart of required vs on-duty agents (SVG).
    #[arg(long)]
    pub chart: Option<std::path::PathBuf>,
    /// Language of the table and chart.
    #[arg(long, value_enum, default_value = "zh")]
    pub lang: super::phone_cmds::Lang,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// Erlang B: calls that find every agent busy are lost.
    B,
    /// Erlang C: callers wait as long as it takes.
    C,
    /// Erlang A: waiting callers give up after a mean patience (--patience-seconds).
    A,
}

#[derive(clap::Args, Debug)]
pub struct ErlangArgs {
    #[arg(long, value_enum)]
    pub model: ModelArg,
    /// Calls offered in the interval (with --interval-seconds and --aht-seconds).
    #[arg(long, allow_negative_numbers = true, conflicts_with = "traffic")]
    pub calls: Option<f64>,
    /// Length of the interval the calls arrive in.
    #[arg(long, allow_negative_numbers = true)]
    pub interval_seconds: Option<f64>,
    /// Offered traffic in erlangs, instead of --calls and --interval-seconds.
    #[arg(long, allow_negative_numbers = true)]
    pub traffic: Option<f64>,
    /// Average handling time of a call.
    #[arg(long, allow_negative_numbers = true)]
    pub aht_seconds: Option<f64>,
    /// Erlang A: mean time a waiting caller holds on before giving up.
    #[arg(long, allow_negative_numbers = true)]
    pub patience_seconds: Option<f64>,
    /// Evaluate this many agents (on the phones, after shrinkage) instead of searching.
    #[arg(long)]
    pub agents: Option<u32>,
    /// The service level's threshold: answered within this many seconds.
    #[arg(long, allow_negative_numbers = true)]
    pub threshold_seconds: Option<f64>,
    /// Target service level, a fraction (0.8 = 80% within --threshold-seconds).
    /// Erlang A: answered within the threshold ÷ all offered calls.
    #[arg(long, allow_negative_numbers = true)]
    pub target_sl: Option<f64>,
    /// Highest acceptable occupancy, a fraction.
    #[arg(long, allow_negative_numbers = true)]
    pub max_occupancy: Option<f64>,
    /// Erlang A: highest acceptable share of callers who give up (0.05 = connection rate ≥ 95%).
    #[arg(long, allow_negative_numbers = true)]
    pub max_abandon: Option<f64>,
    /// Highest acceptable mean wait of answered calls (平均响应时间), in seconds.
    #[arg(long, allow_negative_numbers = true)]
    pub max_asa_seconds: Option<f64>,
    /// Erlang B: highest acceptable share of calls blocked.
    #[arg(long, allow_negative_numbers = true)]
    pub max_blocking: Option<f64>,
    /// Share of paid time off the phones (breaks, training), a fraction below 1.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    pub shrinkage: f64,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

fn user(e: StaffingError) -> UserError {
    UserError::Message(e.to_string())
}

fn msg(m: &str) -> UserError {
    UserError::Message(m.to_owned())
}

pub fn run(g: &super::Global, cmd: &StaffingCmd) -> CmdResult {
    match cmd {
        StaffingCmd::Erlang(a) => erlang(a),
        StaffingCmd::Plan(a) => plan(g, a),
    }
}

fn plan(g: &super::Global, a: &PlanArgs) -> CmdResult {
    use super::store_cmds::{app_error, open_existing, runtime};
    let monday = kefu_app::staffing::parse_iso_week(&a.week).map_err(app_error)?;
    let holidays = std::sync::Arc::new(crate::files::holidays(g.holidays.as_deref())?);
    let plan = runtime()?.block_on(async {
        let store = open_existing(g).await?;
        let r = async {
            let number = kefu_app::contracts::resolve_number(&store, a.contract.as_deref()).await?;
            let stored = kefu_app::contracts::load_stored(&store, &number, &holidays).await?;
            kefu_app::staffing::week_plan(
                &store,
                &stored,
                &number,
                monday,
                holidays.clone(),
                jiff::Timestamp::now(),
            )
            .await
        }
        .await
        .map_err(app_error);
        store.close().await;
        r
    })?;
    let zh = matches!(a.lang, super::phone_cmds::Lang::Zh);
    if let Some(path) = &a.chart {
        std::fs::write(path, plan_svg(&plan, zh))
            .map_err(|e| UserError::Message(format!("{}: cannot write: {e}", path.display())))?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plan).map_err(anyhow::Error::from)?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (h_start, h_calls, h_aht, h_req, h_on, h_short) = if zh {
        (
            "时段",
            "预测来电",
            "平均处理(秒)",
            "需要坐席",
            "在岗",
            "缺口",
        )
    } else {
        (
            "Interval", "Forecast", "AHT (s)", "Required", "On duty", "Short",
        )
    };
    println!(
        "{} {} · {} · {}",
        plan.contract,
        plan.week,
        plan.model,
        plan.targets.join("; ")
    );
    if let Some(p) = plan.patience_seconds {
        println!(
            "{} {p} s",
            if zh {
                "估计耐心时长"
            } else {
                "Estimated patience"
            }
        );
    }
    println!("{h_start:<17} {h_calls:>9} {h_aht:>9} {h_req:>9} {h_on:>8} {h_short:>6}");
    for s in plan.slots.iter().filter(|s| s.open) {
        println!(
            "{:<17} {:>9.1} {:>9} {:>9} {:>8} {:>6}",
            s.start.replace('T', " "),
            s.forecast_contacts,
            s.aht_seconds.map_or("—".to_owned(), |x| format!("{x:.0}")),
            s.required_agents,
            s.on_duty.map_or("—".to_owned(), |x| format!("{x:.1}")),
            s.shortage.map_or(String::new(), |x| format!("{x:.1}")),
        );
    }
    println!(
        "{}: {} · {}: {}",
        if zh { "峰值需要" } else { "Peak required" },
        plan.peak_required,
        if zh {
            "人手不足的时段"
        } else {
            "Intervals short"
        },
        plan.intervals_short
    );
    if plan.service_not_provided.is_empty() {
        println!(
            "{}",
            if zh {
                "服务时间内无人值班:无"
            } else {
                "Service not provided: none"
            }
        );
    } else {
        for n in &plan.service_not_provided {
            println!(
                "{} {} {} – {} ({} min)",
                if zh {
                    "服务时间内无人值班"
                } else {
                    "Service not provided"
                },
                n.channel,
                n.from,
                n.to,
                n.minutes
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Required agents (bars) and agents on duty (line) per interval across the week.
fn plan_svg(plan: &kefu_app::staffing::WeekPlan, zh: bool) -> String {
    let (w, h, left, bottom, top) = (1200.0, 360.0, 48.0, 40.0, 36.0);
    let n = plan.slots.len().max(1) as f64;
    let peak = plan
        .slots
        .iter()
        .map(|s| f64::from(s.required_agents).max(s.on_duty.unwrap_or(0.0)))
        .fold(1.0, f64::max)
        .ceil();
    let x = |i: usize| left + (w - left - 10.0) * i as f64 / n;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / peak);
    let bw = (w - left - 10.0) / n;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"Noto Sans CJK SC, sans-serif\" font-size=\"12\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\
         <text x=\"{left}\" y=\"20\" font-size=\"15\">{} {} — {}</text>",
        plan.contract,
        plan.week,
        if zh {
            "需要坐席(柱)与在岗坐席(线)"
        } else {
            "required agents (bars) and agents on duty (line)"
        }
    );
    for (i, s) in plan.slots.iter().enumerate() {
        if !s.open {
            out.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{top}\" width=\"{bw:.2}\" height=\"{:.1}\" fill=\"#f1f2f5\"/>",
                x(i),
                h - top - bottom
            ));
        }
        if s.required_agents > 0 {
            let top_y = y(f64::from(s.required_agents));
            out.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{top_y:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"{}\"/>",
                x(i),
                (bw - 0.5).max(0.5),
                h - bottom - top_y,
                if s.shortage.is_some() {
                    "#e5484d"
                } else {
                    "#7aa7e8"
                }
            ));
        }
    }
    let points: Vec<String> = plan
        .slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.on_duty
                .map(|v| format!("{:.1},{:.1}", x(i) + bw / 2.0, y(v)))
        })
        .collect();
    if !points.is_empty() {
        out.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#e08a00\" stroke-width=\"1.5\"/>",
            points.join(" ")
        ));
    }
    let per_day = plan.slots.len() / 7;
    for d in 0..7 {
        let i = d * per_day;
        if let Some(s) = plan.slots.get(i) {
            out.push_str(&format!(
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{top}\" y2=\"{1}\" stroke=\"#99a\"/>\
                 <text x=\"{2:.1}\" y=\"{3}\">{4}</text>",
                x(i),
                h - bottom,
                x(i) + 4.0,
                h - bottom + 16.0,
                &s.start[..10]
            ));
        }
    }
    for v in [0.0, peak / 2.0, peak] {
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v:.0}</text>",
            left - 6.0,
            y(v) + 4.0
        ));
    }
    out.push_str("</svg>");
    out
}

fn erlang(a: &ErlangArgs) -> CmdResult {
    use kefu_core::staffing::request::{ErlangRequest, ModelKind, RequestError};
    // The API's request type answers the question: one definition of what a valid question is.
    let req = ErlangRequest {
        model: Some(match a.model {
            ModelArg::B => ModelKind::B,
            ModelArg::C => ModelKind::C,
            ModelArg::A => ModelKind::A,
        }),
        calls: a.calls,
        interval_seconds: a.interval_seconds,
        traffic: a.traffic,
        aht_seconds: a.aht_seconds,
        patience_seconds: a.patience_seconds,
        agents: a.agents,
        threshold_seconds: a.threshold_seconds,
        target_sl: a.target_sl,
        max_occupancy: a.max_occupancy,
        max_abandon: a.max_abandon,
        max_asa_seconds: a.max_asa_seconds,
        max_blocking: a.max_blocking,
        shrinkage: Some(a.shrinkage),
    };
    let result = req.solve().map_err(|e| match e {
        RequestError::Incomplete(m) => msg(&as_flags(m)),
        RequestError::Value(e) => user(e),
    })?;
    // Solved, so these are valid: rebuilt for the readable table.
    let model = match (a.model, a.patience_seconds) {
        (ModelArg::A, Some(p)) => Model::erlang_a(p).map_err(user)?,
        (ModelArg::B, _) => Model::ErlangB,
        _ => Model::ErlangC,
    };
    let shrinkage = Shrinkage::new(a.shrinkage).map_err(user)?;
    if a.json {
        let text = serde_json::to_string_pretty(&result).map_err(anyhow::Error::from)?;
        println!("{text}");
    } else {
        print!(
            "{}",
            table(
                &model,
                &result,
                a.threshold_seconds,
                shrinkage,
                a.agents.is_some()
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A request's field names as this command's flags (`interval_seconds` → `--interval-seconds`).
fn as_flags(message: &str) -> String {
    use kefu_core::staffing::request::FIELDS;
    let mut out = String::with_capacity(message.len() + 16);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if FIELDS.contains(&word.as_str()) {
            out.push_str("--");
            out.push_str(&word.replace('_', "-"));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in message.chars() {
        if c.is_ascii_lowercase() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn secs(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1} s")
    } else {
        "∞ (agents ≤ traffic: the queue grows without bound)".to_owned()
    }
}

/// The readable form: one line of context, then one figure per line.
fn table(
    model: &Model,
    r: &StaffingResult,
    threshold: Option<f64>,
    shrinkage: Shrinkage,
    evaluated: bool,
) -> String {
    let mut out = format!(
        "{} — {:.2} erlangs, {} agents{}\n",
        model.name(),
        r.traffic_erlangs,
        r.agents,
        if evaluated {
            ""
        } else {
            " (the least that meets the targets)"
        }
    );
    let mut rows: Vec<(String, String)> = Vec::new();
    if evaluated && let Some(n) = r.required_agents {
        rows.push(("least agents for the targets".into(), n.to_string()));
    }
    if let Some(n) = r.required_agents_with_shrinkage {
        rows.push((
            format!("to schedule ({} shrinkage)", pct(shrinkage.get())),
            n.to_string(),
        ));
    }
    let t = threshold.map_or(String::new(), |t| format!(" within {t} s"));
    let opt =
        |rows: &mut Vec<(String, String)>, label: String, v: Option<f64>, f: fn(f64) -> String| {
            if let Some(v) = v {
                rows.push((label, f(v)));
            }
        };
    opt(&mut rows, "blocked (Erlang B)".into(), r.erlang_b, pct);
    opt(&mut rows, "P(wait)".into(), r.p_wait, pct);
    opt(&mut rows, format!("service level{t}"), r.service_level, pct);
    opt(&mut rows, "abandoned".into(), r.p_abandon, pct);
    opt(
        &mut rows,
        format!("answered{t} ÷ offered"),
        r.sl_answered_within_t,
        pct,
    );
    opt(
        &mut rows,
        format!("answered{t} ÷ answered"),
        r.sl_excl_abandon,
        pct,
    );
    opt(
        &mut rows,
        format!("waited{t} ÷ offered"),
        r.sl_wait_le_t,
        pct,
    );
    opt(&mut rows, "ASA, all callers".into(), r.asa_seconds, secs);
    opt(
        &mut rows,
        "ASA, answered callers".into(),
        r.asa_answered_seconds,
        secs,
    );
    rows.push(("occupancy".into(), pct(r.occupancy)));
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    for (label, value) in rows {
        let pad = width - label.chars().count();
        out.push_str(&format!("  {label}{}  {value}\n", " ".repeat(pad)));
    }
    out
}
