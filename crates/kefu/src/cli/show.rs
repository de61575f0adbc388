//! The human-readable form of the terms in force on a day. Settings changed
//! by an amendment are marked `*` and listed with their amendment article.

use std::fmt::Write;

use kefu_core::calendar::ServiceHours;
use kefu_core::contract::{
    Channel, Contract, Metric, Party, PenaltyFormula, Step, Terms, setting_name,
};

pub(crate) fn terms_text(t: &Terms<'_>) -> String {
    let c: &Contract = t.contract;
    let mut o = String::new();
    let mark = |key: &str| -> &'static str {
        if t.amended_settings
            .iter()
            .any(|s| s.key == key || s.key.starts_with(&format!("{key}.")))
        {
            " *"
        } else {
            ""
        }
    };
    let _ = writeln!(o, "{} {}", c.number, c.title);
    let _ = writeln!(
        o,
        "Terms in force on {} — contract runs {} to {} ({} years, {}), signed {}{}",
        t.on,
        c.effective_from,
        c.ends_on,
        c.term_years,
        c.time_zone.iana_name().unwrap_or("UTC"),
        c.signed_on,
        c.signed_at
            .as_deref()
            .map(|p| format!(" at {p}"))
            .unwrap_or_default()
    );
    if t.amendments_in_force.is_empty() {
        let _ = writeln!(o, "Amendments in force: none");
    } else {
        let _ = writeln!(o, "Amendments in force:");
        for a in &t.amendments_in_force {
            let _ = writeln!(
                o,
                "  {} {} (from {}, signed {})",
                a.number, a.title, a.effective_from, a.signed_on
            );
        }
    }
    let party = |o: &mut String, label: &str, p: &Party| {
        let _ = writeln!(
            o,
            "{label} {} — {}; {} {}",
            p.name, p.address, p.contact, p.phone
        );
    };
    party(&mut o, "甲方", &c.parties.client);
    party(&mut o, "乙方", &c.parties.provider);

    let _ = writeln!(o, "\nChannels");
    for (kind, ch) in c.channels.iter() {
        let k = kind.key();
        channel_text(&mut o, ch, &c.billing.currency, |sub| {
            mark(&format!("channels.{k}.{sub}"))
        });
    }

    let b = &c.billing;
    let _ = writeln!(o, "\nBilling ({})", b.clause);
    let _ = writeln!(
        o,
        "  {} · VAT {}{} · invoice on day {} · due after {} days{} · late payment {} per day{}{} · rounding {}",
        b.currency,
        b.vat_rate,
        mark("billing.vat_rate"),
        b.invoice_day,
        b.payment_days,
        mark("billing.payment_days"),
        b.late_payment_daily_rate,
        mark("billing.late_payment_daily_rate"),
        b.late_payment_cap
            .map(|p| format!(", capped at {p}"))
            .unwrap_or_default(),
        setting_name(&b.rounding)
    );

    let _ = writeln!(o, "\nPenalties (违约金)");
    for (i, p) in c.penalties.iter().enumerate() {
        let formula = match &p.formula {
            PenaltyFormula::PercentOfFeePerStep { rate, step } => {
                let step = match step {
                    Step::Points(s) if s.points() == rust_decimal::Decimal::ONE => {
                        "percentage point".to_owned()
                    }
                    Step::Points(s) => format!("{} percentage points", s.points()),
                    Step::Time(d) if d.as_millis() == 1000 => "second".to_owned(),
                    Step::Time(d) => d.to_string(),
                };
                format!("{rate} of the channel's monthly fee per started {step} of shortfall")
            }
            PenaltyFormula::PerViolation { amount } => {
                format!("{amount} {} per violation", c.billing.currency)
            }
            PenaltyFormula::Fixed { amount } => {
                format!("{amount} {} per breach", c.billing.currency)
            }
        };
        let target = p
            .target
            .as_ref()
            .map(|t| format!(" {t}"))
            .unwrap_or_default();
        let cap = p.cap.map(|c| format!(", cap {c}")).unwrap_or_default();
        let _ = writeln!(
            o,
            "  [{}] {}{target}: {formula}{cap}{}",
            p.clause,
            setting_name(&p.breach),
            mark(&format!("penalties.{i}"))
        );
    }

    let s = &c.staff;
    let _ = writeln!(o, "\nStaff ({})", s.clause);
    let _ = writeln!(
        o,
        "  NDA required: {} · training every {} · assessment every {}, pass ≥ {}",
        if s.nda_required { "yes" } else { "no" },
        s.training_interval,
        s.assessment_interval,
        s.assessment_pass_score
    );
    for (k, certs) in &s.certificates {
        let _ = writeln!(o, "  certificates for {}: {}", k.key(), certs.join(", "));
    }
    let st = &c.staffing;
    let mins: Vec<String> = st
        .min_agents
        .iter()
        .map(|(k, n)| format!("{} {n}", k.key()))
        .collect();
    let _ = writeln!(
        o,
        "Staffing ({}): {} intervals, service not provided after {} without an agent; minimum on duty: {}",
        st.clause,
        st.interval,
        st.not_provided_after,
        mins.join(", ")
    );
    let cf = &c.confidentiality;
    let _ = writeln!(
        o,
        "Confidentiality ({}): masked by default: {}, unmasking needs a reason: {}, incidents reported within {}",
        cf.clause, cf.mask_by_default, cf.unmask_requires_reason, cf.incident_report_within
    );
    let d = &c.disputes;
    let _ = writeln!(
        o,
        "Disputes ({}): negotiate for {}, then {}",
        d.clause, d.negotiation_period, d.venue
    );
    let _ = writeln!(o, "\nAttachments (附录一)");
    for a in &c.attachments {
        let _ = writeln!(
            o,
            "  {:>2}. {}{}",
            a.no,
            a.title,
            if a.generated_by_kefu {
                " (generated by kefu)"
            } else {
                ""
            }
        );
    }
    if !t.amended_settings.is_empty() {
        let _ = writeln!(o, "\n* amended:");
        for s in t.amended_settings {
            let _ = writeln!(
                o,
                "  {} = {} — {} {} (amends clause {}), from {}",
                s.key, s.value, s.amendment, s.article, s.amends_clause, s.effective_from
            );
        }
    }
    o
}

fn channel_text(o: &mut String, ch: &Channel, currency: &str, mark: impl Fn(&str) -> &'static str) {
    let hours = match &ch.hours.hours {
        ServiceHours::Always => "24×7".to_string(),
        ServiceHours::Daily(ws) => format!("daily {}", join(ws)),
        ServiceHours::WorkingDays(ws) => format!("working days {}", join(ws)),
        ServiceHours::Weekly(days) => {
            let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
            names
                .iter()
                .zip(days.iter())
                .filter(|(_, ws)| !ws.is_empty())
                .map(|(n, ws)| format!("{n} {}", join(ws)))
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    let _ = writeln!(
        o,
        "  {} {} [{}]{}: hours {} [{}]{}",
        ch.kind.key(),
        ch.kind.label_zh(),
        ch.clause,
        if ch.enabled { "" } else { " (disabled)" },
        hours,
        ch.hours.clause,
        mark("hours")
    );
    for t in &ch.targets {
        let text = match &t.metric {
            Metric::ConnectionRate {
                min,
                formula,
                short_abandon,
            } => {
                format!(
                    "connection rate ≥ {min} ({}, short abandon < {short_abandon})",
                    setting_name(formula)
                )
            }
            Metric::AverageSpeedOfAnswer { max } => format!("average speed of answer ≤ {max}"),
            Metric::ServiceLevel {
                min,
                within,
                formula,
            } => format!(
                "service level ≥ {min} within {within} ({})",
                setting_name(formula)
            ),
            Metric::ChatResponseTime {
                max,
                definition,
                include_automatic_replies,
            } => format!(
                "average response time ≤ {max} ({}{})",
                setting_name(definition),
                if *include_automatic_replies {
                    ", automatic replies count"
                } else {
                    ""
                }
            ),
            Metric::EmailReplyTime {
                max,
                clock,
                min_share,
            } => format!(
                "{min_share} of emails replied within {max} ({} clock)",
                setting_name(clock)
            ),
            Metric::AnswerAccuracy { min, confidence } => {
                format!("answer accuracy ≥ {min} (judged at {confidence} confidence)")
            }
        };
        let _ = writeln!(
            o,
            "      target [{}] {text}, assessed per {}{}",
            t.clause,
            setting_name(&t.assessed),
            mark(&format!("targets.{}", t.name()))
        );
    }
    let f = &ch.fee;
    let inc = match (f.increment, f.increment_rounding) {
        (Some(i), Some(r)) => format!(", each item rounded {} to {i}", setting_name(&r)),
        _ => String::new(),
    };
    let _ = writeln!(
        o,
        "      fee [{}] {} {currency} per {}{inc}{}",
        f.clause,
        f.rate,
        setting_name(&f.unit),
        mark("fee")
    );
}

fn join(ws: &[kefu_core::calendar::Window]) -> String {
    ws.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
