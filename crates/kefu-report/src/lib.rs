//! kefu-report: renders the quality evaluation report (客服服务质量评估报告)
//! as one self-contained HTML page — no scripts, no external files — with
//! its charts as inline SVG, laid out for A4 printing. The same page is what
//! a PDF is printed from.

use std::fmt::Write;

use kefu_app::report::{ChatSection, DayLine, GroupLine, PhoneSection, QualityReport, TargetLine};

mod svg;
mod training;

pub use training::training_html;

/// Labels in the report's language.
struct L {
    en: bool,
}

impl L {
    fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        if self.en { en } else { zh }
    }
}

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".to_owned(), |v| format!("{:.2}%", v * 100.0))
}

fn sec(v: Option<f64>) -> String {
    v.map_or("—".to_owned(), |v| format!("{v:.2} s"))
}

fn hms(total_seconds: f64) -> String {
    let s = total_seconds.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

pub(crate) const STYLE: &str = r#"
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", sans-serif;
       color: #1d2630; margin: 0 auto; max-width: 190mm; font-size: 10.5pt; line-height: 1.45; }
h1 { font-size: 19pt; margin: 0 0 2mm; }
h2 { font-size: 13pt; margin: 7mm 0 2mm; border-bottom: 1.5px solid #1d4f7a; padding-bottom: 1mm; color: #1d4f7a; break-after: avoid; }
h3 { font-size: 11pt; margin: 4mm 0 1mm; break-after: avoid; }
.meta { color: #4a5866; font-size: 9.5pt; }
.meta td { padding: 0.3mm 3mm 0.3mm 0; vertical-align: top; }
table.grid { border-collapse: collapse; width: 100%; font-size: 9pt; margin: 1mm 0 2mm; break-inside: auto; }
table.grid th, table.grid td { border: 1px solid #c9d2db; padding: 1mm 1.5mm; text-align: right; }
table.grid th { background: #eef3f7; text-align: center; }
table.grid td.l, table.grid th.l { text-align: left; }
tr { break-inside: avoid; }
.met { color: #116329; font-weight: 600; }
.missed { color: #b3261e; font-weight: 600; }
.none { color: #6b7785; }
.badge { display: inline-block; padding: 0.3mm 2mm; border-radius: 2mm; font-size: 8.5pt; }
.badge.running { background: #fff4ce; color: #7a5b00; }
.badge.final { background: #e6f4ea; color: #116329; }
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 2mm; margin: 2mm 0; }
.kpi { border: 1px solid #c9d2db; border-radius: 1.5mm; padding: 1.5mm 2mm; break-inside: avoid; }
.kpi .v { font-size: 14pt; font-weight: 600; }
.kpi .k { font-size: 8.5pt; color: #4a5866; }
.chart { break-inside: avoid; margin: 1mm 0 3mm; }
.note { font-size: 8.5pt; color: #4a5866; }
dl.defs dt { font-weight: 600; margin-top: 1.5mm; }
dl.defs dd { margin: 0 0 0 4mm; }
"#;

/// The report as a complete HTML document; `en` chooses English labels (Chinese otherwise).
pub fn html(r: &QualityReport, en: bool) -> String {
    let l = L { en };
    let mut o = String::with_capacity(64 * 1024);
    let title = l.t(r.title, "Customer Service Quality Evaluation Report");
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{} {}</title><style>{STYLE}</style></head><body>",
        if en { "en" } else { "zh-CN" },
        esc(title),
        esc(&r.period)
    );
    let status = if r.complete {
        format!(
            "<span class=\"badge final\">{}</span>",
            l.t("本期已结束", "period complete")
        )
    } else {
        format!(
            "<span class=\"badge running\">{}</span>",
            l.t(
                "本期进行中:截至生成时的数据",
                "period running: figures so far"
            )
        )
    };
    let _ = write!(
        o,
        "<h1>{} · {}</h1><div class=\"meta\">{} {} · {status}</div>",
        esc(title),
        esc(&r.period),
        l.t("合同附件", "Contract attachment"),
        r.attachment
    );
    let c = &r.contract;
    let amendments = if c.amendments_in_force.is_empty() {
        l.t("无", "none").to_owned()
    } else {
        c.amendments_in_force.join(", ")
    };
    let rows: [(&str, String); 6] = [
        (
            l.t("合同编号", "Contract"),
            format!("{} {}", c.number, c.title),
        ),
        (l.t("甲方", "Client (甲方)"), c.client.clone()),
        (l.t("乙方", "Provider (乙方)"), c.provider.clone()),
        (l.t("适用条款", "Terms of"), c.terms_of.clone()),
        (l.t("生效的补充协议", "Amendments in force"), amendments),
        (
            l.t("时区 / 生成时间", "Time zone / generated"),
            format!("{} / {}", c.time_zone, r.generated_at),
        ),
    ];
    o.push_str("<table class=\"meta\">");
    for (k, v) in rows {
        let _ = write!(o, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(&v));
    }
    o.push_str("</table>");
    for w in &r.warnings {
        let _ = write!(o, "<p class=\"missed\">⚠ {}</p>", esc(w));
    }

    match &r.channels.phone {
        Some(p) => phone(&mut o, p, &l),
        None => {
            let _ = write!(
                o,
                "<p>{}</p>",
                l.t(
                    "本合同不含电话客服。",
                    "This contract has no phone channel."
                )
            );
        }
    }

    if let Some(c) = &r.channels.chat {
        chat(&mut o, c, &l);
    }
    if let Some(st) = &r.staffing {
        staffing(&mut o, st, &l);
    }

    // Data completeness.
    let _ = write!(o, "<h2>{}</h2>", l.t("数据完整性", "Data completeness"));
    let _ = write!(
        o,
        "<p>{} <b>{}</b>.</p>",
        l.t("本期读取的来电记录数:", "Call records read for the period:"),
        r.data.calls
    );
    if r.data.imports.is_empty() {
        let _ = write!(
            o,
            "<p class=\"note\">{}</p>",
            l.t("尚无导入记录。", "No imports yet.")
        );
    } else {
        let _ = write!(
            o,
            "<table class=\"grid\"><tr><th class=\"l\">{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            l.t("来源文件", "Source"),
            l.t("格式", "Format"),
            l.t("状态", "State"),
            l.t("入库来电", "Calls stored"),
            l.t("拒收行", "Rows rejected"),
            l.t("跳过行", "Rows skipped")
        );
        for i in &r.data.imports {
            let _ = write!(
                o,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                esc(&i.source),
                esc(&i.format),
                esc(&i.state),
                i.calls_stored,
                if i.rows_rejected > 0 { "missed" } else { "" },
                i.rows_rejected,
                i.rows_skipped
            );
        }
        o.push_str("</table>");
        let _ = write!(
            o,
            "<p class=\"note\">{}</p>",
            l.t(
                "拒收行的原因与行号见导入时的输出及 --errors 文件;拒收行不计入任何指标。",
                "Why each row was rejected (with its line number) is in the import's output and its --errors file; rejected rows count in no figure."
            )
        );
    }

    let _ = write!(
        o,
        "<h2>{}</h2><dl class=\"defs\">",
        l.t("指标定义", "Definitions used")
    );
    for d in &r.definitions {
        let _ = write!(
            o,
            "<dt>{}</dt><dd>{}</dd>",
            esc(term_name(&d.term, &l)),
            esc(if en { &d.en } else { &d.zh })
        );
    }
    o.push_str("</dl></body></html>\n");
    o
}

fn phone(o: &mut String, p: &PhoneSection, l: &L) {
    verdicts(
        o,
        l.t(
            "结论(条款 4.1.1 电话客服)",
            "Verdicts (clause 4.1.1, phone)",
        ),
        l.t(
            "合同未约定电话指标。",
            "The contract sets no phone targets.",
        ),
        &p.targets,
        l,
    );

    if !p.budget.is_empty() {
        let _ = write!(
            o,
            "<h3>{}</h3><ul>",
            l.t("本期剩余预算", "What the rest of the period must bring")
        );
        for b in &p.budget {
            let _ = write!(
                o,
                "<li>[{}] {}: {} <span class=\"note\">({} {})</span></li>",
                esc(&b.clause),
                esc(metric_name(&b.metric, l)),
                esc(l.t(&b.text_zh, &b.text)),
                l.t("预计剩余来电", "expected remaining calls"),
                b.remaining_offered_forecast
            );
        }
        o.push_str("</ul>");
    }

    let _ = write!(
        o,
        "<h2>{}</h2><div class=\"kpis\">",
        l.t("本期汇总", "Period summary")
    );
    let kpis: [(&str, String); 12] = [
        (l.t("呼入量", "Offered"), p.offered.to_string()),
        (l.t("接通", "Answered"), p.answered.to_string()),
        (l.t("放弃", "Abandoned"), p.abandoned.to_string()),
        (
            l.t("短时放弃", "Short abandons"),
            format!("{} (&lt; {} s)", p.short_abandoned, p.short_abandon_seconds),
        ),
        (l.t("接通率", "Connection rate"), pct(p.connection_rate)),
        (
            l.t("平均响应时间", "Avg speed of answer"),
            sec(p.asa_seconds),
        ),
        (
            l.t("服务水平", "Service level"),
            format!(
                "{} ({} s)",
                pct(p.service_level.value),
                p.service_level.threshold_seconds
            ),
        ),
        (l.t("放弃率", "Abandonment rate"), pct(p.abandonment_rate)),
        (l.t("通话总时长", "Talk time"), hms(p.talk_seconds)),
        (
            l.t("平均通话时长", "Avg talk time"),
            sec(p.average_talk_seconds),
        ),
        (l.t("最长等待", "Longest wait"), sec(p.longest_wait_seconds)),
        (
            l.t("超时/无坐席/按键离开", "Timeout / empty / key exits"),
            format!("{} / {} / {}", p.timed_out, p.no_agents, p.exited_with_key),
        ),
    ];
    for (k, v) in kpis {
        // `v` may hold the &lt; entity written above; everything else is plain digits.
        let _ = write!(
            o,
            "<div class=\"kpi\"><div class=\"v\">{v}</div><div class=\"k\">{}</div></div>",
            esc(k)
        );
    }
    o.push_str("</div>");
    if let Some(e) = &p.connection_rate_exact {
        let _ = write!(
            o,
            "<p class=\"note\">{} {} / {} ({}). {} {} ms / {}.</p>",
            l.t("接通率精确值:", "Connection rate exactly:"),
            e.numerator,
            e.denominator,
            esc(&p.connection_rate_formula),
            l.t("平均响应时间精确值:", "ASA exactly:"),
            p.asa_exact.map_or(0, |a| a.numerator),
            p.asa_exact.map_or(0, |a| a.denominator)
        );
    }

    // Trends.
    let _ = write!(o, "<h2>{}</h2>", l.t("每日趋势", "Daily trends"));
    let target_of = |metric: &str| {
        p.targets
            .iter()
            .find(|t| t.metric == metric)
            .map(|t| t.target)
    };
    let days: Vec<&DayLine> = p.days.iter().collect();
    let labels: Vec<String> = days.iter().map(|d| d.date[8..].to_owned()).collect();
    chart(
        o,
        l.t(
            "接通率(%)与目标线",
            "Connection rate (%) with the target line",
        ),
        &svg::line_chart(
            &labels,
            &days
                .iter()
                .map(|d| d.connection_rate.map(|v| v * 100.0))
                .collect::<Vec<_>>(),
            target_of("connection_rate").map(|t| t * 100.0),
            svg::Axis::Percent,
        ),
    );
    chart(
        o,
        l.t(
            "平均响应时间(秒)与目标线",
            "Average speed of answer (s) with the target line",
        ),
        &svg::line_chart(
            &labels,
            &days.iter().map(|d| d.asa_seconds).collect::<Vec<_>>(),
            target_of("average_speed_of_answer"),
            svg::Axis::Seconds,
        ),
    );
    chart(
        o,
        &format!(
            "{} ({} s)",
            l.t(
                "服务水平(%)与目标线",
                "Service level (%) with the target line"
            ),
            p.service_level.threshold_seconds
        ),
        &svg::line_chart(
            &labels,
            &days
                .iter()
                .map(|d| d.service_level.map(|v| v * 100.0))
                .collect::<Vec<_>>(),
            target_of("service_level").map(|t| t * 100.0),
            svg::Axis::Percent,
        ),
    );
    chart(
        o,
        l.t("每日呼入量", "Calls offered per day"),
        &svg::bar_chart(
            &labels,
            &days.iter().map(|d| d.offered as f64).collect::<Vec<_>>(),
        ),
    );

    let _ = write!(o, "<h2>{}</h2>", l.t("等待时间", "Waiting"));
    chart(
        o,
        l.t(
            "每日各时段平均等待(秒):热力图",
            "Mean wait of answered calls (s), day × hour of day",
        ),
        &svg::heat_map(&p.heat_map),
    );
    let band_labels: Vec<String> = p
        .wait_distribution
        .iter()
        .map(|b| match b.to_seconds {
            Some(t) => format!("{}–{}s", b.from_seconds, t),
            None => format!("≥{}s", b.from_seconds),
        })
        .collect();
    chart(
        o,
        l.t(
            "等待时间分布(接通 / 放弃)",
            "Distribution of waits (answered / abandoned)",
        ),
        &svg::paired_bars(
            &band_labels,
            &p.wait_distribution
                .iter()
                .map(|b| b.answered as f64)
                .collect::<Vec<_>>(),
            &p.wait_distribution
                .iter()
                .map(|b| b.abandoned as f64)
                .collect::<Vec<_>>(),
            (l.t("接通", "answered"), l.t("放弃", "abandoned")),
        ),
    );

    group_table(
        o,
        l,
        l.t(
            "最差时段(服务水平最低的半小时,呼入 ≥ 5)",
            "Worst intervals (lowest service level, at least 5 offered)",
        ),
        l.t("时段", "Interval"),
        &p.worst_intervals,
    );
    agent_table(o, l, &p.agents);
    group_table(o, l, l.t("队列", "Queues"), l.t("队列", "Queue"), &p.queues);
    group_table(
        o,
        l,
        l.t("按小时", "By hour of day"),
        l.t("小时", "Hour"),
        &p.hours,
    );
    let _ = write!(
        o,
        "<p class=\"note\">{} {}</p>",
        l.t(
            "服务时间外来电(不计入指标):",
            "Calls outside service hours (not counted):"
        ),
        p.calls_outside_hours
    );
}

/// The verdict per clause: target, measured value, met or missed.
/// A section's heading and its verdict table (or `none` when there are no targets).
fn verdicts(o: &mut String, heading: &str, none: &str, targets: &[TargetLine], l: &L) {
    let _ = write!(o, "<h2>{}</h2>", esc(heading));
    if targets.is_empty() {
        let _ = write!(o, "<p>{}</p>", esc(none));
    } else {
        verdict_table(o, targets, l);
    }
}

/// A two-column table of labelled figures.
fn key_values(o: &mut String, rows: &[(&str, String)]) {
    o.push_str("<table class=\"grid\">");
    for (k, v) in rows {
        let _ = write!(
            o,
            "<tr><td class=\"l\">{}</td><td>{}</td></tr>",
            esc(k),
            esc(v)
        );
    }
    o.push_str("</table>");
}

fn verdict_table(o: &mut String, targets: &[TargetLine], l: &L) {
    let _ = write!(
        o,
        "<table class=\"grid\"><tr><th>{}</th><th class=\"l\">{}</th><th>{}</th><th>{}</th><th>{}</th><th class=\"l\">{}</th></tr>",
        l.t("条款", "Clause"),
        l.t("指标", "Metric"),
        l.t("目标", "Target"),
        l.t("实测", "Measured"),
        l.t("结论", "Verdict"),
        l.t("说明", "Note")
    );
    for t in targets {
        let (class, verdict) = match t.met {
            Some(true) => ("met", l.t("达标", "met")),
            Some(false) => ("missed", l.t("未达标", "missed")),
            None => ("none", l.t("无数据", "no data")),
        };
        let mut note = t.shortfall.clone().unwrap_or_default();
        if !t.binding {
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str(l.t(
                "仅供监控(合同按日考核)",
                "for monitoring (the contract judges it per day)",
            ));
        }
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{verdict}</td><td class=\"l\">{}</td></tr>",
            esc(&t.clause),
            esc(metric_name(&t.metric, l)),
            esc(&t.target_text),
            esc(t.value_text.as_deref().unwrap_or("—")),
            esc(&note)
        );
    }
    o.push_str("</table>");
}

/// Clause 2.2, enough staff: service not provided per channel, and the phone's agents on duty
/// against what its traffic required.
fn staffing(o: &mut String, st: &kefu_app::staffing::PeriodStaffing, l: &L) {
    let _ = write!(
        o,
        "<h2>{} {})</h2><p>{} <b class=\"{}\">{}</b></p>",
        l.t("人员配备(条款", "Staffing (clause"),
        esc(&st.clause),
        l.t("结论:", "Verdict:"),
        if st.met { "met" } else { "missed" },
        if st.met {
            l.t(
                "达标:服务时间内始终有人值班,且不低于最少人数",
                "met: someone on duty throughout service hours, never below the minimum",
            )
        } else {
            l.t("未达标", "missed")
        }
    );
    o.push_str("<table class=\"grid\"><tr><th>");
    let _ = write!(
        o,
        "{}</th><th>{}</th><th>{}</th></tr>",
        l.t("渠道", "Channel"),
        l.t("最少值班人数", "Minimum on duty"),
        l.t("无人值班(分钟)", "Not provided (minutes)")
    );
    for (ch, min) in &st.min_agents {
        let _ = write!(
            o,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(channel_label(ch, l)),
            min,
            st.not_provided_minutes.get(ch).copied().unwrap_or(0)
        );
    }
    o.push_str("</table>");
    let _ = write!(
        o,
        "<p class=\"note\">{} {} {}</p>",
        l.t(
            "服务时间内连续无人值班达到",
            "Service counts as not provided after nobody is on duty inside service hours for"
        ),
        st.not_provided_after_minutes,
        l.t("分钟即记为服务未提供。", "minutes.")
    );
    if let Some(p) = &st.phone {
        let rows: [(&str, String); 5] = [
            (
                l.t("计算模型", "Model"),
                format!(
                    "{}{}",
                    p.model,
                    p.patience_seconds
                        .map(|x| format!(" ({} {x:.0} s)", l.t("耐心", "patience")))
                        .unwrap_or_default()
                ),
            ),
            (
                l.t("服务时段数", "Intervals in service hours"),
                p.intervals_open.to_string(),
            ),
            (
                l.t("低于最少人数的时段", "Intervals below the minimum"),
                p.intervals_below_minimum.to_string(),
            ),
            (
                l.t(
                    "人手少于话务所需的时段",
                    "Intervals with fewer agents than the traffic needed",
                ),
                p.intervals_short.to_string(),
            ),
            (
                l.t("缺少的坐席工时", "Agent-hours missing"),
                format!("{:.1}", p.shortage_agent_hours),
            ),
        ];
        let _ = write!(o, "<h3>{}</h3>", l.t("电话坐席配备", "Phone agents"));
        key_values(o, &rows);
        if !p.worst.is_empty() {
            let _ = write!(
                o,
                "<table class=\"grid\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                l.t("时段", "Interval"),
                l.t("来电", "Calls"),
                l.t("需要坐席", "Required"),
                l.t("在岗", "On duty"),
                l.t("缺口", "Short")
            );
            for s in &p.worst {
                let _ = write!(
                    o,
                    "<tr><td class=\"l\">{}</td><td>{:.0}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td></tr>",
                    esc(&s.start.replace('T', " ")),
                    s.forecast_contacts,
                    s.required_agents,
                    s.on_duty.unwrap_or(0.0),
                    s.shortage.unwrap_or(0.0)
                );
            }
            o.push_str("</table>");
        }
    }
    if !st.service_not_provided.is_empty() {
        let _ = write!(
            o,
            "<h3>{}</h3><table class=\"grid\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            l.t("服务未提供时段", "Service not provided"),
            l.t("渠道", "Channel"),
            l.t("自", "From"),
            l.t("至", "To"),
            l.t("分钟", "Minutes")
        );
        for n in st.service_not_provided.iter().take(50) {
            let _ = write!(
                o,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(channel_label(n.channel, l)),
                esc(&n.from),
                esc(&n.to),
                n.minutes
            );
        }
        o.push_str("</table>");
        if st.service_not_provided.len() > 50 {
            let _ = write!(
                o,
                "<p class=\"note\">{} {}</p>",
                st.service_not_provided.len() - 50,
                l.t("个时段未列出(见 JSON)。", "more stretches in the JSON.")
            );
        }
    }
}

fn channel_label<'a>(key: &'a str, l: &L) -> &'a str {
    match key {
        "phone" => l.t("电话客服", "Phone"),
        "chat" => l.t("在线客服", "Online chat"),
        "email" => l.t("邮件客服", "Email"),
        "onsite" => l.t("现场客服", "On-site"),
        other => other,
    }
}

/// The online chat channel: verdicts and the period's figures.
fn chat(o: &mut String, c: &ChatSection, l: &L) {
    verdicts(
        o,
        l.t(
            "结论(条款 4.1.2 在线客服)",
            "Verdicts (clause 4.1.2, online chat)",
        ),
        l.t(
            "合同未约定在线客服指标。",
            "The contract sets no chat targets.",
        ),
        &c.targets,
        l,
    );
    let rows: [(&str, String); 9] = [
        (l.t("会话数", "Conversations"), c.conversations.to_string()),
        (l.t("已应答会话", "Answered"), c.answered.to_string()),
        (l.t("未应答会话", "Unanswered"), c.unanswered.to_string()),
        (l.t("计时轮次", "Turns timed"), c.turns.to_string()),
        (
            l.t("平均响应时间", "Average response time"),
            sec(c.average_response_seconds),
        ),
        (
            l.t("最长响应时间", "Longest response"),
            sec(c.longest_response_seconds),
        ),
        (
            l.t("目标时间内响应", "Responses within target"),
            pct(c.within_target),
        ),
        (
            l.t("平均首次响应", "Average first response"),
            sec(c.average_first_response_seconds),
        ),
        (
            l.t("满意度评价(1–5)", "Satisfaction (1–5)"),
            match c.average_rating {
                Some(r) => format!("{r:.2} ({} {})", c.ratings, l.t("条", "ratings")),
                None => "—".to_owned(),
            },
        ),
    ];
    key_values(o, &rows);
    if c.turns_outside_hours > 0 {
        let _ = write!(
            o,
            "<p class=\"note\">{} {}</p>",
            c.turns_outside_hours,
            l.t(
                "个轮次始于服务时间之外,未计入平均。",
                "turns began outside service hours and are left out of the averages."
            )
        );
    }
}

fn term_name<'a>(term: &'a str, l: &L) -> &'a str {
    match term {
        "offered" => l.t("呼入量", "Offered"),
        "abandoned" => l.t("放弃", "Abandoned"),
        "billing_period" => l.t("考核周期", "Billing period"),
        other => metric_name(other, l),
    }
}

fn metric_name<'a>(m: &'a str, l: &L) -> &'a str {
    match m {
        "connection_rate" => l.t("接通率", "Connection rate"),
        "average_speed_of_answer" => l.t("平均响应时间", "Average speed of answer"),
        "service_level" => l.t("服务水平", "Service level"),
        "average_response_time" => l.t("平均响应时间", "Average response time"),
        other => other,
    }
}

fn chart(o: &mut String, caption: &str, svg: &str) {
    let _ = write!(
        o,
        "<div class=\"chart\"><h3>{}</h3>{svg}</div>",
        esc(caption)
    );
}

/// Agents answer calls; offered and abandoned belong to the queue, so an agent's row shows
/// what the agent did. Calls nobody answered are counted under the queues.
fn agent_table(o: &mut String, l: &L, rows: &[GroupLine]) {
    let _ = write!(o, "<h3>{}</h3>", l.t("坐席", "Agents"));
    let agents: Vec<&GroupLine> = rows.iter().filter(|g| g.name != "—").collect();
    if agents.is_empty() {
        let _ = write!(o, "<p class=\"note\">{}</p>", l.t("无", "none"));
        return;
    }
    let _ = write!(
        o,
        "<table class=\"grid\"><tr><th class=\"l\">{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        l.t("坐席", "Agent"),
        l.t("接听", "Answered"),
        l.t("平均响应", "ASA"),
        l.t("服务水平内接听", "Within service level"),
        l.t("平均通话", "Avg talk"),
        l.t("通话总时长", "Talk time")
    );
    for g in agents {
        let _ = write!(
            o,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&g.name),
            g.answered,
            sec(g.asa_seconds),
            pct(g.service_level),
            sec(g.average_talk_seconds),
            hms(g.talk_seconds)
        );
    }
    o.push_str("</table>");
}

fn group_table(o: &mut String, l: &L, title: &str, first: &str, rows: &[GroupLine]) {
    let _ = write!(o, "<h3>{}</h3>", esc(title));
    if rows.is_empty() {
        let _ = write!(o, "<p class=\"note\">{}</p>", l.t("无", "none"));
        return;
    }
    let _ = write!(
        o,
        "<table class=\"grid\"><tr><th class=\"l\">{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(first),
        l.t("呼入", "Offered"),
        l.t("接通", "Answered"),
        l.t("放弃", "Abandoned"),
        l.t("接通率", "Conn. rate"),
        l.t("平均响应", "ASA"),
        l.t("服务水平", "Service level"),
        l.t("平均通话", "Avg talk")
    );
    for g in rows {
        let _ = write!(
            o,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&g.name),
            g.offered,
            g.answered,
            g.abandoned,
            pct(g.connection_rate),
            sec(g.asa_seconds),
            pct(g.service_level),
            sec(g.average_talk_seconds)
        );
    }
    o.push_str("</table>");
}
