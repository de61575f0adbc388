//! The contract's staff terms (clauses 3.1, 3.2 and 5.2) applied to one person's records:
//! which certificates a channel needs (附件5), how long a training or an assessment (考核)
//! stays current, the assessment pass mark, and whether a signed NDA (附件7) is required.
//! [`check`] says, for one channel and one day, what bars the person from the channel
//! ([`Flag`]) and what will soon ([`Warning`]). Pure: the records come from the caller.

use jiff::civil::Date;
use serde::Serialize;

use crate::contract::{ChannelKind, Duration, StaffPolicy};

/// Days before a certificate expires or a training/assessment falls due that a warning shows.
pub const DEFAULT_WARN_DAYS: u16 = 30;

/// A qualification certificate (资格证书).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Certificate {
    /// The certificate's name as the contract lists it, e.g. "呼叫中心服务员(四级)".
    pub name: String,
    /// Its number (证书编号).
    pub number: String,
    pub issued_on: Option<Date>,
    /// Last day it is valid; `None`: it does not expire.
    pub expires_on: Option<Date>,
}

/// One training attended (培训记录).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Training {
    pub course: String,
    pub held_on: Date,
    /// Length in whole minutes (no floating-point hours).
    pub minutes: u32,
    pub trainer: Option<String>,
    /// E.g. "合格" / "completed"; free text.
    pub result: Option<String>,
}

/// One assessment taken (考核).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub held_on: Date,
    /// What was assessed; empty when there is only one kind.
    pub title: String,
    /// Out of 100.
    pub score: u8,
    /// The pass mark the assessment was held under, out of 100.
    pub pass_score: u8,
}

impl Assessment {
    /// Passed under its own pass mark.
    pub fn passed(&self) -> bool {
        self.score >= self.pass_score
    }
}

/// A signed confidentiality agreement (保密协议).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Nda {
    pub signed_on: Date,
    /// SHA-256 (hex) of the signed document, when it was filed.
    pub document_sha256: Option<String>,
}

/// Everything the policy looks at for one person.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StaffRecords {
    pub certificates: Vec<Certificate>,
    pub trainings: Vec<Training>,
    pub assessments: Vec<Assessment>,
    pub ndas: Vec<Nda>,
}

/// Why a person may not work a channel today.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Flag {
    /// No certificate of this name at all.
    MissingCertificate { channel: ChannelKind, name: String },
    /// Only expired certificates of this name; `expired_on` is the latest expiry.
    ExpiredCertificate {
        channel: ChannelKind,
        name: String,
        number: String,
        expired_on: Date,
    },
    /// The contract requires a signed NDA and there is none.
    NoNda,
    /// Never assessed.
    NoAssessment,
    /// The latest assessment scored under the contract's pass mark.
    FailedAssessment {
        held_on: Date,
        score: u8,
        pass_score: u8,
    },
    /// The latest assessment is older than the contract's assessment interval.
    AssessmentOverdue { last: Date, due: Date },
    /// Never trained.
    NoTraining,
    /// The latest training is older than the contract's training interval.
    TrainingOverdue { last: Date, due: Date },
}

impl Flag {
    /// The reason in English (for the API, the log and the chat socket).
    pub fn reason(&self) -> String {
        match self {
            Flag::MissingCertificate { channel, name } => {
                format!("no certificate \"{name}\" (required for {})", channel.key())
            }
            Flag::ExpiredCertificate {
                channel,
                name,
                number,
                expired_on,
            } => format!(
                "certificate \"{name}\" ({number}) expired on {expired_on} (required for {})",
                channel.key()
            ),
            Flag::NoNda => "no signed NDA on file (clause 5.2 requires one)".to_owned(),
            Flag::NoAssessment => {
                "never assessed (clause 3.2 requires regular assessment)".to_owned()
            }
            Flag::FailedAssessment {
                held_on,
                score,
                pass_score,
            } => format!("failed the last assessment on {held_on}: {score} < {pass_score}"),
            Flag::AssessmentOverdue { last, due } => {
                format!("assessment overdue since {due} (last on {last})")
            }
            Flag::NoTraining => {
                "no training on record (clause 3.2 requires regular training)".to_owned()
            }
            Flag::TrainingOverdue { last, due } => {
                format!("training overdue since {due} (last on {last})")
            }
        }
    }

    /// The reason in Chinese (for the console).
    pub fn reason_zh(&self) -> String {
        match self {
            Flag::MissingCertificate { channel, name } => {
                format!("缺少{}所需证书「{name}」", channel.label_zh())
            }
            Flag::ExpiredCertificate {
                channel,
                name,
                number,
                expired_on,
            } => format!(
                "{}所需证书「{name}」({number})已于 {expired_on} 过期",
                channel.label_zh()
            ),
            Flag::NoNda => "未签署保密协议(合同 5.2)".to_owned(),
            Flag::NoAssessment => "没有考核记录(合同 3.2)".to_owned(),
            Flag::FailedAssessment {
                held_on,
                score,
                pass_score,
            } => format!("{held_on} 最近一次考核未通过:{score} 分,合格线 {pass_score} 分"),
            Flag::AssessmentOverdue { last, due } => {
                format!("考核已逾期(应于 {due} 前考核,上次 {last})")
            }
            Flag::NoTraining => "没有培训记录(合同 3.2)".to_owned(),
            Flag::TrainingOverdue { last, due } => {
                format!("培训已逾期(应于 {due} 前培训,上次 {last})")
            }
        }
    }
}

/// Something that will become a [`Flag`] within the warning window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    CertificateExpiring {
        channel: ChannelKind,
        name: String,
        number: String,
        expires_on: Date,
        days_left: i32,
    },
    TrainingDue {
        due: Date,
        days_left: i32,
    },
    AssessmentDue {
        due: Date,
        days_left: i32,
    },
}

impl Warning {
    pub fn reason(&self) -> String {
        match self {
            Warning::CertificateExpiring {
                channel,
                name,
                number,
                expires_on,
                days_left,
            } => format!(
                "certificate \"{name}\" ({number}) for {} expires on {expires_on}, in {days_left} days",
                channel.key()
            ),
            Warning::TrainingDue { due, days_left } => {
                format!("training due by {due}, in {days_left} days")
            }
            Warning::AssessmentDue { due, days_left } => {
                format!("assessment due by {due}, in {days_left} days")
            }
        }
    }

    pub fn reason_zh(&self) -> String {
        match self {
            Warning::CertificateExpiring {
                channel,
                name,
                number,
                expires_on,
                days_left,
            } => format!(
                "{}所需证书「{name}」({number})将于 {expires_on} 过期,还有 {days_left} 天",
                channel.label_zh()
            ),
            Warning::TrainingDue { due, days_left } => {
                format!("应于 {due} 前参加培训,还有 {days_left} 天")
            }
            Warning::AssessmentDue { due, days_left } => {
                format!("应于 {due} 前参加考核,还有 {days_left} 天")
            }
        }
    }
}

/// The outcome of [`check`]: empty `flags` means the person may work the channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Standing {
    pub flags: Vec<Flag>,
    pub warnings: Vec<Warning>,
}

impl Standing {
    pub fn is_clear(&self) -> bool {
        self.flags.is_empty()
    }
}

/// Whole days of a contract interval (the parser guarantees at least one day).
fn whole_days(d: Duration) -> i64 {
    i64::try_from(d.as_millis() / 86_400_000).unwrap_or(i64::MAX)
}

fn add_days(day: Date, days: i64) -> Date {
    jiff::Span::new()
        .try_days(days)
        .ok()
        .and_then(|s| day.checked_add(s).ok())
        .unwrap_or(Date::MAX)
}

/// Days from `today` to `later` (negative when `later` has passed).
fn days_between(today: Date, later: Date) -> i32 {
    (later - today).get_days()
}

/// The person's standing on `channel` on `today` under `policy`. `warn_days`: how many days
/// ahead an expiry or a due date is warned about (see [`DEFAULT_WARN_DAYS`]).
///
/// Records dated after `today` are ignored (a certificate issued tomorrow does not count yet).
/// An assessment is failed when it scored under the *contract's* pass mark: the contract is
/// what the provider is held to, whatever mark the exam itself used.
pub fn check(
    policy: &StaffPolicy,
    channel: ChannelKind,
    records: &StaffRecords,
    today: Date,
    warn_days: u16,
) -> Standing {
    let mut s = Standing::default();
    let warn = i32::from(warn_days);

    for name in policy.certificates.get(&channel).into_iter().flatten() {
        let named = records
            .certificates
            .iter()
            .filter(|c| &c.name == name && c.issued_on.is_none_or(|d| d <= today));
        // The valid one lasting longest decides; without any, the one expired last is named.
        let valid = named
            .clone()
            .filter(|c| c.expires_on.is_none_or(|e| e >= today))
            .max_by_key(|c| c.expires_on.unwrap_or(Date::MAX));
        match valid {
            Some(c) => {
                if let Some(e) = c.expires_on {
                    let left = days_between(today, e);
                    if left <= warn {
                        s.warnings.push(Warning::CertificateExpiring {
                            channel,
                            name: name.clone(),
                            number: c.number.clone(),
                            expires_on: e,
                            days_left: left,
                        });
                    }
                }
            }
            None => match named.max_by_key(|c| c.expires_on) {
                Some(c) => s.flags.push(Flag::ExpiredCertificate {
                    channel,
                    name: name.clone(),
                    number: c.number.clone(),
                    expired_on: c.expires_on.unwrap_or(today),
                }),
                None => s.flags.push(Flag::MissingCertificate {
                    channel,
                    name: name.clone(),
                }),
            },
        }
    }

    if policy.nda_required && !records.ndas.iter().any(|n| n.signed_on <= today) {
        s.flags.push(Flag::NoNda);
    }

    // The latest assessment (the later one in the list when two share a day).
    let last_assessment = records
        .assessments
        .iter()
        .enumerate()
        .filter(|(_, a)| a.held_on <= today)
        .max_by_key(|(i, a)| (a.held_on, *i))
        .map(|(_, a)| a);
    match last_assessment {
        None => s.flags.push(Flag::NoAssessment),
        Some(a) => {
            if a.score < policy.assessment_pass_score {
                s.flags.push(Flag::FailedAssessment {
                    held_on: a.held_on,
                    score: a.score,
                    pass_score: policy.assessment_pass_score,
                });
            }
            let due = add_days(a.held_on, whole_days(policy.assessment_interval));
            due_or_overdue(&mut s, a.held_on, due, today, warn, true);
        }
    }

    match records
        .trainings
        .iter()
        .map(|t| t.held_on)
        .filter(|d| *d <= today)
        .max()
    {
        None => s.flags.push(Flag::NoTraining),
        Some(last) => {
            let due = add_days(last, whole_days(policy.training_interval));
            due_or_overdue(&mut s, last, due, today, warn, false);
        }
    }
    s
}

fn due_or_overdue(
    s: &mut Standing,
    last: Date,
    due: Date,
    today: Date,
    warn: i32,
    assessment: bool,
) {
    let left = days_between(today, due);
    if left < 0 {
        s.flags.push(if assessment {
            Flag::AssessmentOverdue { last, due }
        } else {
            Flag::TrainingOverdue { last, due }
        });
    } else if left <= warn {
        s.warnings.push(if assessment {
            Warning::AssessmentDue {
                due,
                days_left: left,
            }
        } else {
            Warning::TrainingDue {
                due,
                days_left: left,
            }
        });
    }
}

/// The standing on each of `channels` (the flags not about certificates are the same on
/// every channel).
pub fn check_channels(
    policy: &StaffPolicy,
    channels: &[ChannelKind],
    records: &StaffRecords,
    today: Date,
    warn_days: u16,
) -> Vec<(ChannelKind, Standing)> {
    channels
        .iter()
        .map(|c| (*c, check(policy, *c, records, today, warn_days)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use jiff::civil::date;
    use proptest::prelude::*;

    use super::*;

    const CERT: &str = "呼叫中心服务员(四级)";

    fn policy() -> StaffPolicy {
        let mut certificates = BTreeMap::new();
        certificates.insert(ChannelKind::Chat, vec![CERT.to_owned()]);
        certificates.insert(
            ChannelKind::Onsite,
            vec![
                "呼叫中心服务员(三级)".to_owned(),
                "通信业务营业员".to_owned(),
            ],
        );
        StaffPolicy {
            clause: "3.2".to_owned(),
            nda_required: true,
            training_interval: Duration::from_secs(90 * 86_400),
            assessment_interval: Duration::from_secs(180 * 86_400),
            assessment_pass_score: 80,
            certificates,
        }
    }

    fn cert(name: &str, number: &str, expires: Option<Date>) -> Certificate {
        Certificate {
            name: name.to_owned(),
            number: number.to_owned(),
            issued_on: Some(date(2024, 1, 1)),
            expires_on: expires,
        }
    }

    fn training(on: Date) -> Training {
        Training {
            course: "宽带故障处理".to_owned(),
            held_on: on,
            minutes: 120,
            trainer: None,
            result: None,
        }
    }

    fn assessment(on: Date, score: u8) -> Assessment {
        Assessment {
            held_on: on,
            title: String::new(),
            score,
            pass_score: 80,
        }
    }

    /// Compliant on 2026-03-01 for chat, nothing due within 30 days.
    fn fresh() -> StaffRecords {
        StaffRecords {
            certificates: vec![cert(CERT, "C-1", Some(date(2027, 1, 1)))],
            trainings: vec![training(date(2026, 2, 1))],
            assessments: vec![assessment(date(2026, 1, 15), 90)],
            ndas: vec![Nda {
                signed_on: date(2025, 12, 1),
                document_sha256: None,
            }],
        }
    }

    const TODAY: Date = date(2026, 3, 1);

    #[test]
    fn table_of_flags_and_warnings() {
        type Edit = fn(&mut StaffRecords);
        /// What, on which channel, the edit of the fresh records, the flags and warnings expected.
        type Case = (
            &'static str,
            ChannelKind,
            Edit,
            Vec<&'static str>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            ("fresh", ChannelKind::Chat, |_| {}, vec![], vec![]),
            (
                "no certificate",
                ChannelKind::Chat,
                |r| r.certificates.clear(),
                vec!["missing_certificate"],
                vec![],
            ),
            (
                "expired yesterday",
                ChannelKind::Chat,
                |r| r.certificates[0].expires_on = Some(date(2026, 2, 28)),
                vec!["expired_certificate"],
                vec![],
            ),
            (
                "expires today: still valid, warned",
                ChannelKind::Chat,
                |r| r.certificates[0].expires_on = Some(TODAY),
                vec![],
                vec!["certificate_expiring"],
            ),
            (
                "an expired and a valid one: the valid one counts",
                ChannelKind::Chat,
                |r| {
                    r.certificates
                        .push(cert(CERT, "C-0", Some(date(2025, 1, 1))))
                },
                vec![],
                vec![],
            ),
            (
                "another channel's certificate does not count",
                ChannelKind::Onsite,
                |_| {},
                vec!["missing_certificate", "missing_certificate"],
                vec![],
            ),
            (
                "phone needs no certificate under this policy",
                ChannelKind::Phone,
                |r| r.certificates.clear(),
                vec![],
                vec![],
            ),
            (
                "no NDA",
                ChannelKind::Chat,
                |r| r.ndas.clear(),
                vec!["no_nda"],
                vec![],
            ),
            (
                "NDA signed tomorrow does not count yet",
                ChannelKind::Chat,
                |r| r.ndas[0].signed_on = date(2026, 3, 2),
                vec!["no_nda"],
                vec![],
            ),
            (
                "failed the last assessment",
                ChannelKind::Chat,
                |r| r.assessments.push(assessment(date(2026, 2, 20), 79)),
                vec!["failed_assessment"],
                vec![],
            ),
            (
                "failed, then passed a retake",
                ChannelKind::Chat,
                |r| {
                    r.assessments = vec![
                        assessment(date(2026, 2, 10), 60),
                        assessment(date(2026, 2, 20), 80),
                    ]
                },
                vec![],
                vec![],
            ),
            (
                "never assessed",
                ChannelKind::Chat,
                |r| r.assessments.clear(),
                vec!["no_assessment"],
                vec![],
            ),
            (
                "assessment 181 days ago",
                ChannelKind::Chat,
                |r| r.assessments[0].held_on = date(2025, 9, 1),
                vec!["assessment_overdue"],
                vec![],
            ),
            (
                "assessment due in 10 days",
                ChannelKind::Chat,
                |r| r.assessments[0].held_on = date(2025, 9, 12),
                vec![],
                vec!["assessment_due"],
            ),
            (
                "never trained",
                ChannelKind::Chat,
                |r| r.trainings.clear(),
                vec!["no_training"],
                vec![],
            ),
            (
                "training 91 days ago",
                ChannelKind::Chat,
                |r| r.trainings[0].held_on = date(2025, 11, 30),
                vec!["training_overdue"],
                vec![],
            ),
            (
                "training exactly 90 days ago: due today, warned",
                ChannelKind::Chat,
                |r| r.trainings[0].held_on = date(2025, 12, 1),
                vec![],
                vec!["training_due"],
            ),
        ];
        for (what, channel, edit, flags, warnings) in cases {
            let mut r = fresh();
            edit(&mut r);
            let s = check(&policy(), channel, &r, TODAY, DEFAULT_WARN_DAYS);
            let kinds = |v: serde_json::Value| -> Vec<String> {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| x["kind"].as_str().unwrap_or("?").to_owned())
                    .collect()
            };
            let got_flags = kinds(serde_json::to_value(&s.flags).expect("json"));
            let got_warnings = kinds(serde_json::to_value(&s.warnings).expect("json"));
            assert_eq!(got_flags, flags, "{what}: flags {:?}", s.flags);
            assert_eq!(got_warnings, warnings, "{what}: warnings {:?}", s.warnings);
        }
    }

    #[test]
    fn reasons_name_the_certificate_and_the_dates() {
        let mut r = fresh();
        r.certificates[0].expires_on = Some(date(2026, 2, 1));
        let s = check(&policy(), ChannelKind::Chat, &r, TODAY, 30);
        assert_eq!(
            s.flags[0].reason(),
            "certificate \"呼叫中心服务员(四级)\" (C-1) expired on 2026-02-01 (required for chat)"
        );
        assert!(s.flags[0].reason_zh().contains("已于 2026-02-01 过期"));
    }

    #[test]
    fn the_warning_window_is_an_argument() {
        let r = fresh(); // training due 2026-05-02, 62 days ahead
        assert!(
            check(&policy(), ChannelKind::Chat, &r, TODAY, 30)
                .warnings
                .is_empty()
        );
        let s = check(&policy(), ChannelKind::Chat, &r, TODAY, 62);
        assert_eq!(
            s.warnings,
            vec![Warning::TrainingDue {
                due: date(2026, 5, 2),
                days_left: 62
            }]
        );
    }

    fn any_day() -> impl Strategy<Value = Date> {
        (0i64..3000).prop_map(|n| add_days(date(2024, 1, 1), n))
    }

    proptest! {
        /// Records all fresh on `today`: certificates valid past today, training and
        /// assessment inside their intervals, a passing score, an NDA signed before: no flag.
        #[test]
        fn a_person_with_fresh_records_is_never_flagged(
            today in any_day(),
            cert_left in 0i64..2000,
            trained_ago in 0i64..=90,
            assessed_ago in 0i64..=180,
            score in 80u8..=100,
            nda_ago in 0i64..2000,
            channel in prop::sample::select(ChannelKind::ALL.to_vec()),
        ) {
            let p = policy();
            let certificates = p.certificates.get(&channel).into_iter().flatten().enumerate()
                .map(|(i, n)| Certificate {
                    name: n.clone(),
                    number: format!("N{i}"),
                    issued_on: Some(add_days(today, -3000)),
                    expires_on: Some(add_days(today, cert_left)),
                })
                .collect();
            let r = StaffRecords {
                certificates,
                trainings: vec![training(add_days(today, -trained_ago))],
                assessments: vec![assessment(add_days(today, -assessed_ago), score)],
                ndas: vec![Nda { signed_on: add_days(today, -nda_ago), document_sha256: None }],
            };
            let s = check(&p, channel, &r, today, DEFAULT_WARN_DAYS);
            prop_assert!(s.flags.is_empty(), "{:?}", s.flags);
        }

        /// Whatever else holds, a required certificate past its last day is always flagged,
        /// and one warned about never is.
        #[test]
        fn an_expired_certificate_is_always_flagged(
            today in any_day(),
            expired_ago in 1i64..2000,
            warn in 0u16..365,
        ) {
            let mut r = fresh();
            r.certificates = vec![Certificate {
                name: CERT.to_owned(),
                number: "X".to_owned(),
                issued_on: None,
                expires_on: Some(add_days(today, -expired_ago)),
            }];
            let s = check(&policy(), ChannelKind::Chat, &r, today, warn);
            let flagged = s.flags.iter().any(|f| matches!(f, Flag::ExpiredCertificate { .. }));
            let warned = s.warnings.iter().any(|w| matches!(w, Warning::CertificateExpiring { .. }));
            prop_assert!(flagged && !warned);
        }
    }
}
