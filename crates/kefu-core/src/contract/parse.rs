//! Reading a contract document (a located TOML tree) into [`Contract`],
//! checking every rule on the way and reporting every failure with its place.

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::model::*;
use super::reader::{
    Obj, amount, array, boolean, date, did_you_mean, duration, integer, one_of, percent,
    quote_list, string,
};
use super::source::{Loc, Report};
use super::tree::{Node, Table, Value};
use super::units::{Duration, Percent};
use crate::calendar::{HolidayCalendar, ServiceHours, Window, validate_windows};

/// The format version this build reads (`kefu = 1` at the top of a document).
pub const FORMAT_VERSION: i64 = 1;

/// What the reader returns besides the contract: the amendment files it lists.
pub(crate) struct BaseExtras {
    pub(crate) amendment_paths: Vec<(String, Loc)>,
}

pub(crate) fn read_contract(
    root: &Table,
    file_loc: Loc,
    r: &mut Report<'_>,
    holidays: &HolidayCalendar,
) -> (Option<Contract>, BaseExtras) {
    let top = Obj::new(root, "", file_loc);
    let mut extras = BaseExtras {
        amendment_paths: Vec::new(),
    };
    top.req(
        r,
        "kefu",
        "the document format version, `kefu = 1`",
        |r, n, p| {
            let v = integer(
                r,
                n,
                p,
                FORMAT_VERSION,
                FORMAT_VERSION,
                "the format version",
            )?;
            Some(v)
        },
    );

    let head = top.req_table(r, "contract", "the contract's number, dates and term");
    let mut head_fields = None;
    if let Some(c) = head {
        head_fields = read_head(&c, r, &mut extras);
        c.finish(r);
    }

    let parties = top.req_table(r, "parties", "甲方 and 乙方").and_then(|p| {
        let client = p
            .req_table(r, "client", "甲方, the telecom client")
            .and_then(|o| read_party(o, r));
        let provider = p
            .req_table(r, "provider", "乙方, the service provider")
            .and_then(|o| read_party(o, r));
        p.finish(r);
        Some(Parties {
            client: client?,
            provider: provider?,
        })
    });

    let channels = top
        .req_table(r, "channels", "the service channels of clause 1.1")
        .and_then(|c| read_channels(c, r));

    let satisfaction = top
        .opt_table(r, "satisfaction", "the satisfaction survey of clause 1.2")
        .and_then(|o| read_satisfaction(o, r));
    let billing = top
        .req_table(r, "billing", "invoicing and payment terms of clause 6.2")
        .and_then(|o| read_billing(o, r));
    let penalties = top.opt(r, "penalties", |r, n, p| {
        array(r, n, p, "an array of [[penalties]] tables", |r, n, p| {
            let (t, loc) = super::reader::table(r, n, p, "a [[penalties]] table")?;
            read_penalty(Obj::new(t, p, loc), r)
        })
    });
    let staff = top
        .req_table(r, "staff", "the staff policy of chapter 3")
        .and_then(|o| read_staff(o, r));
    let staffing = top
        .req_table(r, "staffing", "the staffing rules of clause 2.2")
        .and_then(|o| read_staffing(o, r));
    let confidentiality = top
        .req_table(
            r,
            "confidentiality",
            "the confidentiality terms of chapter 5",
        )
        .and_then(|o| read_confidentiality(o, r));
    let disputes = top
        .req_table(r, "disputes", "dispute resolution of chapter 8")
        .and_then(|o| read_disputes(o, r));
    let attachments = top.req(
        r,
        "attachments",
        "the attachment list of 附录一, as [[attachments]]",
        read_attachments,
    );
    top.finish(r);

    let contract = (|| {
        let h = head_fields?;
        let contract = Contract {
            number: h.number,
            title: h.title,
            signed_on: h.signed_on,
            signed_at: h.signed_at,
            effective_from: h.effective_from,
            term_years: h.term_years,
            ends_on: h.ends_on,
            time_zone: h.time_zone,
            governing_law: h.governing_law,
            parties: parties?,
            channels: channels?,
            satisfaction,
            billing: billing?,
            penalties: penalties.unwrap_or_default(),
            staff: staff?,
            staffing: staffing?,
            confidentiality: confidentiality?,
            disputes: disputes?,
            attachments: attachments?,
        };
        Some(contract)
    })();

    let contract = contract.and_then(|c| cross_check(c, root, file_loc, r, holidays));
    (contract, extras)
}

struct Head {
    number: String,
    title: String,
    signed_on: Date,
    signed_at: Option<String>,
    effective_from: Date,
    term_years: u8,
    ends_on: Date,
    time_zone: jiff::tz::TimeZone,
    governing_law: String,
}

fn read_head(c: &Obj<'_>, r: &mut Report<'_>, extras: &mut BaseExtras) -> Option<Head> {
    let number = c.req_str(r, "number", "the contract number (合同编号)");
    let title = c.req_str(r, "title", "the contract title");
    let signed_on = c.req(r, "signed_on", "the signing date", date);
    let signed_at = c.opt_str(r, "signed_at", "the place of signing (合同签订地)");
    let effective_from = c.req(
        r,
        "effective_from",
        "the date the contract takes effect (9.2)",
        date,
    );
    let term_years = c.req(r, "term_years", "the term in years (9.2)", |r, n, p| {
        integer(r, n, p, 1, 30, "a number of years").map(|v| v as u8)
    });
    let tz_node = c.node("time_zone");
    let time_zone = match tz_node {
        None => jiff::tz::TimeZone::get("Asia/Shanghai").ok(),
        Some(n) => match string(
            r,
            n,
            &c.key_path("time_zone"),
            "an IANA time zone name like \"Asia/Shanghai\"",
        ) {
            None => None,
            Some(name) => match jiff::tz::TimeZone::get(&name) {
                Ok(tz) => Some(tz),
                Err(_) => {
                    r.error(
                        n.loc,
                        &c.key_path("time_zone"),
                        format!("expected an IANA time zone name like \"Asia/Shanghai\", found \"{name}\""),
                    );
                    None
                }
            },
        },
    };
    let governing_law = c
        .opt_str(r, "governing_law", "the governing law (8.1)")
        .unwrap_or_else(|| "中华人民共和国法律".to_string());
    if let Some(list) = c.opt(r, "amendments", |r, n, p| {
        array(r, n, p, "a list of amendment file paths", |r, n, p| {
            string(r, n, p, "a file path relative to this document").map(|s| (s, n.loc))
        })
    }) {
        extras.amendment_paths = list;
    }
    let (signed_on, effective_from, term_years) = (signed_on?, effective_from?, term_years?);
    if effective_from < signed_on {
        if let Some(n) = c.node("effective_from") {
            r.error(
                n.loc,
                &c.key_path("effective_from"),
                format!("the contract takes effect on {effective_from}, before it is signed on {signed_on} (clause 9.2: effective from signing)"),
            );
        }
        return None;
    }
    // The day before the start, N years on: a term from 2028-02-29 for one year
    // ends on 2029-02-28, not a day early.
    let ends_on = effective_from
        .checked_sub(jiff::Span::new().days(1))
        .and_then(|d| d.checked_add(jiff::Span::new().years(i64::from(term_years))))
        .ok()?;
    Some(Head {
        number: number?,
        title: title?,
        signed_on,
        signed_at,
        effective_from,
        term_years,
        ends_on,
        time_zone: time_zone?,
        governing_law,
    })
}

fn read_party(o: Obj<'_>, r: &mut Report<'_>) -> Option<Party> {
    let name = o.req_str(r, "name", "the party's registered name");
    let address = o.req_str(r, "address", "the party's address");
    let contact = o.req_str(r, "contact", "the contact person");
    let phone = o.req_str(r, "phone", "the contact phone number");
    o.finish(r);
    Some(Party {
        name: name?,
        address: address?,
        contact: contact?,
        phone: phone?,
    })
}

const CHANNEL_NAMES: [(&str, ChannelKind); 4] = [
    ("phone", ChannelKind::Phone),
    ("chat", ChannelKind::Chat),
    ("email", ChannelKind::Email),
    ("onsite", ChannelKind::Onsite),
];

fn channel_key(r: &mut Report<'_>, key: &super::tree::Key, path: &str) -> Option<ChannelKind> {
    if let Some((_, k)) = CHANNEL_NAMES.iter().find(|(n, _)| *n == key.name) {
        return Some(*k);
    }
    let names: Vec<&str> = CHANNEL_NAMES.iter().map(|(n, _)| *n).collect();
    let hint = did_you_mean(&key.name, &names)
        .map(|b| format!(" (did you mean `{b}`?)"))
        .unwrap_or_default();
    r.error(
        key.loc,
        path,
        format!(
            "unknown channel `{}`; channels are {}{hint}",
            key.name,
            quote_list(&names)
        ),
    );
    None
}

fn read_channels(c: Obj<'_>, r: &mut Report<'_>) -> Option<Channels> {
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (key, node) in c.entries() {
        let path = c.key_path(&key.name);
        let Some(kind) = channel_key(r, key, &path) else {
            ok = false;
            continue;
        };
        let Some((t, loc)) = super::reader::table(r, node, &path, "a channel table") else {
            ok = false;
            continue;
        };
        match read_channel(kind, Obj::new(t, path, loc), r) {
            Some(ch) => {
                out.insert(kind, ch);
            }
            None => ok = false,
        }
    }
    if out.is_empty() && ok {
        r.error(
            c.loc,
            &c.path,
            "the contract names no channel; clause 1.1 lists phone, chat, email and onsite",
        );
        return None;
    }
    ok.then_some(Channels(out))
}

fn read_channel(kind: ChannelKind, o: Obj<'_>, r: &mut Report<'_>) -> Option<Channel> {
    let clause = o.req_str(
        r,
        "clause",
        "the clause describing this service, e.g. \"1.1.1\"",
    );
    let enabled = o.opt(r, "enabled", boolean).unwrap_or(true);
    let hours = o
        .req_table(r, "hours", "the service hours of clause 2.1")
        .and_then(|h| read_hours(kind, h, r));
    let targets = match o.opt_table(r, "targets", "the quality targets of clause 4.1") {
        Some(t) => read_targets(kind, t, r),
        None => Some(Vec::new()),
    };
    let fee = o
        .req_table(r, "fee", "the fee of clause 6.1")
        .and_then(|f| read_fee(kind, f, r));
    o.finish(r);
    Some(Channel {
        kind,
        clause: clause?,
        enabled,
        hours: hours?,
        targets: targets?,
        fee: fee?,
    })
}

fn window_list(r: &mut Report<'_>, n: &Node, path: &str) -> Option<Vec<Window>> {
    window_list_or_empty(r, n, path, false)
}

/// A day of a weekly pattern may be closed (`sun = []`).
fn weekday_windows(r: &mut Report<'_>, n: &Node, path: &str) -> Option<Vec<Window>> {
    window_list_or_empty(r, n, path, true)
}

fn window_list_or_empty(
    r: &mut Report<'_>,
    n: &Node,
    path: &str,
    allow_empty: bool,
) -> Option<Vec<Window>> {
    let ws = array(
        r,
        n,
        path,
        "a list of windows like [\"08:00-22:00\"]",
        |r, n, p| {
            let s = string(r, n, p, "a window like \"08:00-22:00\"")?;
            match s.parse::<Window>() {
                Ok(w) => Some(w),
                Err(e) => {
                    r.error(
                        n.loc,
                        p,
                        format!("expected a window like \"08:00-22:00\", found \"{s}\": {e}"),
                    );
                    None
                }
            }
        },
    )?;
    if ws.is_empty() && !allow_empty {
        r.error(
            n.loc,
            path,
            "expected at least one window like \"08:00-22:00\"; a channel with no hours is never open",
        );
        return None;
    }
    if let Err(e) = validate_windows(&ws) {
        r.error(n.loc, path, format!("{e}"));
        return None;
    }
    Some(ws)
}

fn read_hours(kind: ChannelKind, o: Obj<'_>, r: &mut Report<'_>) -> Option<Hours> {
    #[derive(Clone, Copy, PartialEq)]
    enum K {
        Always,
        Daily,
        Weekly,
        WorkingDays,
    }
    let clause = o.req_str(r, "clause", "the clause fixing these hours, e.g. \"2.1.1\"");
    let k = o.req(
        r,
        "kind",
        "\"always\", \"daily\", \"weekly\" or \"working_days\"",
        |r, n, p| {
            one_of(
                r,
                n,
                p,
                &[
                    ("always", K::Always),
                    ("daily", K::Daily),
                    ("weekly", K::Weekly),
                    ("working_days", K::WorkingDays),
                ],
            )
        },
    );
    let default_outside = match kind {
        ChannelKind::Phone => OutsideHours::NotApplicable,
        ChannelKind::Chat => OutsideHours::OfflineMessage,
        ChannelKind::Email => OutsideHours::ClockStartsAtOpening,
        ChannelKind::Onsite => OutsideHours::NextWorkingDay,
    };
    let outside_hours = o
        .opt(r, "outside_hours", |r, n, p| {
            one_of(
                r,
                n,
                p,
                &[
                    ("not_applicable", OutsideHours::NotApplicable),
                    ("offline_message", OutsideHours::OfflineMessage),
                    (
                        "clock_starts_at_opening",
                        OutsideHours::ClockStartsAtOpening,
                    ),
                    (
                        "clock_runs_from_receipt",
                        OutsideHours::ClockRunsFromReceipt,
                    ),
                    ("next_working_day", OutsideHours::NextWorkingDay),
                ],
            )
        })
        .unwrap_or(default_outside);
    let hours = match k {
        None => {
            // Mark the other keys as known so one mistake gives one message.
            o.node("windows");
            for d in WEEKDAY_KEYS {
                o.node(d);
            }
            None
        }
        Some(K::Always) => {
            if let Some(n) = o.node("windows") {
                r.error(
                    n.loc,
                    &o.key_path("windows"),
                    "`windows` does not apply to kind = \"always\" (open 24×7)",
                );
            }
            Some(ServiceHours::Always)
        }
        Some(K::Daily) => o
            .req(
                r,
                "windows",
                "the daily opening windows, e.g. [\"08:00-22:00\"]",
                window_list,
            )
            .map(ServiceHours::Daily),
        Some(K::WorkingDays) => o
            .req(
                r,
                "windows",
                "the opening windows on working days, e.g. [\"09:00-18:00\"]",
                window_list,
            )
            .map(ServiceHours::WorkingDays),
        Some(K::Weekly) => {
            let mut days: [Vec<Window>; 7] = Default::default();
            let mut ok = true;
            let mut any = false;
            for (i, d) in WEEKDAY_KEYS.iter().enumerate() {
                if let Some(n) = o.node(d) {
                    match weekday_windows(r, n, &o.key_path(d)) {
                        Some(ws) => {
                            any |= !ws.is_empty();
                            days[i] = ws;
                        }
                        None => ok = false,
                    }
                }
            }
            if !any {
                r.error(
                    o.loc,
                    &o.path,
                    "kind = \"weekly\" needs at least one window on at least one day (mon … sun); a channel with no hours is never open",
                );
                ok = false;
            }
            ok.then_some(ServiceHours::Weekly(days))
        }
    };
    o.finish(r);
    Some(Hours {
        clause: clause?,
        hours: hours?,
        outside_hours,
    })
}

fn target_names(kind: ChannelKind) -> &'static [&'static str] {
    match kind {
        ChannelKind::Phone => &[
            "connection_rate",
            "average_speed_of_answer",
            "service_level",
        ],
        ChannelKind::Chat => &["average_response_time"],
        ChannelKind::Email => &["reply_time"],
        ChannelKind::Onsite => &["answer_accuracy"],
    }
}

fn read_targets(kind: ChannelKind, o: Obj<'_>, r: &mut Report<'_>) -> Option<Vec<Target>> {
    let mut out = Vec::new();
    let mut ok = true;
    let allowed = target_names(kind);
    for (key, node) in o.entries() {
        let path = o.key_path(&key.name);
        if !allowed.contains(&key.name.as_str()) {
            let hint = did_you_mean(&key.name, allowed)
                .map(|b| format!(" (did you mean `{b}`?)"))
                .unwrap_or_default();
            r.error(
                key.loc,
                &path,
                format!(
                    "unknown target `{}` for the {} channel; its targets are {}{hint}",
                    key.name,
                    kind.key(),
                    quote_list(allowed)
                ),
            );
            ok = false;
            continue;
        }
        let Some((t, loc)) = super::reader::table(r, node, &path, "a target table") else {
            ok = false;
            continue;
        };
        match read_target(&key.name, Obj::new(t, path, loc), r) {
            Some(t) => out.push(t),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_target(name: &str, o: Obj<'_>, r: &mut Report<'_>) -> Option<Target> {
    let clause = o.req_str(r, "clause", "the clause of the target, e.g. \"4.1.1\"");
    let assessed = o
        .opt(r, "assessed", |r, n, p| {
            one_of(
                r,
                n,
                p,
                &[
                    ("day", Assessment::Day),
                    ("billing_period", Assessment::BillingPeriod),
                ],
            )
        })
        .unwrap_or(Assessment::BillingPeriod);
    let metric = match name {
        "connection_rate" => {
            let min = o.req(
                r,
                "min",
                "the lowest acceptable connection rate, e.g. \"95%\"",
                percent,
            );
            let formula = o
                .opt(r, "formula", |r, n, p| {
                    one_of(
                        r,
                        n,
                        p,
                        &[
                            (
                                "answered_over_offered",
                                ConnectionRateFormula::AnsweredOverOffered,
                            ),
                            (
                                "answered_over_offered_less_short_abandons",
                                ConnectionRateFormula::AnsweredOverOfferedLessShortAbandons,
                            ),
                        ],
                    )
                })
                .unwrap_or(ConnectionRateFormula::AnsweredOverOffered);
            let short_node = o.node("short_abandon");
            let short_abandon = match short_node {
                Some(n) => duration(r, n, &o.key_path("short_abandon")),
                None => Some(Duration::ZERO),
            };
            if let (Some(s), ConnectionRateFormula::AnsweredOverOfferedLessShortAbandons) =
                (short_abandon, formula)
                && s.is_zero()
            {
                let loc = short_node.map_or(o.loc, |n| n.loc);
                r.error(
                    loc,
                    &o.key_path("short_abandon"),
                    "formula \"answered_over_offered_less_short_abandons\" needs a short_abandon threshold above 0s, e.g. \"5s\"",
                );
                return None;
            }
            Some(Metric::ConnectionRate {
                min: min?,
                formula,
                short_abandon: short_abandon?,
            })
        }
        "average_speed_of_answer" => {
            let max = o.req(
                r,
                "max",
                "the longest acceptable average speed of answer, e.g. \"5s\"",
                duration,
            );
            Some(Metric::AverageSpeedOfAnswer { max: max? })
        }
        "service_level" => {
            let min = o.req(
                r,
                "min",
                "the lowest acceptable share, e.g. \"80%\"",
                percent,
            );
            let within = o.req(r, "within", "the answer threshold, e.g. \"20s\"", duration);
            let formula = o
                .opt(r, "formula", |r, n, p| {
                    one_of(
                        r,
                        n,
                        p,
                        &[
                            (
                                "within_over_offered",
                                ServiceLevelFormula::WithinOverOffered,
                            ),
                            (
                                "within_over_answered",
                                ServiceLevelFormula::WithinOverAnswered,
                            ),
                            (
                                "within_over_offered_less_short_abandons",
                                ServiceLevelFormula::WithinOverOfferedLessShortAbandons,
                            ),
                        ],
                    )
                })
                .unwrap_or(ServiceLevelFormula::WithinOverOffered);
            Some(Metric::ServiceLevel {
                min: min?,
                within: within?,
                formula,
            })
        }
        "average_response_time" => {
            let max = o.req(
                r,
                "max",
                "the longest acceptable average response time, e.g. \"3s\"",
                duration,
            );
            let definition = o
                .opt(r, "definition", |r, n, p| {
                    one_of(
                        r,
                        n,
                        p,
                        &[
                            (
                                "first_unanswered_to_next_agent_message",
                                ChatResponseDefinition::FirstUnansweredToNextAgentMessage,
                            ),
                            (
                                "each_customer_message_to_next_agent_message",
                                ChatResponseDefinition::EachCustomerMessageToNextAgentMessage,
                            ),
                        ],
                    )
                })
                .unwrap_or(ChatResponseDefinition::FirstUnansweredToNextAgentMessage);
            let include_automatic_replies = o
                .opt(r, "include_automatic_replies", boolean)
                .unwrap_or(false);
            Some(Metric::ChatResponseTime {
                max: max?,
                definition,
                include_automatic_replies,
            })
        }
        "reply_time" => {
            let max = o.req(
                r,
                "max",
                "the longest acceptable reply time, e.g. \"24h\"",
                duration,
            );
            let clock = o
                .opt(r, "clock", |r, n, p| {
                    one_of(
                        r,
                        n,
                        p,
                        &[
                            ("calendar", EmailClock::Calendar),
                            ("service_hours", EmailClock::ServiceHours),
                        ],
                    )
                })
                .unwrap_or(EmailClock::Calendar);
            let min_share = o
                .opt(r, "min_share", percent)
                .unwrap_or_else(|| Percent::from_points(rust_decimal::Decimal::ONE_HUNDRED));
            Some(Metric::EmailReplyTime {
                max: max?,
                clock,
                min_share,
            })
        }
        "answer_accuracy" => {
            let min = o.req(
                r,
                "min",
                "the lowest acceptable accuracy, e.g. \"95%\"",
                percent,
            );
            let confidence = o
                .opt(r, "confidence", percent)
                .unwrap_or_else(|| Percent::from_points(rust_decimal::Decimal::from(95)));
            Some(Metric::AnswerAccuracy {
                min: min?,
                confidence,
            })
        }
        _ => None,
    };
    let metric = metric.and_then(|m| check_time_target(&o, r, m));
    o.finish(r);
    Some(Target {
        clause: clause?,
        assessed,
        metric: metric?,
    })
}

/// A time target of zero can never be met; one above a day is almost surely a unit typo.
fn check_time_target(o: &Obj<'_>, r: &mut Report<'_>, m: Metric) -> Option<Metric> {
    let (max, limit) = match &m {
        // Answer and chat response targets are seconds; "5min" for "5s" is the 60× typo.
        Metric::AverageSpeedOfAnswer { max } | Metric::ChatResponseTime { max, .. } => {
            (*max, Duration::from_secs(180))
        }
        Metric::EmailReplyTime { max, .. } => (*max, Duration::from_secs(30 * 86_400)),
        _ => return Some(m),
    };
    if max.is_zero() || max > limit {
        let loc = o.node("max").map_or(o.loc, |n| n.loc);
        let found = r.sources.snippet(loc);
        r.error(
            loc,
            &o.key_path("max"),
            format!(
                "expected a time target above 0s and at most {limit}, found {found}; check the unit"
            ),
        );
        return None;
    }
    Some(m)
}

fn read_fee(kind: ChannelKind, o: Obj<'_>, r: &mut Report<'_>) -> Option<Fee> {
    let clause = o.req_str(r, "clause", "the clause of the fee, e.g. \"6.1.1\"");
    let units: &[(&str, FeeUnit)] = match kind {
        ChannelKind::Phone => &[
            ("call_minute", FeeUnit::CallMinute),
            ("call_second", FeeUnit::CallSecond),
        ],
        ChannelKind::Chat => &[("agent_hour", FeeUnit::AgentHour)],
        ChannelKind::Email => &[("reply", FeeUnit::Reply)],
        ChannelKind::Onsite => &[("visit", FeeUnit::Visit)],
    };
    let unit = o.req(r, "unit", "the billing unit", |r, n, p| {
        one_of(r, n, p, units)
    });
    let rate = o.req(
        r,
        "rate",
        "the price per unit excluding VAT, e.g. \"0.60\"",
        amount,
    );
    let inc_node = o.node("increment");
    let rnd_node = o.node("increment_rounding");
    let mut increment = inc_node.and_then(|n| duration(r, n, &o.key_path("increment")));
    let mut increment_rounding = rnd_node.and_then(|n| {
        one_of(
            r,
            n,
            &o.key_path("increment_rounding"),
            &[
                ("up", IncrementRounding::Up),
                ("nearest", IncrementRounding::Nearest),
                ("down", IncrementRounding::Down),
            ],
        )
    });
    if let Some(u) = unit {
        if u.is_time() {
            if let (Some(i), Some(n)) = (increment, inc_node)
                && i.is_zero()
            {
                r.error(
                    n.loc,
                    &o.key_path("increment"),
                    "expected an increment above 0s, e.g. \"60s\"",
                );
                increment = None;
            }
            if increment.is_none() && inc_node.is_none() {
                increment = Some(match u {
                    FeeUnit::CallMinute => Duration::from_secs(60),
                    _ => Duration::from_secs(1),
                });
            }
            if increment_rounding.is_none() && rnd_node.is_none() {
                increment_rounding = Some(IncrementRounding::Up);
            }
        } else {
            for (key, node) in [("increment", inc_node), ("increment_rounding", rnd_node)] {
                if let Some(n) = node {
                    r.error(n.loc, &o.key_path(key), format!("`{key}` applies only to time-based units, not to the {} channel's per-item unit", kind.key()));
                }
            }
        }
    }
    o.finish(r);
    let unit = unit?;
    if unit.is_time() && (increment.is_none() || increment_rounding.is_none()) {
        return None;
    }
    Some(Fee {
        clause: clause?,
        unit,
        rate: rate?,
        increment,
        increment_rounding,
    })
}

fn channel_list(r: &mut Report<'_>, n: &Node, path: &str) -> Option<Vec<ChannelKind>> {
    array(
        r,
        n,
        path,
        "a list of channels like [\"chat\", \"email\"]",
        |r, n, p| one_of(r, n, p, &CHANNEL_NAMES),
    )
}

fn read_satisfaction(o: Obj<'_>, r: &mut Report<'_>) -> Option<Satisfaction> {
    let clause = o.req_str(r, "clause", "the clause, e.g. \"1.2\"");
    let survey_channels = o.req(r, "survey_channels", "the channels surveyed", channel_list);
    let scale = o
        .opt(r, "scale", |r, n, p| {
            integer(r, n, p, 2, 10, "the number of points on the scale")
        })
        .unwrap_or(5);
    let satisfied_node = o.node("satisfied_from");
    let satisfied_from = satisfied_node
        .and_then(|n| {
            integer(
                r,
                n,
                &o.key_path("satisfied_from"),
                1,
                10,
                "the lowest score that counts as satisfied",
            )
        })
        .unwrap_or(4);
    if satisfied_from > scale {
        r.error(
            satisfied_node.map_or(o.loc, |n| n.loc),
            &o.key_path("satisfied_from"),
            format!("expected a score within the {scale}-point scale, found {satisfied_from}"),
        );
    }
    let min_share_satisfied = o.opt(r, "min_share_satisfied", percent);
    o.finish(r);
    Some(Satisfaction {
        clause: clause?,
        survey_channels: survey_channels?,
        scale: u8::try_from(scale).ok()?,
        satisfied_from: u8::try_from(satisfied_from)
            .ok()
            .filter(|s| i64::from(*s) <= scale)?,
        min_share_satisfied,
    })
}

fn read_billing(o: Obj<'_>, r: &mut Report<'_>) -> Option<Billing> {
    let clause = o.req_str(r, "clause", "the clause, e.g. \"6.2\"");
    let currency = o.req(r, "currency", "an ISO 4217 code like \"CNY\"", |r, n, p| {
        let s = string(r, n, p, "an ISO 4217 code like \"CNY\"")?;
        if s.len() == 3 && s.chars().all(|c| c.is_ascii_uppercase()) {
            Some(s)
        } else {
            r.expected(n.loc, p, "a three-letter ISO 4217 code like \"CNY\"");
            None
        }
    });
    let vat_rate = o.req(r, "vat_rate", "the VAT rate, e.g. \"6%\"", percent);
    let invoice_day = o.req(
        r,
        "invoice_day",
        "the day of the month invoices are issued",
        |r, n, p| integer(r, n, p, 1, 28, "a day of the month").map(|v| v as u8),
    );
    let payment_days = o.req(
        r,
        "payment_days",
        "days from invoice to due date",
        |r, n, p| integer(r, n, p, 0, 365, "a number of days").map(|v| v as u16),
    );
    let late_payment_daily_rate = o.req(
        r,
        "late_payment_daily_rate",
        "the late-payment charge per day, e.g. \"0.05%\"",
        percent,
    );
    let late_payment_cap = o.opt(r, "late_payment_cap", percent);
    let rounding = o
        .opt(r, "rounding", |r, n, p| {
            one_of(
                r,
                n,
                p,
                &[
                    ("half_up", MoneyRounding::HalfUp),
                    ("half_even", MoneyRounding::HalfEven),
                ],
            )
        })
        .unwrap_or(MoneyRounding::HalfUp);
    o.finish(r);
    Some(Billing {
        clause: clause?,
        currency: currency?,
        vat_rate: vat_rate?,
        invoice_day: invoice_day?,
        payment_days: payment_days?,
        late_payment_daily_rate: late_payment_daily_rate?,
        late_payment_cap,
        rounding,
    })
}

fn read_penalty(o: Obj<'_>, r: &mut Report<'_>) -> Option<Penalty> {
    #[derive(Clone, Copy)]
    enum F {
        PerStep,
        PerViolation,
        Fixed,
    }
    let clause = o.req_str(r, "clause", "the clause of the breach, e.g. \"附录二.3\"");
    let breach = o.req(r, "breach", "the kind of breach", |r, n, p| {
        one_of(
            r,
            n,
            p,
            &[
                ("late_payment", BreachKind::LatePayment),
                ("service_not_provided", BreachKind::ServiceNotProvided),
                ("quality_below_target", BreachKind::QualityBelowTarget),
                (
                    "confidentiality_incident",
                    BreachKind::ConfidentialityIncident,
                ),
                ("dispute_unresolved", BreachKind::DisputeUnresolved),
            ],
        )
    });
    let target_node = o.node("target");
    let target = target_node.and_then(|n| {
        let p = o.key_path("target");
        let s = string(r, n, &p, "a target like \"phone.connection_rate\"")?;
        let parsed = s.split_once('.').and_then(|(c, t)| {
            CHANNEL_NAMES
                .iter()
                .find(|(name, _)| *name == c)
                .map(|(_, k)| TargetRef {
                    channel: *k,
                    target: t.to_string(),
                })
        });
        if parsed.is_none() {
            r.expected(
                n.loc,
                &p,
                "a target like \"phone.connection_rate\" (channel.target)",
            );
        }
        parsed
    });
    let formula = o.req(r, "formula", "how the penalty is computed", |r, n, p| {
        one_of(
            r,
            n,
            p,
            &[
                ("percent_of_fee_per_step", F::PerStep),
                ("per_violation", F::PerViolation),
                ("fixed", F::Fixed),
            ],
        )
    });
    let rate_node = o.node("rate");
    let step_node = o.node("step");
    let amount_node = o.node("amount");
    let cap = o.opt(r, "cap", percent);
    let formula = formula.and_then(|f| {
        let unused = |r: &mut Report<'_>, key: &str, node: Option<&Node>, name: &str| {
            if let Some(n) = node {
                r.error(
                    n.loc,
                    &o.key_path(key),
                    format!("`{key}` is not used by formula \"{name}\""),
                );
            }
        };
        match f {
            F::PerStep => {
                unused(r, "amount", amount_node, "percent_of_fee_per_step");
                let rate = o.req(
                    r,
                    "rate",
                    "the share of the monthly fee per step, e.g. \"1%\"",
                    percent,
                );
                let step = o.req(
                    r,
                    "step",
                    "the size of a step, \"1%\" (points) or a duration like \"1s\"",
                    |r, n, p| match &n.value {
                        Value::Str(s) if s.trim_end().ends_with('%') => {
                            percent(r, n, p).map(Step::Points)
                        }
                        _ => duration(r, n, p).map(Step::Time),
                    },
                );
                let step = step.filter(|s| {
                    let zero = match s {
                        Step::Points(p) => p.points().is_zero(),
                        Step::Time(d) => d.is_zero(),
                    };
                    if zero {
                        r.error(
                            step_node.map_or(o.loc, |n| n.loc),
                            &o.key_path("step"),
                            "expected a step above zero",
                        );
                    }
                    !zero
                });
                Some(PenaltyFormula::PercentOfFeePerStep {
                    rate: rate?,
                    step: step?,
                })
            }
            F::PerViolation | F::Fixed => {
                let name = if matches!(f, F::Fixed) {
                    "fixed"
                } else {
                    "per_violation"
                };
                unused(r, "rate", rate_node, name);
                unused(r, "step", step_node, name);
                let amount = o.req(r, "amount", "the amount, e.g. \"500.00\"", amount)?;
                Some(if matches!(f, F::Fixed) {
                    PenaltyFormula::Fixed { amount }
                } else {
                    PenaltyFormula::PerViolation { amount }
                })
            }
        }
    });
    // A quality penalty names its target; no other breach has one.
    match (breach, &target, target_node) {
        (Some(BreachKind::QualityBelowTarget), None, None) => {
            r.error(o.loc, &o.key_path("target"), "missing key `target` (a quality breach names its target, e.g. \"phone.connection_rate\")");
        }
        (Some(b), Some(_), Some(n)) if b != BreachKind::QualityBelowTarget => {
            r.error(
                n.loc,
                &o.key_path("target"),
                "`target` applies only to breach = \"quality_below_target\"",
            );
        }
        _ => {}
    }
    o.finish(r);
    Some(Penalty {
        clause: clause?,
        breach: breach?,
        target,
        formula: formula?,
        cap,
    })
}

fn read_staff(o: Obj<'_>, r: &mut Report<'_>) -> Option<StaffPolicy> {
    let clause = o.req_str(r, "clause", "the clause, e.g. \"3.2\"");
    let nda_required = o.opt(r, "nda_required", boolean).unwrap_or(true);
    let training_interval = o.req(
        r,
        "training_interval",
        "the longest gap between trainings, e.g. \"90d\"",
        duration,
    );
    let assessment_interval = o.req(
        r,
        "assessment_interval",
        "the longest gap between assessments, e.g. \"180d\"",
        duration,
    );
    let assessment_pass_score = o.req(
        r,
        "assessment_pass_score",
        "the pass mark out of 100",
        |r, n, p| integer(r, n, p, 0, 100, "a score").map(|v| v as u8),
    );
    let mut certificates = BTreeMap::new();
    let mut ok = true;
    if let Some(c) = o.opt_table(r, "certificates", "certificates required per channel") {
        for (key, node) in c.entries() {
            let path = c.key_path(&key.name);
            let Some(kind) = channel_key(r, key, &path) else {
                ok = false;
                continue;
            };
            match array(r, node, &path, "a list of certificate names", |r, n, p| {
                string(r, n, p, "a certificate name")
            }) {
                Some(list) => {
                    certificates.insert(kind, list);
                }
                None => ok = false,
            }
        }
    }
    for (key, d) in [
        ("training_interval", training_interval),
        ("assessment_interval", assessment_interval),
    ] {
        if let Some(d) = d
            && d < Duration::from_secs(86_400)
        {
            let loc = o.node(key).map_or(o.loc, |n| n.loc);
            r.error(
                loc,
                &o.key_path(key),
                format!("expected at least 24h, found {d}; check the unit"),
            );
            ok = false;
        }
    }
    o.finish(r);
    if !ok {
        return None;
    }
    Some(StaffPolicy {
        clause: clause?,
        nda_required,
        training_interval: training_interval?,
        assessment_interval: assessment_interval?,
        assessment_pass_score: assessment_pass_score?,
        certificates,
    })
}

fn read_staffing(o: Obj<'_>, r: &mut Report<'_>) -> Option<Staffing> {
    let clause = o.req_str(r, "clause", "the clause, e.g. \"2.2\"");
    let interval_node = o.node("interval");
    let interval = match interval_node {
        Some(n) => duration(r, n, &o.key_path("interval")).filter(|d| {
            let ok = d.as_millis() >= 300_000 && 86_400_000 % d.as_millis() == 0;
            if !ok {
                r.error(n.loc, &o.key_path("interval"), format!("expected an interval of at least 5min that divides a day evenly (15min, 30min, 1h …), found {d}"));
            }
            ok
        }),
        None => Some(Duration::from_secs(1800)),
    };
    let not_provided_after = o
        .opt(r, "not_provided_after", duration)
        .unwrap_or(Duration::from_secs(300));
    let mut min_agents = BTreeMap::new();
    let mut ok = true;
    if let Some(c) = o.opt_table(r, "min_agents", "the fewest agents on duty per channel") {
        for (key, node) in c.entries() {
            let path = c.key_path(&key.name);
            let Some(kind) = channel_key(r, key, &path) else {
                ok = false;
                continue;
            };
            match integer(r, node, &path, 0, 10_000, "a number of agents") {
                Some(n) => {
                    min_agents.insert(kind, n as u16);
                }
                None => ok = false,
            }
        }
    }
    o.finish(r);
    if !ok {
        return None;
    }
    Some(Staffing {
        clause: clause?,
        interval: interval?,
        not_provided_after,
        min_agents,
    })
}

fn read_confidentiality(o: Obj<'_>, r: &mut Report<'_>) -> Option<Confidentiality> {
    let clause = o.req_str(r, "clause", "the clause, e.g. \"5.1\"");
    let mask_by_default = o.opt(r, "mask_by_default", boolean).unwrap_or(true);
    let unmask_requires_reason = o.opt(r, "unmask_requires_reason", boolean).unwrap_or(true);
    let incident_report_within = o
        .opt(r, "incident_report_within", duration)
        .unwrap_or(Duration::from_secs(86_400));
    o.finish(r);
    Some(Confidentiality {
        clause: clause?,
        mask_by_default,
        unmask_requires_reason,
        incident_report_within,
    })
}

fn read_disputes(o: Obj<'_>, r: &mut Report<'_>) -> Option<Disputes> {
    let clause = o.req_str(r, "clause", "the clause, e.g. \"8.2\"");
    let negotiation_period = o.req(
        r,
        "negotiation_period",
        "how long negotiation lasts, e.g. \"30d\"",
        duration,
    );
    let venue = o.req_str(r, "venue", "the court that hears disputes (8.2)");
    o.finish(r);
    Some(Disputes {
        clause: clause?,
        negotiation_period: negotiation_period?,
        venue: venue?,
    })
}

fn read_attachments(r: &mut Report<'_>, n: &Node, path: &str) -> Option<Vec<Attachment>> {
    let list = array(
        r,
        n,
        path,
        "an array of [[attachments]] tables",
        |r, n, p| {
            let (t, loc) = super::reader::table(r, n, p, "an [[attachments]] table")?;
            let o = Obj::new(t, p, loc);
            let no = o.req(r, "no", "the attachment number in 附录一", |r, n, p| {
                integer(r, n, p, 1, 99, "an attachment number").map(|v| (v as u8, n.loc))
            });
            let title = o.req_str(r, "title", "the attachment's title");
            let generated_by_kefu = o.opt(r, "generated_by_kefu", boolean).unwrap_or(false);
            o.finish(r);
            Some((no?, title?, generated_by_kefu))
        },
    )?;
    let mut seen: BTreeMap<u8, ()> = BTreeMap::new();
    let mut out = Vec::new();
    let mut ok = true;
    for ((no, loc), title, generated_by_kefu) in list {
        if seen.insert(no, ()).is_some() {
            r.error(loc, path, format!("attachment number {no} appears twice"));
            ok = false;
        }
        out.push(Attachment {
            no,
            title,
            generated_by_kefu,
        });
    }
    ok.then_some(out)
}

/// Rules that span sections: penalties name real targets, working-day hours
/// have holiday data for every year of the term.
fn cross_check(
    c: Contract,
    root: &Table,
    file_loc: Loc,
    r: &mut Report<'_>,
    holidays: &HolidayCalendar,
) -> Option<Contract> {
    let before = r.error_count();
    // Where a value is written, for messages about relations between values.
    // Path segments that are numbers index into arrays of tables.
    let loc_of = |path: &[&str]| -> Loc {
        let mut node: Option<&Node> = None;
        let mut table = Some(root);
        for seg in path {
            let next = match (table, node.map(|n| &n.value)) {
                (_, Some(Value::Array(items))) => {
                    seg.parse::<usize>().ok().and_then(|i| items.get(i))
                }
                (Some(t), _) => t.get(seg).map(|(_, n)| n),
                _ => None,
            };
            let Some(n) = next else { break };
            node = Some(n);
            table = match &n.value {
                Value::Table(t) => Some(t),
                _ => None,
            };
        }
        node.map_or(file_loc, |n| n.loc)
    };
    let all_targets: Vec<String> = c
        .channels
        .iter()
        .flat_map(|(k, ch)| {
            ch.targets
                .iter()
                .map(move |t| format!("{}.{}", k.key(), t.name()))
        })
        .collect();
    for (i, p) in c.penalties.iter().enumerate() {
        let idx = i.to_string();
        if let Some(t) = &p.target {
            let name = t.to_string();
            let metric = c
                .channel(t.channel)
                .and_then(|ch| ch.targets.iter().find(|x| x.name() == t.target))
                .map(|x| &x.metric);
            match metric {
                None => {
                    let cands: Vec<&str> = all_targets.iter().map(String::as_str).collect();
                    let hint = did_you_mean(&name, &cands)
                        .map(|b| format!(" (did you mean \"{b}\"?)"))
                        .unwrap_or_default();
                    r.error(
                        loc_of(&["penalties", &idx, "target"]),
                        &format!("penalties[{i}].target"),
                        format!(
                            "no such target \"{name}\" in this contract; its targets are {}{hint}",
                            quote_list(&cands)
                        ),
                    );
                }
                Some(m) => {
                    if let PenaltyFormula::PercentOfFeePerStep { step, .. } = &p.formula {
                        let fits = matches!(
                            (m.is_percentage(), step),
                            (true, Step::Points(_)) | (false, Step::Time(_))
                        );
                        if !fits {
                            let want = if m.is_percentage() {
                                "percentage points like \"1%\""
                            } else {
                                "a duration like \"1s\""
                            };
                            r.error(
                                loc_of(&["penalties", &idx, "step"]),
                                &format!("penalties[{i}].step"),
                                format!("target \"{name}\" is measured in {}, so the step must be {want}", if m.is_percentage() { "percent" } else { "time" }),
                            );
                        }
                    }
                }
            }
        } else if let PenaltyFormula::PercentOfFeePerStep { .. } = &p.formula {
            r.error(
                loc_of(&["penalties", &idx, "formula"]),
                &format!("penalties[{i}].formula"),
                "formula \"percent_of_fee_per_step\" measures a shortfall against a target; use it with breach = \"quality_below_target\"",
            );
        }
    }
    for (kind, ch) in c.channels.iter() {
        if !ch.hours.hours.needs_holiday_data() {
            continue;
        }
        let missing: Vec<i16> = (c.effective_from.year()..=c.ends_on.year())
            .filter(|y| !holidays.has_year(*y))
            .collect();
        if !missing.is_empty() {
            let have = holidays.years();
            let have = match (have.first(), have.last()) {
                (Some(a), Some(b)) => format!("{a}–{b}"),
                _ => "none".to_string(),
            };
            let years: Vec<String> = missing.iter().map(ToString::to_string).collect();
            r.error(
                loc_of(&["channels", kind.key(), "hours", "kind"]),
                &format!("channels.{}.hours.kind", kind.key()),
                format!(
                    "working-day hours need holiday data for every year of the term ({} to {}); no data for {} (kefu has {have}); add the year's holiday file or shorten the term",
                    c.effective_from,
                    c.ends_on,
                    years.join(", ")
                ),
            );
        }
    }
    if let Some(s) = &c.satisfaction {
        for (i, k) in s.survey_channels.iter().enumerate() {
            if c.channel(*k).is_none() {
                r.error(
                    loc_of(&["satisfaction", "survey_channels"]),
                    &format!("satisfaction.survey_channels[{i}]"),
                    format!(
                        "channel \"{}\" is surveyed but not part of this contract",
                        k.key()
                    ),
                );
            }
        }
    }
    (r.error_count() == before).then_some(c)
}
