//! The quality evaluation report (客服服务质量评估报告, attachment 8): the
//! figures of one billing period computed from the stored records under the
//! terms in force, as one serialisable value. Its JSON form is a stable
//! interface; the HTML and PDF renderers read the same value.
//!
//! Exact figures (ratios as numerator/denominator, waits in milliseconds)
//! decide the verdicts; the decimal numbers beside them are for reading.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use kefu_core::calendar::HolidayCalendar;
use kefu_core::contract::{ChannelKind, ConnectionRateFormula, setting_name};
use kefu_core::phone::aggregate::{PhoneAggregates, PhoneBucket, WaitHistogram};
use kefu_core::phone::budget::{
    Budget, ForecastMethod, RatioBudget, WaitBudget, forecast_offered, period_budgets,
};
use kefu_core::phone::metrics::{
    BillingPeriod, DateRange, MeanDuration, Measured, MetricSettings, PhoneFigures, Ratio,
    Shortfall, TargetBound, TargetVerdict, per_agent, per_day, per_hour_of_day, per_interval,
    per_queue, period_verdicts,
};
use kefu_store::{BatchState, Store};
use serde::Serialize;

use crate::AppError;
use crate::contracts::{load_stored, resolve_number};

/// Bump when a field changes meaning or disappears; adding fields keeps the version.
pub const REPORT_SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct QualityReport {
    pub schema: u32,
    /// "客服服务质量评估报告": attachment 8 of the contract.
    pub title: &'static str,
    pub attachment: u8,
    pub period: String,
    pub generated_at: String,
    /// False while the period is still running: the figures are "so far".
    pub complete: bool,
    /// What a reader must know before trusting the figures (no calls, unfinished imports).
    pub warnings: Vec<String>,
    pub contract: ContractHeader,
    pub channels: ChannelSections,
    pub data: DataSection,
    /// Clause 2.2, enough staff: service not provided, agents on duty against what the
    /// traffic required.
    pub staffing: Option<crate::staffing::PeriodStaffing>,
    pub definitions: Vec<Definition>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContractHeader {
    pub number: String,
    pub title: String,
    pub client: String,
    pub provider: String,
    pub time_zone: String,
    /// The day whose terms the period is judged under (its last day in force).
    pub terms_of: String,
    pub amendments_in_force: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelSections {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat: Option<ChatSection>,
}

/// The online chat channel (在线客服) over the period.
#[derive(Debug, Clone, Serialize)]
pub struct ChatSection {
    pub conversations: u64,
    /// Conversations in which an agent wrote.
    pub answered: u64,
    /// Conversations in which the customer wrote and no agent ever did.
    pub unanswered: u64,
    /// Customer waits for a response, under the contract's definition of a turn.
    pub turns: u64,
    pub turn_definition: String,
    pub automatic_replies_count: bool,
    pub average_response_seconds: Option<f64>,
    /// Sum of the turns' response times (ms) and their number.
    pub average_response_exact: Option<Exact>,
    pub longest_response_seconds: Option<f64>,
    /// Share of turns answered within the target time.
    pub within_target: Option<f64>,
    pub average_first_response_seconds: Option<f64>,
    pub turns_outside_hours: u64,
    pub ratings: u64,
    pub average_rating: Option<f64>,
    pub targets: Vec<TargetLine>,
}

/// The chat section from the period's conversations, under the chat channel's terms.
fn chat_section(
    ch: &kefu_core::contract::Channel,
    conversations: &[kefu_core::chat::Conversation],
    calendar: &kefu_core::calendar::ServiceCalendar,
) -> ChatSection {
    use kefu_core::contract::{ChatResponseDefinition, Metric};
    let target = ch.targets.iter().find_map(|t| match &t.metric {
        Metric::ChatResponseTime {
            max,
            definition,
            include_automatic_replies,
        } => Some((t, *max, *definition, *include_automatic_replies)),
        _ => None,
    });
    let (max, def, auto) = target.map_or(
        (
            kefu_core::contract::Duration::from_secs(3),
            ChatResponseDefinition::FirstUnansweredToNextAgentMessage,
            false,
        ),
        |(_, m, d, a)| (m, d, a),
    );
    let mut f = kefu_core::chat::ChatFigures::default();
    for c in conversations {
        f.add(c, def, auto, max, |t| calendar.is_open(t).unwrap_or(true));
    }
    let mean = f.mean_response_seconds().map(r6);
    let targets = target
        .map(|(t, max, _, _)| {
            let met = f.mean_within(max);
            TargetLine {
                clause: t.clause.to_string(),
                metric: t.metric.name().to_owned(),
                target: max.as_millis() as f64 / 1000.0,
                target_text: format!("≤ {max}"),
                value: mean,
                value_text: mean.map(|m| format!("{m:.2} s")),
                met,
                binding: t.assessed == kefu_core::contract::Assessment::BillingPeriod,
                assessed: setting_name(&t.assessed),
                shortfall: match (met, mean) {
                    (Some(false), Some(m)) => Some(format!(
                        "{:.2} s above",
                        m - max.as_millis() as f64 / 1000.0
                    )),
                    _ => None,
                },
            }
        })
        .into_iter()
        .collect();
    ChatSection {
        conversations: f.conversations,
        answered: f.answered,
        unanswered: f.unanswered,
        turns: f.turns,
        turn_definition: setting_name(&def),
        automatic_replies_count: auto,
        average_response_seconds: mean,
        average_response_exact: (f.turns > 0).then_some(Exact {
            numerator: f.response_ms_sum,
            denominator: f.turns,
        }),
        longest_response_seconds: (f.turns > 0).then(|| f.response_max_ms as f64 / 1000.0),
        within_target: (f.turns > 0).then(|| r6(f.within_target as f64 / f.turns as f64)),
        average_first_response_seconds: (f.first_responses > 0)
            .then(|| r6(f.first_response_ms_sum as f64 / f.first_responses as f64 / 1000.0)),
        turns_outside_hours: f.turns_outside_hours,
        ratings: f.ratings,
        average_rating: (f.ratings > 0).then(|| r6(f.rating_sum as f64 / f.ratings as f64)),
        targets,
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Exact {
    pub numerator: u64,
    pub denominator: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceLevel {
    pub threshold_seconds: u32,
    pub formula: String,
    pub value: Option<f64>,
    pub exact: Option<Exact>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetLine {
    pub clause: String,
    pub metric: String,
    /// A share as a fraction (0.95), or a time in seconds (5).
    pub target: f64,
    pub target_text: String,
    pub value: Option<f64>,
    pub value_text: Option<String>,
    pub met: Option<bool>,
    /// True when the contract judges this target over the billing period.
    pub binding: bool,
    pub assessed: String,
    pub shortfall: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayLine {
    pub date: String,
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub connection_rate: Option<f64>,
    pub asa_seconds: Option<f64>,
    pub service_level: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupLine {
    /// The agent, queue or hour ("—" when the source did not say).
    pub name: String,
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub connection_rate: Option<f64>,
    pub asa_seconds: Option<f64>,
    pub service_level: Option<f64>,
    pub average_talk_seconds: Option<f64>,
    pub talk_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WaitBand {
    pub from_seconds: u32,
    /// None for the open-ended last band.
    pub to_seconds: Option<u32>,
    pub answered: u64,
    pub abandoned: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeatMap {
    pub days: Vec<String>,
    /// Mean wait of answered calls, seconds, per day (rows) and hour 0–23 (columns).
    pub mean_wait_seconds: Vec<Vec<Option<f64>>>,
    pub offered: Vec<Vec<u64>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BudgetLine {
    pub clause: String,
    pub metric: String,
    pub remaining_offered_forecast: u64,
    pub text: String,
    /// The same in Chinese.
    pub text_zh: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhoneSection {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
    pub short_abandon_seconds: u32,
    pub unanswered: u64,
    pub timed_out: u64,
    pub no_agents: u64,
    pub exited_with_key: u64,
    pub unknown: u64,
    pub connection_rate: Option<f64>,
    pub connection_rate_formula: String,
    pub connection_rate_exact: Option<Exact>,
    pub asa_seconds: Option<f64>,
    /// Sum of the waits of answered calls (ms) and their count.
    pub asa_exact: Option<Exact>,
    pub service_level: ServiceLevel,
    pub abandonment_rate: Option<f64>,
    /// Total talk time of the period, seconds.
    pub talk_seconds: f64,
    pub average_talk_seconds: Option<f64>,
    pub average_handle_seconds: Option<f64>,
    pub longest_wait_seconds: Option<f64>,
    pub calls_outside_hours: u64,
    pub targets: Vec<TargetLine>,
    pub days: Vec<DayLine>,
    pub hours: Vec<GroupLine>,
    pub agents: Vec<GroupLine>,
    pub queues: Vec<GroupLine>,
    pub heat_map: HeatMap,
    pub wait_distribution: Vec<WaitBand>,
    /// The worst half-hours (lowest service level with at least 5 calls offered).
    pub worst_intervals: Vec<GroupLine>,
    /// While the period runs: what the rest of it must look like for each target.
    pub budget: Vec<BudgetLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportLine {
    pub source: String,
    pub format: String,
    pub state: String,
    pub started_at: String,
    pub calls_stored: u64,
    pub rows_rejected: u64,
    pub rows_skipped: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataSection {
    /// Calls read from the store for the period.
    pub calls: u64,
    pub imports: Vec<ImportLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Definition {
    pub term: String,
    pub zh: String,
    pub en: String,
}

fn r6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn ratio(r: Option<Ratio>) -> Option<f64> {
    r.map(|r| r6(r.to_f64()))
}

fn exact(r: Option<Ratio>) -> Option<Exact> {
    r.map(|r| Exact {
        numerator: r.numerator,
        denominator: r.denominator,
    })
}

fn secs(m: Option<MeanDuration>) -> Option<f64> {
    m.map(|m| (m.to_f64_seconds() * 1000.0).round() / 1000.0)
}

fn group_line(name: String, f: &PhoneFigures) -> GroupLine {
    GroupLine {
        name,
        offered: f.offered,
        answered: f.answered,
        abandoned: f.abandoned,
        connection_rate: ratio(f.connection_rate),
        asa_seconds: secs(f.average_speed_of_answer),
        service_level: ratio(f.service_level),
        average_talk_seconds: secs(f.average_talk),
        talk_seconds: f.average_talk.map_or(0.0, |m| m.total_ms as f64 / 1000.0),
    }
}

fn day_line(date: Date, f: &PhoneFigures) -> DayLine {
    DayLine {
        date: date.to_string(),
        offered: f.offered,
        answered: f.answered,
        abandoned: f.abandoned,
        connection_rate: ratio(f.connection_rate),
        asa_seconds: secs(f.average_speed_of_answer),
        service_level: ratio(f.service_level),
    }
}

fn target_line(v: &TargetVerdict) -> TargetLine {
    let (target, target_text) = match v.target {
        TargetBound::AtLeast(p) => (
            p.fraction().to_string().parse::<f64>().unwrap_or(0.0),
            format!("≥ {p}"),
        ),
        TargetBound::AtMost(d) => (d.as_millis() as f64 / 1000.0, format!("≤ {d}")),
    };
    let (value, value_text) = match v.value {
        Some(Measured::Ratio(r)) => (
            Some(r6(r.to_f64())),
            Some(format!("{}%", r.percent_rounded(2))),
        ),
        Some(Measured::Mean(m)) => (
            secs(Some(m)),
            Some(format!("{} s", m.seconds().round_dp(2))),
        ),
        None => (None, None),
    };
    TargetLine {
        clause: v.clause.clone(),
        metric: v.metric.to_owned(),
        target,
        target_text,
        value,
        value_text,
        met: v.met,
        binding: v.binding,
        assessed: setting_name(&v.assessed),
        shortfall: v.shortfall.map(|s| match s {
            Shortfall::Points(p) => format!("{} percentage points below", p.round_dp(2)),
            Shortfall::Seconds(s) => format!("{} s above", s.round_dp(2)),
        }),
    }
}

/// Wait bands for the distribution chart.
const BANDS: [(u32, Option<u32>); 9] = [
    (0, Some(5)),
    (5, Some(10)),
    (10, Some(20)),
    (20, Some(30)),
    (30, Some(60)),
    (60, Some(120)),
    (120, Some(300)),
    (300, Some(600)),
    (600, None),
];

fn band_counts(h: &WaitHistogram) -> Vec<u64> {
    let mut out = vec![0u64; BANDS.len()];
    for b in h.bins() {
        if let Some(i) = BANDS
            .iter()
            .position(|(lo, hi)| b.second >= *lo && hi.is_none_or(|hi| b.second < hi))
        {
            out[i] += b.count;
        }
    }
    out
}

fn budget_text(b: &Budget) -> String {
    match b {
        Budget::Share(RatioBudget::AlreadySecured) => {
            "secured: met whatever the rest of the period brings".to_owned()
        }
        Budget::Share(RatioBudget::Required {
            calls,
            remaining,
            share,
        }) => format!(
            "{share}% of the remaining expected calls must go right ({calls} of {remaining})"
        ),
        Budget::Share(RatioBudget::Unreachable { best }) => format!(
            "can no longer be met: even if every remaining call goes right the period ends at {}%",
            best.percent_rounded(2)
        ),
        Budget::Share(RatioBudget::NoRemainingCalls { met })
        | Budget::Wait(WaitBudget::NoRemainingCalls { met }) => match met {
            Some(true) => "no calls expected any more: met".to_owned(),
            Some(false) => "no calls expected any more: missed".to_owned(),
            None => "no calls expected any more".to_owned(),
        },
        Budget::Wait(WaitBudget::MaxMeanWait { calls, mean_ms, .. }) => format!(
            "the remaining {calls} answered calls may wait at most {}.{:03} s on average",
            mean_ms / 1000,
            mean_ms % 1000
        ),
        Budget::Wait(WaitBudget::Unreachable) => {
            "can no longer be met, even if every remaining call is answered at once".to_owned()
        }
    }
}

fn budget_text_zh(b: &Budget) -> String {
    match b {
        Budget::Share(RatioBudget::AlreadySecured) => "已确保达标:无论本期剩余来电如何".to_owned(),
        Budget::Share(RatioBudget::Required {
            calls,
            remaining,
            share,
        }) => format!("剩余预计来电中须有 {share}% 达标({remaining} 个中的 {calls} 个)"),
        Budget::Share(RatioBudget::Unreachable { best }) => format!(
            "已无法达标:即使剩余来电全部达标,本期也只有 {}%",
            best.percent_rounded(2)
        ),
        Budget::Share(RatioBudget::NoRemainingCalls { met })
        | Budget::Wait(WaitBudget::NoRemainingCalls { met }) => match met {
            Some(true) => "预计不再有来电:达标".to_owned(),
            Some(false) => "预计不再有来电:未达标".to_owned(),
            None => "预计不再有来电".to_owned(),
        },
        Budget::Wait(WaitBudget::MaxMeanWait { calls, mean_ms, .. }) => format!(
            "剩余 {calls} 个接通来电的平均等待不得超过 {}.{:03} 秒",
            mean_ms / 1000,
            mean_ms % 1000
        ),
        Budget::Wait(WaitBudget::Unreachable) => "已无法达标:即使剩余来电全部立即接通".to_owned(),
    }
}

fn definitions(s: &MetricSettings, c: &kefu_core::contract::Contract) -> Vec<Definition> {
    let short = s.short_abandon.secs();
    let within = s.service_level_within.secs();
    let hours = match c.channel(ChannelKind::Phone).map(|ch| &ch.hours.hours) {
        Some(kefu_core::calendar::ServiceHours::Always) => "24×7".to_owned(),
        Some(_) => "the phone channel's service hours".to_owned(),
        None => "—".to_owned(),
    };
    let excl = matches!(
        s.connection_rate_formula,
        ConnectionRateFormula::AnsweredOverOfferedLessShortAbandons
    );
    vec![
        Definition {
            term: "offered".into(),
            zh: format!("呼入量:服务时间({hours})内进入人工队列的来电数。"),
            en: format!("Offered: calls that entered an agent queue inside service hours ({hours})."),
        },
        Definition {
            term: "connection_rate".into(),
            zh: if excl {
                format!("接通率 = 接通数 ÷ (呼入量 − 等待不足 {short} 秒即挂断的放弃数)。")
            } else {
                "接通率 = 接通数 ÷ 呼入量。".to_owned()
            },
            en: if excl {
                format!("Connection rate = answered ÷ (offered − calls abandoned within {short} s).")
            } else {
                "Connection rate = answered ÷ offered.".to_owned()
            },
        },
        Definition {
            term: "average_speed_of_answer".into(),
            zh: "平均响应时间 = 接通来电的平均等待时间(接通时刻 − 进入队列时刻)。".into(),
            en: "Average speed of answer = mean of (answer − queue entry) over answered calls.".into(),
        },
        Definition {
            term: "service_level".into(),
            zh: format!("服务水平 = {within} 秒内(含)接通的来电占比,分母按合同约定。"),
            en: format!("Service level = share of calls answered within {within} s (inclusive), over the denominator the contract names."),
        },
        Definition {
            term: "abandoned".into(),
            zh: "放弃:来电者在接通前挂断。超时转出、无坐席转出、按键离开另计,均计入未接通。".into(),
            en: "Abandoned: the caller hung up before an answer. Queue timeouts, empty-queue exits and key exits are counted apart; all are unanswered.".into(),
        },
        Definition {
            term: "billing_period".into(),
            zh: format!("考核周期:自然月,按合同时区 {} 划分。", c.time_zone.iana_name().unwrap_or("UTC")),
            en: format!("Billing period: a calendar month in the contract's time zone ({}).", c.time_zone.iana_name().unwrap_or("UTC")),
        },
    ]
}

/// Computes the phone quality report of a billing period from the stored calls.
pub async fn phone_quality_report(
    store: &Store,
    contract_number: Option<&str>,
    period: BillingPeriod,
    holidays: Arc<HolidayCalendar>,
    now: Timestamp,
) -> Result<QualityReport, AppError> {
    quality_report(store, contract_number, period, holidays, now, true).await
}

/// The report without its staffing section when `with_staffing` is false: the wallboard
/// recomputes the figures every few seconds and shows staffing from its own cached plan.
pub async fn quality_report(
    store: &Store,
    contract_number: Option<&str>,
    period: BillingPeriod,
    holidays: Arc<HolidayCalendar>,
    now: Timestamp,
    with_staffing: bool,
) -> Result<QualityReport, AppError> {
    let number = resolve_number(store, contract_number).await?;
    let stored = load_stored(store, &number, &holidays).await?;
    let doc = &stored.document;
    let tz = doc.base().time_zone.clone();
    let start = tz
        .to_timestamp(
            period
                .first_day()
                .to_datetime(jiff::civil::Time::midnight()),
        )
        .map_err(|e| AppError::Unexpected(e.to_string()))?;
    let next_month = period
        .last_day()
        .checked_add(1.day())
        .map_err(|e| AppError::Unexpected(e.to_string()))?;
    let end = tz
        .to_timestamp(next_month.to_datetime(jiff::civil::Time::midnight()))
        .map_err(|e| AppError::Unexpected(e.to_string()))?;

    // Figures from aggregates: when the phone line is open around the clock on every day of
    // the period, the stored buckets are the whole story. Otherwise the calls are read, so
    // that service hours can be applied call by call.
    let always_open = period.range().days().all(|d| {
        doc.terms_on(d).map_or(true, |t| {
            t.contract
                .channel(ChannelKind::Phone)
                .is_none_or(|ch| ch.hours.hours == kefu_core::calendar::ServiceHours::Always)
        })
    });
    let (aggs, agent_aggs, calls) = if always_open {
        let plan = crate::contracts::bucket_plan(&stored)?;
        let stored_buckets = store
            .phone_buckets(stored.id, &plan, period.first_day(), period.last_day())
            .await?;
        let mut aggs = PhoneAggregates::new(plan.interval, plan.tz.clone());
        let mut calls = 0;
        for (key, bucket) in &stored_buckets.intervals {
            calls += bucket.offered;
            aggs.insert_bucket(key.clone(), bucket);
        }
        let day = kefu_core::phone::aggregate::Interval::new(
            kefu_core::contract::Duration::from_secs(86_400),
        )
        .map_err(|e| AppError::Unexpected(e.to_string()))?;
        let mut agent_aggs = PhoneAggregates::new(day, plan.tz.clone());
        for (key, bucket) in &stored_buckets.agent_days {
            agent_aggs.insert_bucket(key.clone(), bucket);
        }
        (aggs, Some(agent_aggs), calls)
    } else {
        let mut aggs = PhoneAggregates::for_document(doc, &holidays)
            .map_err(|e| AppError::User(format!("the contract's staffing interval: {e}")))?;
        let mut calendar_error = None;
        let calls = store
            .for_each_call_offered_between(stored.id, start, end, |c| {
                if calendar_error.is_none()
                    && let Err(e) = aggs.add_call(&c.call)
                {
                    calendar_error = Some(e);
                }
            })
            .await?;
        if let Some(e) = calendar_error {
            return Err(AppError::User(e.to_string()));
        }
        (aggs, None, calls)
    };

    let settings_err = |e: kefu_core::phone::metrics::SettingsError| AppError::User(e.to_string());
    let pv = period_verdicts(&aggs, period, doc)
        .map_err(settings_err)?
        .ok_or_else(|| {
            AppError::User(format!(
                "contract {number} is not in force in {period}; nothing to report"
            ))
        })?;
    let terms = doc
        .terms_on(pv.terms_of)
        .map_err(|e| AppError::User(e.to_string()))?;
    let contract = terms.contract;
    let s = pv.figures.settings;
    let range = DateRange::new(
        *pv.days.first().unwrap_or(&period.first_day()),
        *pv.days.last().unwrap_or(&period.last_day()),
    );
    let total: PhoneBucket =
        PhoneBucket::total(aggs.between(range.first, range.last).map(|(_, b)| b));
    let f = &pv.figures;

    // Heat map and worst intervals.
    let mut cells: BTreeMap<(Date, i8), PhoneBucket> = BTreeMap::new();
    for (k, b) in aggs.between(range.first, range.last) {
        cells.entry((k.date(), k.hour())).or_default().merge(b);
    }
    let days: Vec<Date> = range.days().collect();
    let mut mean_wait = Vec::with_capacity(days.len());
    let mut offered = Vec::with_capacity(days.len());
    for d in &days {
        let mut w = Vec::with_capacity(24);
        let mut o = Vec::with_capacity(24);
        for h in 0..24i8 {
            let cell = cells.get(&(*d, h));
            o.push(cell.map_or(0, |b| b.offered));
            w.push(cell.and_then(|b| {
                let fig = PhoneFigures::from_bucket(b, &s);
                secs(fig.average_speed_of_answer)
            }));
        }
        mean_wait.push(w);
        offered.push(o);
    }
    let mut worst: Vec<GroupLine> = per_interval(&aggs, range, &s)
        .into_iter()
        .filter(|i| i.figures.offered >= 5)
        .map(|i| group_line(i.start.to_string(), &i.figures))
        .collect();
    worst.sort_by(|a, b| {
        a.service_level
            .unwrap_or(0.0)
            .total_cmp(&b.service_level.unwrap_or(0.0))
            .then_with(|| a.name.cmp(&b.name))
    });
    worst.truncate(10);

    let answered_bands = band_counts(&total.answered_waits);
    let abandoned_bands = band_counts(&total.abandon_waits);
    let wait_distribution = BANDS
        .iter()
        .enumerate()
        .map(|(i, (lo, hi))| WaitBand {
            from_seconds: *lo,
            to_seconds: *hi,
            answered: answered_bands[i],
            abandoned: abandoned_bands[i],
        })
        .collect();

    // While the period runs: the budget for the rest of it.
    let today = tz.to_datetime(now).date();
    let complete = today > period.last_day();
    let mut budget = Vec::new();
    if !complete && today >= period.first_day() {
        let history: Vec<(Date, u64)> = per_day(&aggs, range, &s)
            .into_iter()
            .filter(|d| d.date < today)
            .map(|d| (d.date, d.figures.offered))
            .collect();
        // Today's calls so far are already in the figures: of today, only the part still to
        // come is forecast, as the share of the day not yet elapsed.
        let later: Vec<Date> = range.days().filter(|d| *d > today).collect();
        let method = ForecastMethod::MeanPerSameWeekday;
        let today_whole = forecast_offered(&history, [today], method);
        let midnight = tz
            .to_timestamp(today.to_datetime(jiff::civil::Time::midnight()))
            .map_err(|e| AppError::Unexpected(e.to_string()))?;
        let elapsed_ms = now
            .duration_since(midnight)
            .as_millis()
            .clamp(0, 86_400_000) as u64;
        let today_rest = today_whole * (86_400_000 - elapsed_ms) / 86_400_000;
        let remaining = forecast_offered(&history, later, method) + today_rest;
        for b in period_budgets(&total, contract, remaining).map_err(settings_err)? {
            budget.push(BudgetLine {
                clause: b.clause.clone(),
                metric: b.metric.to_owned(),
                remaining_offered_forecast: remaining,
                text: budget_text(&b.budget),
                text_zh: budget_text_zh(&b.budget),
            });
        }
    }

    let batches = store.import_batches(stored.id).await?;
    let mut warnings = Vec::new();
    if calls == 0 {
        warnings.push(format!(
            "no calls are stored for {period}: import the period's records before relying on this report"
        ));
    }
    for b in &batches {
        match b.state {
            BatchState::Done => {}
            BatchState::Running | BatchState::Failed => warnings.push(format!(
                "the import of {} ({}) did not finish: run it again to complete it",
                b.source_name, b.format
            )),
        }
    }
    let imports = batches
        .into_iter()
        .map(|b| ImportLine {
            source: b.source_name,
            format: b.format,
            state: match b.state {
                BatchState::Running => "running",
                BatchState::Done => "done",
                BatchState::Failed => "failed",
            }
            .to_owned(),
            started_at: b.started_at.to_string(),
            calls_stored: b.progress.calls_stored,
            rows_rejected: b.progress.rows_rejected,
            rows_skipped: b.progress.rows_skipped,
        })
        .collect();

    let name = |o: Option<String>| o.unwrap_or_else(|| "—".to_owned());
    let phone = PhoneSection {
        offered: f.offered,
        answered: f.answered,
        abandoned: f.abandoned,
        short_abandoned: f.short_abandoned,
        short_abandon_seconds: s.short_abandon.secs(),
        unanswered: f.unanswered,
        timed_out: f.timed_out,
        no_agents: f.no_agents,
        exited_with_key: f.exited_with_key,
        unknown: f.unknown,
        connection_rate: ratio(f.connection_rate),
        connection_rate_formula: setting_name(&s.connection_rate_formula),
        connection_rate_exact: exact(f.connection_rate),
        asa_seconds: secs(f.average_speed_of_answer),
        asa_exact: f.average_speed_of_answer.map(|m| Exact {
            numerator: m.total_ms,
            denominator: m.count,
        }),
        service_level: ServiceLevel {
            threshold_seconds: s.service_level_within.secs(),
            formula: setting_name(&s.service_level_formula),
            value: ratio(f.service_level),
            exact: exact(f.service_level),
        },
        abandonment_rate: ratio(f.abandonment_rate),
        talk_seconds: total.talk_ms as f64 / 1000.0,
        average_talk_seconds: secs(f.average_talk),
        average_handle_seconds: secs(f.average_handle),
        longest_wait_seconds: f.longest_wait_ms.map(|ms| ms as f64 / 1000.0),
        calls_outside_hours: aggs.outside_hours(),
        // The verdicts are those of the phone channel's targets, none when it has none.
        targets: pv.verdicts.iter().map(target_line).collect(),
        days: per_day(&aggs, range, &s)
            .iter()
            .map(|d| day_line(d.date, &d.figures))
            .collect(),
        hours: per_hour_of_day(&aggs, range, &s)
            .iter()
            .map(|h| group_line(format!("{:02}:00", h.hour), &h.figures))
            .collect(),
        agents: per_agent(agent_aggs.as_ref().unwrap_or(&aggs), range, &s)
            .into_iter()
            .map(|a| group_line(name(a.agent), &a.figures))
            .collect(),
        queues: per_queue(&aggs, range, &s)
            .into_iter()
            .map(|q| group_line(name(q.queue), &q.figures))
            .collect(),
        heat_map: HeatMap {
            days: days.iter().map(ToString::to_string).collect(),
            mean_wait_seconds: mean_wait,
            offered,
        },
        wait_distribution,
        worst_intervals: worst,
        budget,
    };

    let chat = match contract.channel(ChannelKind::Chat) {
        Some(ch) if ch.enabled => {
            let conversations = store
                .chat_conversations_between(stored.id, start, end)
                .await?;
            let calendar = kefu_core::calendar::ServiceCalendar::new(
                ch.hours.hours.clone(),
                tz.clone(),
                holidays.clone(),
            );
            Some(chat_section(ch, &conversations, &calendar))
        }
        _ => None,
    };

    let staffing = if with_staffing {
        Some(
            crate::staffing::period_staffing(
                store,
                &stored,
                (period.first_day(), period.last_day()),
                (start, end),
                holidays.clone(),
                now,
            )
            .await?,
        )
    } else {
        None
    };

    Ok(QualityReport {
        schema: REPORT_SCHEMA,
        title: "客服服务质量评估报告",
        attachment: 8,
        period: period.to_string(),
        generated_at: jiff::Timestamp::from_second(now.as_second())
            .unwrap_or(now)
            .to_string(),
        complete,
        warnings,
        contract: ContractHeader {
            number: contract.number.clone(),
            title: contract.title.clone(),
            client: contract.parties.client.name.clone(),
            provider: contract.parties.provider.name.clone(),
            time_zone: tz.iana_name().unwrap_or("UTC").to_owned(),
            terms_of: pv.terms_of.to_string(),
            amendments_in_force: terms
                .amendments_in_force
                .iter()
                .map(|a| a.number.clone())
                .collect(),
        },
        channels: ChannelSections {
            phone: contract.channel(ChannelKind::Phone).map(|_| phone),
            chat,
        },
        data: DataSection { calls, imports },
        staffing,
        definitions: definitions(&s, contract),
    })
}
