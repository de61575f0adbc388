//! The contract document: the shipped example encodes the seed contract and
//! its amendment; broken documents are refused with the right message at the
//! right file:line:column.

use std::collections::HashMap;

use jiff::civil::date;
use kefu_core::calendar::{HolidayCalendar, ServiceHours};
use kefu_core::contract::{self, ChannelKind, ContractDocument, Diagnostics, Metric, SourceFile};

const CONTRACT: &str = include_str!("../../../examples/contract.toml");
const AMENDMENT: &str = include_str!("../../../examples/amendment-2027-01.toml");
const AMENDMENT_FILE: &str = "amendment-2027-01.toml";

fn load_files(base: &str, others: &[(&str, &str)]) -> Result<ContractDocument, Diagnostics> {
    let files: HashMap<String, String> = others
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let mut read = |p: &str| -> Result<(String, String), String> {
        files
            .get(p)
            .map(|t| (p.to_string(), t.clone()))
            .ok_or_else(|| "No such file or directory (os error 2)".to_string())
    };
    contract::load(
        SourceFile::new("contract.toml", base),
        &HolidayCalendar::builtin(),
        &mut read,
    )
}

fn load_example() -> ContractDocument {
    load_files(CONTRACT, &[(AMENDMENT_FILE, AMENDMENT)])
        .unwrap_or_else(|d| panic!("example must load:\n{d}"))
}

#[test]
fn the_example_encodes_every_clause_of_the_seed_contract() {
    let doc = load_example();
    let c = doc.base();
    assert_eq!(c.number, "GDT-KF-2026-0017");
    assert_eq!(c.effective_from, date(2026, 1, 1));
    assert_eq!(c.ends_on, date(2027, 12, 31));
    assert_eq!(c.time_zone.iana_name(), Some("Asia/Shanghai"));
    // 2.1: phone 24×7, chat and email daily 08:00–22:00, on-site on working days.
    let hours = |k| &c.channel(k).expect("channel").hours.hours;
    assert_eq!(hours(ChannelKind::Phone), &ServiceHours::Always);
    assert!(
        matches!(hours(ChannelKind::Chat), ServiceHours::Daily(w) if w.len() == 1 && w[0].to_string() == "08:00-22:00")
    );
    assert!(matches!(hours(ChannelKind::Email), ServiceHours::Daily(_)));
    assert!(matches!(
        hours(ChannelKind::Onsite),
        ServiceHours::WorkingDays(_)
    ));
    // 4.1: 95% / 5 s / 3 s / 24 h / 95%.
    let metric = |k: ChannelKind, name: &str| {
        c.channel(k)
            .and_then(|ch| ch.targets.iter().find(|t| t.name() == name))
            .map(|t| t.metric.clone())
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert!(
        matches!(metric(ChannelKind::Phone, "connection_rate"), Metric::ConnectionRate { min, .. } if min.to_string() == "95%")
    );
    assert!(
        matches!(metric(ChannelKind::Phone, "average_speed_of_answer"), Metric::AverageSpeedOfAnswer { max } if max.to_string() == "5s")
    );
    assert!(
        matches!(metric(ChannelKind::Chat, "average_response_time"), Metric::ChatResponseTime { max, .. } if max.to_string() == "3s")
    );
    assert!(
        matches!(metric(ChannelKind::Email, "reply_time"), Metric::EmailReplyTime { max, .. } if max.as_millis() == 86_400_000)
    );
    assert!(
        matches!(metric(ChannelKind::Onsite, "answer_accuracy"), Metric::AnswerAccuracy { min, .. } if min.to_string() == "95%")
    );
    // 6.1: a fee per channel; 6.2: VAT and payment; 附录一: ten attachments.
    assert_eq!(c.channels.iter().count(), 4);
    assert_eq!(c.billing.vat_rate.to_string(), "6%");
    assert_eq!(c.billing.payment_days, 30);
    assert_eq!(c.attachments.len(), 10);
    assert!(c.penalties.len() >= 5);
    assert!(c.staff.nda_required);
}

#[test]
fn channel_calendars_follow_the_contract_hours_and_time_zone() {
    let doc = load_example();
    let holidays = std::sync::Arc::new(HolidayCalendar::builtin());
    let c = doc.base();
    let at = |s: &str| -> jiff::Timestamp {
        s.parse::<jiff::civil::DateTime>()
            .and_then(|dt| c.time_zone.to_timestamp(dt))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    };
    let chat = c
        .service_calendar(ChannelKind::Chat, holidays.clone())
        .expect("chat");
    // Friday 21:00 to Monday 09:00, open 08:00–22:00 daily: 1 h + 14 h + 14 h + 1 h.
    let d = chat
        .business_duration(at("2026-11-20T21:00"), at("2026-11-23T09:00"))
        .expect("duration");
    assert_eq!(d, jiff::SignedDuration::from_hours(30));
    let onsite = c
        .service_calendar(ChannelKind::Onsite, holidays.clone())
        .expect("onsite");
    assert!(
        onsite.is_open(at("2026-02-14T10:00")).expect("2026 data"),
        "make-up Saturday is a working day"
    );
    assert!(
        !onsite.is_open(at("2026-02-16T10:00")).expect("2026 data"),
        "Spring Festival"
    );
    assert!(
        !onsite.is_open(at("2026-02-13T12:30")).expect("2026 data"),
        "lunch break"
    );
    let phone = c
        .service_calendar(ChannelKind::Phone, holidays)
        .expect("phone");
    assert!(phone.is_open(at("2026-02-17T03:00")).expect("always"));
}

#[test]
fn terms_before_the_amendment_are_the_base_terms() {
    let doc = load_example();
    let t = doc.terms_on(date(2026, 12, 31)).expect("in force");
    assert!(t.amendments_in_force.is_empty());
    assert!(t.amended_settings.is_empty());
    let fee = &t.contract.channel(ChannelKind::Phone).expect("phone").fee;
    assert_eq!(fee.rate.to_string(), "0.60");
}

#[test]
fn terms_after_the_amendment_carry_the_amended_values_and_their_source() {
    let doc = load_example();
    let t = doc.terms_on(date(2027, 1, 1)).expect("in force");
    let c = t.contract;
    assert_eq!(
        c.channel(ChannelKind::Phone)
            .expect("phone")
            .fee
            .rate
            .to_string(),
        "0.55"
    );
    let chat = c.channel(ChannelKind::Chat).expect("chat");
    assert!(
        matches!(&chat.targets[0].metric, Metric::ChatResponseTime { max, .. } if max.to_string() == "2s")
    );
    assert_eq!(t.amendments_in_force.len(), 1);
    let keys: Vec<(&str, &str, &str)> = t
        .amended_settings
        .iter()
        .map(|s| (s.key.as_str(), s.article.as_str(), s.amends_clause.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("channels.phone.fee.rate", "第一条", "6.1.1"),
            (
                "channels.chat.targets.average_response_time.max",
                "第二条",
                "4.1.2"
            ),
        ]
    );
    // Everything the amendment does not touch stays as in the base contract.
    assert_eq!(c.billing, doc.base().billing);
    assert_eq!(c.attachments, doc.base().attachments);
}

#[test]
fn terms_outside_the_contract_term_are_an_error() {
    let doc = load_example();
    let before = doc
        .terms_on(date(2025, 12, 31))
        .map(|_| ())
        .expect_err("not yet in force");
    assert_eq!(
        before.to_string(),
        "contract GDT-KF-2026-0017 is not in force on 2025-12-31: it runs from 2026-01-01 to 2027-12-31"
    );
    assert!(doc.terms_on(date(2028, 1, 1)).is_err());
    assert!(doc.terms_on(date(2027, 12, 31)).is_ok());
}

#[test]
fn terms_serialize_to_json_with_units_kept() {
    let doc = load_example();
    let t = doc.terms_on(date(2027, 3, 1)).expect("in force");
    let v = serde_json::to_value(&t).expect("json");
    assert_eq!(v["contract"]["channels"]["phone"]["fee"]["rate"], "0.55");
    assert_eq!(
        v["contract"]["channels"]["phone"]["hours"]["hours"]["kind"],
        "always"
    );
    assert_eq!(v["contract"]["time_zone"], "Asia/Shanghai");
    assert_eq!(
        v["amended_settings"][0]["amendment"],
        "GDT-KF-2026-0017-补1"
    );
}

/// One broken document: how to break the example, then where the error must
/// point (the `nth` occurrence of `at` in file `in_file`) and what it must say.
struct Case {
    name: &'static str,
    base: Box<dyn Fn(&str) -> String>,
    amendment: Box<dyn Fn(&str) -> String>,
    in_file: &'static str,
    at: &'static str,
    nth: usize,
    key: &'static str,
    message: &'static str,
}

impl Case {
    /// The error points at the n-th occurrence (0-based) of `at`.
    fn nth(mut self, n: usize) -> Case {
        self.nth = n;
        self
    }
}

fn replace(old: &'static str, new: &'static str) -> Box<dyn Fn(&str) -> String> {
    Box::new(move |s: &str| {
        assert!(s.contains(old), "the example no longer contains {old:?}");
        s.replacen(old, new, 1)
    })
}

fn same() -> Box<dyn Fn(&str) -> String> {
    Box::new(|s: &str| s.to_string())
}

fn case(
    name: &'static str,
    base: Box<dyn Fn(&str) -> String>,
    at: &'static str,
    key: &'static str,
    message: &'static str,
) -> Case {
    Case {
        name,
        base,
        amendment: same(),
        in_file: "contract.toml",
        at,
        nth: 0,
        key,
        message,
    }
}

fn in_amendment(
    name: &'static str,
    amendment: Box<dyn Fn(&str) -> String>,
    at: &'static str,
    key: &'static str,
    message: &'static str,
) -> Case {
    Case {
        name,
        base: same(),
        amendment,
        in_file: AMENDMENT_FILE,
        at,
        nth: 0,
        key,
        message,
    }
}

fn position(text: &str, needle: &str, nth: usize) -> (u32, u32) {
    let offset = text
        .match_indices(needle)
        .nth(nth)
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("needle {needle:?} not found"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line as u32, col as u32)
}

fn cases() -> Vec<Case> {
    vec![
        case("syntax error: unclosed string", replace("title = \"通信行业客服工作准则合同\"", "title = \"通信行业客服工作准则合同"), "\nsigned_on", "", "TOML syntax error: invalid basic string"),
        case("syntax error: duplicate key", replace("term_years = 2 ", "term_years = 2\nterm_years = 3 "), "term_years = 3", "", "TOML syntax error: duplicate key"),
        case("unknown key with a close match", replace("term_years = 2", "term_yeras = 2"), "term_yeras", "contract.term_yeras", "unknown key `term_yeras` (did you mean `term_years`?)"),
        case("unknown key far from any known", replace("unit = \"call_minute\"\n", "unit = \"call_minute\"\nbananas = 1\n"), "bananas", "channels.phone.fee.bananas", "unknown key `bananas`; known keys here: clause, increment, increment_rounding, rate, unit"),
        case("unknown channel", replace("[channels.onsite]\n", "[channels.onsight]\n"), "onsight", "channels.onsight", "unknown channel `onsight`; channels are \"phone\", \"chat\", \"email\", \"onsite\" (did you mean `onsite`?)"),
        case("unknown target for the channel", replace("[channels.chat.targets.average_response_time]", "[channels.chat.targets.average_speed_of_answer]"), "average_speed_of_answer]", "channels.chat.targets.average_speed_of_answer", "unknown target `average_speed_of_answer` for the chat channel; its targets are \"average_response_time\" (did you mean `average_response_time`?)").nth(1),
        case("duration without unit", replace("max = \"5s\"", "max = 5"), "5\n", "channels.phone.targets.average_speed_of_answer.max", "expected a duration with a unit like \"5s\" or \"5min\", found the bare number 5"),
        case("duration with ambiguous m", replace("max = \"3s\"", "max = \"3m\""), "\"3m\"", "channels.chat.targets.average_response_time.max", "\"m\" is ambiguous (minutes or months?): write \"3min\" for minutes"),
        case("duration with unknown unit", replace("max = \"24h\"", "max = \"24 hours\""), "\"24 hours\"", "channels.email.targets.reply_time.max", "unknown unit \"hours\"; use ms, s, min, h or d"),
        case("time target implausibly long", replace("max = \"5s\"", "max = \"5d\""), "\"5d\"", "channels.phone.targets.average_speed_of_answer.max", "expected a time target above 0s and at most 3min, found \"5d\"; check the unit"),
        case("target above 100%", replace("min = \"95%\"", "min = \"105%\""), "\"105%\"", "channels.phone.targets.connection_rate.min", "expected a percentage from 0% to 100% like \"95%\", found 105%, which is outside 0%–100%"),
        case("percentage as a float", replace("min = \"95%\"", "min = 0.95"), "0.95", "channels.phone.targets.connection_rate.min", "found the number 0.95; write percentages as strings with a % sign"),
        case("percentage without sign", replace("vat_rate = \"6%\"", "vat_rate = \"6\""), "\"6\"", "billing.vat_rate", "a percentage needs the % sign"),
        case("money as a float", replace("rate = \"0.60\"", "rate = 0.60"), "0.60 ", "channels.phone.fee.rate", "found the float 0.60; write money as a string, like \"0.60\", so it stays exact"),
        case("negative money", replace("rate = \"6.50\"", "rate = \"-6.50\""), "\"-6.50\"", "channels.email.fee.rate", "expected an amount as a decimal string like \"0.60\", found -6.50, which is negative"),
        case("fee unit of another channel", replace("unit = \"reply\"", "unit = \"visit\""), "\"visit\"", "channels.email.fee.unit", "expected one of \"reply\", found \"visit\""),
        case("increment on a per-item unit", replace("unit = \"visit\"\n", "unit = \"visit\"\nincrement = \"60s\"\n"), "\"60s\"\nrate = \"380.00\"", "channels.onsite.fee.increment", "`increment` applies only to time-based units"),
        case("window closes before it opens", replace("windows = [\"08:00-22:00\"]", "windows = [\"22:00-08:00\"]"), "\"22:00-08:00\"", "channels.chat.hours.windows[0]", "expected a window like \"08:00-22:00\", found \"22:00-08:00\""),
        case("overlapping windows", replace("windows = [\"09:00-12:00\", \"13:30-17:30\"]", "windows = [\"09:00-14:00\", \"13:30-17:30\"]"), "[\"09:00-14:00\"", "channels.onsite.hours.windows", "overlap"),
        case("unknown hours kind", replace("kind = \"always\"", "kind = \"allways\""), "\"allways\"", "channels.phone.hours.kind", "expected one of \"always\", \"daily\", \"weekly\", \"working_days\", found \"allways\" (did you mean \"always\"?)"),
        case("windows on a 24x7 channel", replace("kind = \"always\"\n", "kind = \"always\"\nwindows = [\"08:00-22:00\"]\n"), "[\"08:00-22:00\"]\n\n[channels.phone.targets", "channels.phone.hours.windows", "`windows` does not apply to kind = \"always\""),
        case("missing required key", replace("number = \"GDT-KF-2026-0017\"                       # 合同编号\n", ""), "[contract]", "contract.number", "missing key `number` (the contract number (合同编号))"),
        case("effective before signing", replace("effective_from = 2026-01-01", "effective_from = 2025-12-01"), "2025-12-01", "contract.effective_from", "the contract takes effect on 2025-12-01, before it is signed on 2025-12-26"),
        case("bad date", replace("signed_on = 2025-12-26", "signed_on = \"26/12/2025\""), "\"26/12/2025\"", "contract.signed_on", "expected a date like 2026-01-01, found \"26/12/2025\""),
        case("unknown time zone", replace("time_zone = \"Asia/Shanghai\"", "time_zone = \"Asia/Beijing\""), "\"Asia/Beijing\"", "contract.time_zone", "expected an IANA time zone name like \"Asia/Shanghai\", found \"Asia/Beijing\""),
        case("missing holiday year for working-day hours", replace("term_years = 2", "term_years = 3"), "\"working_days\"", "channels.onsite.hours.kind", "no data for 2028 (kefu has 2024–2027)"),
        case("penalty names a target that does not exist", replace("target = \"phone.connection_rate\"", "target = \"phone.conection_rate\""), "\"phone.conection_rate\"", "penalties[0].target", "no such target \"phone.conection_rate\" in this contract; its targets are"),
        case("penalty step of the wrong kind", replace("step = \"1s\"                                        # per second", "step = \"1%\"                                        # per second"), "\"1%\"                                        # per second", "penalties[1].step", "target \"phone.average_speed_of_answer\" is measured in time, so the step must be a duration like \"1s\""),
        case("penalty with a key its formula does not use", replace("formula = \"fixed\"\namount = \"50000.00\"", "formula = \"fixed\"\namount = \"50000.00\"\nrate = \"7%\""), "\"7%\"", "penalties[6].rate", "`rate` is not used by formula \"fixed\""),
        case("short-abandon formula without threshold", replace("short_abandon = \"5s\"", "short_abandon = \"0s\""), "\"0s\"", "channels.phone.targets.connection_rate.short_abandon", "needs a short_abandon threshold above 0s"),
        case("attachment numbered twice", replace("no = 10\n", "no = 9\n"), "9\ntitle = \"违约金支付凭证\"", "attachments", "attachment number 9 appears twice"),
        case("invoice day out of range", replace("invoice_day = 5", "invoice_day = 31"), "31", "billing.invoice_day", "expected a day of the month from 1 to 28, found 31"),
        case("missing amendment file", replace("amendments = [\"amendment-2027-01.toml\"]", "amendments = [\"amendment-2027-02.toml\"]"), "\"amendment-2027-02.toml\"", "contract.amendments", "cannot read amendment file \"amendment-2027-02.toml\""),
        case("wrong format version", replace("kefu = 1 ", "kefu = 2 "), "2 ", "kefu", "expected the format version from 1 to 1, found 2"),
        case("no opening windows", replace("windows = [\"08:00-22:00\"]", "windows = []"), "[]", "channels.chat.hours.windows", "expected at least one window like \"08:00-22:00\"; a channel with no hours is never open"),
        case("control character in a text", replace("title = \"通信行业客服工作准则合同\"", "title = \"通信\\u0000行业\""), "\"通信\\u0000行业\"", "contract.title", "found a control character U+0000 in the text"),
        case("answer target written in minutes", replace("max = \"5s\"", "max = \"5min\""), "\"5min\"", "channels.phone.targets.average_speed_of_answer.max", "at most 3min, found \"5min\"; check the unit"),
        in_amendment("amendment replaces a list without saying so", replace("[articles.set.channels.phone.fee]\nrate = \"0.55\"", "[[articles.set.penalties]]\nclause = \"附录二.4\"\nbreach = \"confidentiality_incident\"\nformula = \"fixed\"\namount = \"1.00\""), "[[articles.set.penalties]]", "penalties", "setting `penalties` replaces the whole list; add `replace = [\"penalties\"]`"),
        in_amendment("two articles of one amendment change the same setting", replace("[articles.set.channels.chat.targets.average_response_time]\nmax = \"2s\"", "[articles.set.channels.phone.fee]\nrate = \"0.56\""), "\"0.56\"", "channels.phone.fee.rate", "articles 第一条 and 第二条 of \"GDT-KF-2026-0017-补1\" both change `channels.phone.fee.rate`"),
        in_amendment("amendment ends the contract before it takes effect", replace("[articles.set.channels.phone.fee]\nrate = \"0.55\"", "[articles.set.contract]\nterm_years = 1"), "2027-01-01\n", "amendment.effective_from", "with this amendment the contract ends on 2026-12-31, before the amendment takes effect (2027-01-01)"),
        in_amendment("amendment replaces something the contract does not have", replace("no = \"第一条\"\n", "no = \"第一条\"\nreplace = [\"channels.fax\"]\n"), "\"channels.fax\"", "articles[0].replace", "`channels.fax` is not in the contract, so there is nothing to replace"),
        in_amendment("amendment for another contract", replace("amends = \"GDT-KF-2026-0017\"", "amends = \"GDT-KF-2026-0099\""), "\"GDT-KF-2026-0099\"", "amendment.amends", "this amendment amends contract \"GDT-KF-2026-0099\", but it is listed by contract \"GDT-KF-2026-0017\""),
        in_amendment("amendment before the contract", replace("effective_from = 2027-01-01", "effective_from = 2025-06-01"), "2025-06-01", "amendment.effective_from", "the amendment takes effect on 2025-06-01, before the contract does (2026-01-01)"),
        in_amendment("amendment after the contract ended", replace("effective_from = 2027-01-01", "effective_from = 2029-01-01"), "2029-01-01", "amendment.effective_from", "after the contract has ended (2027-12-31)"),
        in_amendment("amendment sets an unknown key", replace("rate = \"0.55\"", "rat = \"0.55\""), "rat =", "channels.phone.fee.rat", "unknown key `rat` (did you mean `rate`?)"),
        in_amendment("amendment sets a bad value", replace("max = \"2s\"", "max = \"2\""), "\"2\"", "channels.chat.targets.average_response_time.max", "a duration needs a unit"),
        in_amendment("amendment changes the contract number", replace("[articles.set.channels.phone.fee]\nrate = \"0.55\"", "[articles.set.contract]\nnumber = \"X\""), "\"X\"", "contract.number", "an amendment cannot change `contract.number`"),
        in_amendment("amendment article without settings", replace("[articles.set.channels.phone.fee]\nrate = \"0.55\"", "[articles.set]"), "[articles.set]", "articles[0].set", "the article changes nothing"),
    ]
}

#[test]
fn broken_contracts_are_refused_with_message_and_position() {
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 25, "at least 25 broken documents");
    for c in &all {
        let base = (c.base)(CONTRACT);
        let amendment = (c.amendment)(AMENDMENT);
        let result = load_files(&base, &[(AMENDMENT_FILE, &amendment)]);
        let diags = match result {
            Ok(_) => {
                failures.push(format!("{}: accepted", c.name));
                continue;
            }
            Err(d) => d,
        };
        let text = if c.in_file == AMENDMENT_FILE {
            &amendment
        } else {
            &base
        };
        let (line, column) = position(text, c.at, c.nth);
        let hit = diags.iter().find(|d| {
            d.position.file == c.in_file
                && d.position.line == line
                && d.position.column == column
                && d.key == c.key
                && d.message.contains(c.message)
        });
        if hit.is_none() {
            failures.push(format!(
                "{}: wanted {}:{line}:{column}: {}: …{}…\n   got:\n{}",
                c.name,
                c.in_file,
                c.key,
                c.message,
                diags
                    .iter()
                    .map(|d| format!("      {d}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn several_errors_are_reported_in_one_run_in_file_order() {
    let base = CONTRACT
        .replacen("term_years = 2", "term_yeras = 2", 1)
        .replacen("min = \"95%\"", "min = \"195%\"", 1)
        .replacen("rate = \"6.50\"", "rate = 6.5", 1);
    let d = load_files(&base, &[(AMENDMENT_FILE, AMENDMENT)])
        .map(|_| ())
        .expect_err("broken");
    let keys: Vec<&str> = d.iter().map(|d| d.key.as_str()).collect();
    assert!(keys.contains(&"contract.term_yeras"), "{d}");
    assert!(
        keys.contains(&"channels.phone.targets.connection_rate.min"),
        "{d}"
    );
    assert!(keys.contains(&"channels.email.fee.rate"), "{d}");
    let lines: Vec<u32> = d.iter().map(|d| d.position.line).collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted, "diagnostics come in file order");
}

#[test]
fn two_amendments_on_the_same_day_changing_the_same_setting_overlap() {
    let second = AMENDMENT
        .replace("GDT-KF-2026-0017-补1", "GDT-KF-2026-0017-补2")
        .replace("rate = \"0.55\"", "rate = \"0.58\"");
    let base = CONTRACT.replacen(
        "amendments = [\"amendment-2027-01.toml\"]",
        "amendments = [\"amendment-2027-01.toml\", \"amendment-2027-01b.toml\"]",
        1,
    );
    let d = load_files(
        &base,
        &[
            (AMENDMENT_FILE, AMENDMENT),
            ("amendment-2027-01b.toml", &second),
        ],
    )
    .map(|_| ())
    .expect_err("overlap");
    let (line, column) = position(&second, "\"0.58\"", 0);
    assert!(
        d.iter().any(|x| x.position.file == "amendment-2027-01b.toml"
            && (x.position.line, x.position.column) == (line, column)
            && x.message.contains("overlapping amendments: \"GDT-KF-2026-0017-补1\" and \"GDT-KF-2026-0017-补2\" both change `channels.phone.fee.rate` from 2027-01-01")),
        "{d}"
    );
}

#[test]
fn an_article_can_replace_a_whole_table_or_list() {
    let amendment = AMENDMENT.replacen(
        "no = \"第二条\"\n",
        "no = \"第二条\"\nreplace = [\"channels.chat.hours\", \"penalties\"]\n",
        1,
    )
    .replacen(
        "[articles.set.channels.chat.targets.average_response_time]\nmax = \"2s\"",
        "[articles.set.channels.chat.hours]\nclause = \"2.1.2\"\nkind = \"always\"\n\n[[articles.set.penalties]]\nclause = \"附录二.4\"\nbreach = \"confidentiality_incident\"\nformula = \"fixed\"\namount = \"80000.00\"",
        1,
    );
    let doc =
        load_files(CONTRACT, &[(AMENDMENT_FILE, &amendment)]).unwrap_or_else(|d| panic!("{d}"));
    let t = doc.terms_on(date(2027, 2, 1)).expect("in force");
    let chat = t.contract.channel(ChannelKind::Chat).expect("chat");
    assert_eq!(
        chat.hours.hours,
        ServiceHours::Always,
        "the base's windows are gone, not merged"
    );
    assert_eq!(t.contract.penalties.len(), 1);
    let before = doc.terms_on(date(2026, 12, 1)).expect("in force");
    assert_eq!(before.contract.penalties.len(), 8);
}

#[test]
fn a_term_from_29_february_ends_the_day_before_its_anniversary() {
    let base = CONTRACT
        .replacen("signed_on = 2025-12-26", "signed_on = 2024-02-29", 1)
        .replacen(
            "effective_from = 2026-01-01",
            "effective_from = 2024-02-29",
            1,
        )
        .replacen("term_years = 2", "term_years = 1", 1)
        .replacen(
            "amendments = [\"amendment-2027-01.toml\"]",
            "amendments = []",
            1,
        );
    let doc = load_files(&base, &[]).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(doc.base().ends_on, date(2025, 2, 28));
    assert!(doc.terms_on(date(2025, 2, 28)).is_ok());
    assert!(doc.terms_on(date(2025, 3, 1)).is_err());
}

#[test]
fn a_later_amendment_overrides_an_earlier_one_from_its_own_date() {
    let second = AMENDMENT
        .replace("GDT-KF-2026-0017-补1", "GDT-KF-2026-0017-补2")
        .replace("effective_from = 2027-01-01", "effective_from = 2027-07-01")
        .replace("rate = \"0.55\"", "rate = \"0.52\"");
    let base = CONTRACT.replacen(
        "amendments = [\"amendment-2027-01.toml\"]",
        "amendments = [\"amendment-2027-07.toml\", \"amendment-2027-01.toml\"]",
        1,
    );
    let doc = load_files(
        &base,
        &[
            (AMENDMENT_FILE, AMENDMENT),
            ("amendment-2027-07.toml", &second),
        ],
    )
    .expect("valid");
    let rate = |d| {
        doc.terms_on(d)
            .expect("in force")
            .contract
            .channel(ChannelKind::Phone)
            .expect("phone")
            .fee
            .rate
            .to_string()
    };
    assert_eq!(rate(date(2026, 6, 1)), "0.60");
    assert_eq!(rate(date(2027, 3, 1)), "0.55");
    assert_eq!(rate(date(2027, 7, 1)), "0.52");
    let t = doc.terms_on(date(2027, 8, 1)).expect("in force");
    let rate_source: Vec<&str> = t
        .amended_settings
        .iter()
        .filter(|s| s.key == "channels.phone.fee.rate")
        .map(|s| s.amendment.as_str())
        .collect();
    assert_eq!(rate_source, ["GDT-KF-2026-0017-补2"]);
    assert_eq!(
        doc.effective_dates(),
        [date(2026, 1, 1), date(2027, 1, 1), date(2027, 7, 1)]
    );
}
