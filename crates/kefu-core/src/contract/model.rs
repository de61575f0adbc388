//! The contract as typed, validated terms. A value of [`Contract`] exists only
//! after every rule in `parse` has passed, so later code never re-checks.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::Serialize;

use super::units::{Amount, Duration, Percent};
use crate::calendar::{HolidayCalendar, ServiceCalendar, ServiceHours, Window};

/// A clause number of the paper contract, e.g. "4.1.1" or "附录二.3".
pub type Clause = String;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Contract {
    pub number: String,
    pub title: String,
    pub signed_on: Date,
    /// 合同签订地: where the contract was signed; clause 8.2 names its court.
    pub signed_at: Option<String>,
    pub effective_from: Date,
    pub term_years: u8,
    /// Last day the contract is in force (derived: effective_from + term − 1 day).
    pub ends_on: Date,
    #[serde(serialize_with = "ser_tz")]
    pub time_zone: jiff::tz::TimeZone,
    pub governing_law: String,
    pub parties: Parties,
    pub channels: Channels,
    pub satisfaction: Option<Satisfaction>,
    pub billing: Billing,
    pub penalties: Vec<Penalty>,
    pub staff: StaffPolicy,
    pub staffing: Staffing,
    pub confidentiality: Confidentiality,
    pub disputes: Disputes,
    pub attachments: Vec<Attachment>,
}

fn ser_tz<S: serde::Serializer>(tz: &jiff::tz::TimeZone, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.iana_name().unwrap_or("UTC"))
}

impl Contract {
    pub fn is_in_force_on(&self, day: Date) -> bool {
        self.effective_from <= day && day <= self.ends_on
    }
    pub fn channel(&self, kind: ChannelKind) -> Option<&Channel> {
        self.channels.get(kind)
    }

    /// A channel's business calendar under these terms: its service hours in
    /// the contract's time zone, working days from `holidays`.
    pub fn service_calendar(
        &self,
        kind: ChannelKind,
        holidays: std::sync::Arc<HolidayCalendar>,
    ) -> Option<ServiceCalendar> {
        self.channel(kind).map(|ch| {
            ServiceCalendar::new(ch.hours.hours.clone(), self.time_zone.clone(), holidays)
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Parties {
    /// 甲方: the telecom client.
    pub client: Party,
    /// 乙方: the service provider.
    pub provider: Party,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Party {
    pub name: String,
    pub address: String,
    pub contact: String,
    pub phone: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Phone,
    Chat,
    Email,
    Onsite,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 4] = [
        ChannelKind::Phone,
        ChannelKind::Chat,
        ChannelKind::Email,
        ChannelKind::Onsite,
    ];
    pub fn key(self) -> &'static str {
        match self {
            ChannelKind::Phone => "phone",
            ChannelKind::Chat => "chat",
            ChannelKind::Email => "email",
            ChannelKind::Onsite => "onsite",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            ChannelKind::Phone => "电话客服",
            ChannelKind::Chat => "在线客服",
            ChannelKind::Email => "邮件客服",
            ChannelKind::Onsite => "现场客服",
        }
    }
}

/// The four channels of clause 1.1, keyed by kind; a channel the contract leaves out is absent.
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct Channels(pub BTreeMap<ChannelKind, Channel>);

impl Channels {
    pub fn get(&self, kind: ChannelKind) -> Option<&Channel> {
        self.0.get(&kind)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&ChannelKind, &Channel)> {
        self.0.iter()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Channel {
    pub kind: ChannelKind,
    /// Clause of chapter 1 that describes the work (1.1.1 …).
    pub clause: Clause,
    pub enabled: bool,
    pub hours: Hours,
    pub targets: Vec<Target>,
    pub fee: Fee,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hours {
    pub clause: Clause,
    #[serde(serialize_with = "ser_hours")]
    pub hours: ServiceHours,
    /// What happens to contacts arriving outside service hours.
    pub outside_hours: OutsideHours,
}

fn ser_hours<S: serde::Serializer>(h: &ServiceHours, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let windows = |ws: &[Window]| ws.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    let mut m = s.serialize_map(None)?;
    match h {
        ServiceHours::Always => m.serialize_entry("kind", "always")?,
        ServiceHours::Daily(ws) => {
            m.serialize_entry("kind", "daily")?;
            m.serialize_entry("windows", &windows(ws))?;
        }
        ServiceHours::WorkingDays(ws) => {
            m.serialize_entry("kind", "working_days")?;
            m.serialize_entry("windows", &windows(ws))?;
        }
        ServiceHours::Weekly(days) => {
            m.serialize_entry("kind", "weekly")?;
            for (name, ws) in WEEKDAY_KEYS.iter().zip(days.iter()) {
                m.serialize_entry(name, &windows(ws))?;
            }
        }
    }
    m.end()
}

pub(crate) const WEEKDAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutsideHours {
    /// Nothing special (24×7 channels).
    NotApplicable,
    /// Chat: the customer leaves an offline message that becomes a ticket.
    OfflineMessage,
    /// Email: the reply clock starts when service next opens.
    ClockStartsAtOpening,
    /// Email: the clock runs from receipt even outside hours.
    ClockRunsFromReceipt,
    /// On-site: a request outside working days is scheduled for the next working day.
    NextWorkingDay,
}

/// A quality target of chapter 4, with the settings that define how it is measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    pub clause: Clause,
    /// Whether a breach is judged per day or per billing period.
    pub assessed: Assessment,
    pub metric: Metric,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Assessment {
    Day,
    BillingPeriod,
}

impl Target {
    /// The name of the target inside its channel, e.g. "connection_rate".
    pub fn name(&self) -> &'static str {
        self.metric.name()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "metric", rename_all = "snake_case")]
pub enum Metric {
    /// 接通率: answered ÷ offered ≥ min.
    ConnectionRate {
        min: Percent,
        formula: ConnectionRateFormula,
        /// Abandons shorter than this leave the denominator (only with the `less_short_abandons` formula).
        short_abandon: Duration,
    },
    /// 平均响应时间 (phone): mean (connect − enqueue) over answered calls ≤ max.
    AverageSpeedOfAnswer { max: Duration },
    /// Share of calls answered within a threshold.
    ServiceLevel {
        min: Percent,
        within: Duration,
        formula: ServiceLevelFormula,
    },
    /// 平均响应时间 (chat): mean turn response time ≤ max.
    ChatResponseTime {
        max: Duration,
        definition: ChatResponseDefinition,
        include_automatic_replies: bool,
    },
    /// 回复时间 (email): each customer email replied within `max`; `min_share` of them at least.
    EmailReplyTime {
        max: Duration,
        clock: EmailClock,
        min_share: Percent,
    },
    /// 解答问题准确率 (on-site): correct ÷ reviewed ≥ min.
    AnswerAccuracy { min: Percent, confidence: Percent },
}

impl Metric {
    pub fn name(&self) -> &'static str {
        match self {
            Metric::ConnectionRate { .. } => "connection_rate",
            Metric::AverageSpeedOfAnswer { .. } => "average_speed_of_answer",
            Metric::ServiceLevel { .. } => "service_level",
            Metric::ChatResponseTime { .. } => "average_response_time",
            Metric::EmailReplyTime { .. } => "reply_time",
            Metric::AnswerAccuracy { .. } => "answer_accuracy",
        }
    }
    /// Percentage targets are judged in points, time targets in seconds.
    pub fn is_percentage(&self) -> bool {
        matches!(
            self,
            Metric::ConnectionRate { .. }
                | Metric::ServiceLevel { .. }
                | Metric::AnswerAccuracy { .. }
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionRateFormula {
    /// answered ÷ offered.
    AnsweredOverOffered,
    /// answered ÷ (offered − abandons shorter than `short_abandon`).
    AnsweredOverOfferedLessShortAbandons,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceLevelFormula {
    /// answered within T ÷ offered.
    WithinOverOffered,
    /// answered within T ÷ answered.
    WithinOverAnswered,
    /// answered within T ÷ (offered − short abandons).
    WithinOverOfferedLessShortAbandons,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatResponseDefinition {
    /// Turn = from the first unanswered customer message to the next agent message.
    FirstUnansweredToNextAgentMessage,
    /// Every customer message is timed to the next agent message.
    EachCustomerMessageToNextAgentMessage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailClock {
    /// Wall-clock time from receipt.
    Calendar,
    /// Only time inside the channel's service hours counts.
    ServiceHours,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fee {
    pub clause: Clause,
    pub unit: FeeUnit,
    /// Price per unit, excluding VAT, in the billing currency.
    pub rate: Amount,
    /// For time units: each item's duration is rounded to a multiple of this.
    pub increment: Option<Duration>,
    pub increment_rounding: Option<IncrementRounding>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeUnit {
    /// Phone: per minute of billed talk time (Asterisk billsec).
    CallMinute,
    /// Phone: per second of billed talk time.
    CallSecond,
    /// Chat: per hour an agent is logged in on chat inside service hours.
    AgentHour,
    /// Email: per reply sent.
    Reply,
    /// On-site: per visit.
    Visit,
}

impl FeeUnit {
    pub fn is_time(self) -> bool {
        matches!(
            self,
            FeeUnit::CallMinute | FeeUnit::CallSecond | FeeUnit::AgentHour
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncrementRounding {
    Up,
    Nearest,
    Down,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MoneyRounding {
    /// 四舍五入: halves away from zero.
    HalfUp,
    /// Banker's rounding: halves to even.
    HalfEven,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Satisfaction {
    pub clause: Clause,
    pub survey_channels: Vec<ChannelKind>,
    /// Points on the survey scale (e.g. 5); answers at or above `satisfied_from` count as satisfied.
    pub scale: u8,
    pub satisfied_from: u8,
    pub min_share_satisfied: Option<Percent>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Billing {
    pub clause: Clause,
    pub currency: String,
    pub vat_rate: Percent,
    /// Day of the month on which the previous month's invoice is issued.
    pub invoice_day: u8,
    /// Days from the invoice date to the due date.
    pub payment_days: u16,
    /// Late-payment charge per day on the overdue amount.
    pub late_payment_daily_rate: Percent,
    /// Late-payment charge is capped at this share of the overdue amount.
    pub late_payment_cap: Option<Percent>,
    /// How each invoice line is rounded to the currency's minor unit.
    pub rounding: MoneyRounding,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachKind {
    /// 附录二.1: 甲方 did not pay on time.
    LatePayment,
    /// 附录二.2: 乙方 did not provide the service (no agent on duty in service hours).
    ServiceNotProvided,
    /// 附录二.3: a quality target was missed.
    QualityBelowTarget,
    /// 附录二.4: customer or business information leaked.
    ConfidentialityIncident,
    /// 附录二.5: a dispute was not settled as agreed.
    DisputeUnresolved,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Penalty {
    pub clause: Clause,
    pub breach: BreachKind,
    /// For quality breaches: the target, as "channel.target" (e.g. "phone.connection_rate").
    pub target: Option<TargetRef>,
    pub formula: PenaltyFormula,
    /// Cap as a share of the channel's (or, without a channel, the whole invoice's) monthly fee.
    pub cap: Option<Percent>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetRef {
    pub channel: ChannelKind,
    pub target: String,
}

impl std::fmt::Display for TargetRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.channel.key(), self.target)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "formula", rename_all = "snake_case")]
pub enum PenaltyFormula {
    /// `rate` of the channel's monthly fee for each started `step` of shortfall
    /// (a step is percentage points for percentage targets, time for time targets).
    PercentOfFeePerStep { rate: Percent, step: Step },
    /// A fixed amount for each violation (a late email, an hour without service …).
    PerViolation { amount: Amount },
    /// A fixed amount per breach.
    Fixed { amount: Amount },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Step {
    Points(Percent),
    Time(Duration),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StaffPolicy {
    pub clause: Clause,
    /// 附件7 保密协议: every agent must have a signed NDA before being routed work.
    pub nda_required: bool,
    /// 3.2 定期培训: longest allowed gap since the last training.
    pub training_interval: Duration,
    /// 3.2 定期考核: longest allowed gap since the last assessment.
    pub assessment_interval: Duration,
    /// Pass mark of an assessment, out of 100.
    pub assessment_pass_score: u8,
    /// 附件5: certificates an agent needs to work each channel.
    pub certificates: BTreeMap<ChannelKind, Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Staffing {
    pub clause: Clause,
    /// Length of a staffing interval (e.g. 30 min).
    pub interval: Duration,
    /// Minutes inside service hours with nobody on duty before "service not provided" is recorded.
    pub not_provided_after: Duration,
    /// Fewest agents on duty per channel inside service hours.
    pub min_agents: BTreeMap<ChannelKind, u16>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Confidentiality {
    pub clause: Clause,
    pub mask_by_default: bool,
    pub unmask_requires_reason: bool,
    /// 乙方 reports a suspected leak to 甲方 within this time.
    pub incident_report_within: Duration,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Disputes {
    pub clause: Clause,
    /// 8.2: friendly negotiation lasts at most this long before court.
    pub negotiation_period: Duration,
    pub venue: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attachment {
    /// Number in 附录一 (1–10 in the seed contract).
    pub no: u8,
    pub title: String,
    /// kefu produces this attachment itself (training records, quality report).
    pub generated_by_kefu: bool,
}
