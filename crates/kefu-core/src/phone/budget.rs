//! The budget of clause 4.2: given a billing period's figures so far and the
//! calls still expected, how much of the rest must go right for a target to be
//! met at the end ("to stay ≥ 95% this month, answer 97.1% of the remaining
//! expected calls"). Exact: integer arithmetic, shares rounded *up* so that
//! following the advice is always enough.

use std::fmt;

use jiff::civil::{Date, Weekday};
use rust_decimal::Decimal;
use serde::Serialize;

use super::aggregate::PhoneBucket;
use super::metrics::{MetricSettings, Ratio, SettingsError, percent_fraction};
use crate::contract::{
    ChannelKind, Clause, ConnectionRateFormula, Contract, Duration, Metric, Percent,
    ServiceLevelFormula,
};

/// What the rest of the period needs for a "share ≥ min" target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RatioBudget {
    /// Met at the end even if none of the remaining calls goes right.
    AlreadySecured,
    /// At least `calls` of the `remaining` calls must go right; `share` is
    /// calls needed ÷ remaining in percent, rounded up to 0.1.
    Required {
        calls: u64,
        remaining: u64,
        share: Decimal,
    },
    /// Missed at the end even if every remaining call goes right; `best` is
    /// the figure if they all do.
    Unreachable { best: Ratio },
    /// No calls remain: the figure so far is final (`met` None without calls).
    NoRemainingCalls { met: Option<bool> },
}

fn ceil_div(a: i128, b: i128) -> i128 {
    // b > 0
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

/// For a share `numerator ÷ denominator ≥ min` so far, with `remaining` more
/// calls entering the denominator: the fewest of them that must enter the
/// numerator too. With x calls going right the final share is
/// (numerator + x) ÷ (denominator + remaining); the budget's `calls` is the
/// least x for which that meets `min`.
pub fn ratio_budget(numerator: u64, denominator: u64, remaining: u64, min: Percent) -> RatioBudget {
    let (pn, pd) = percent_fraction(min);
    if remaining == 0 {
        return RatioBudget::NoRemainingCalls {
            met: Ratio::new(numerator, denominator).map(|r| r.at_least(min)),
        };
    }
    let total = i128::from(denominator) + i128::from(remaining);
    // need = min × total − numerator, as need_num / pd.
    let need_num = pn.saturating_mul(total) - i128::from(numerator).saturating_mul(pd);
    if need_num <= 0 {
        return RatioBudget::AlreadySecured;
    }
    let calls = ceil_div(need_num, pd);
    let r = i128::from(remaining);
    if calls > r {
        return RatioBudget::Unreachable {
            best: Ratio {
                numerator: numerator + remaining,
                denominator: denominator + remaining,
            },
        };
    }
    // share in tenths of a percent = ceil(need × 1000 ÷ remaining).
    let tenths = ceil_div(need_num.saturating_mul(1000), pd.saturating_mul(r));
    RatioBudget::Required {
        calls: u64::try_from(calls).unwrap_or(u64::MAX),
        remaining,
        share: Decimal::from_i128_with_scale(tenths, 1),
    }
}

/// What the rest of the period needs for "mean wait ≤ max" (average speed of answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WaitBudget {
    /// The remaining `calls` answered calls may wait `total_ms` together, at
    /// most `mean_ms` each on average (rounded down to the millisecond).
    MaxMeanWait {
        calls: u64,
        total_ms: u64,
        mean_ms: u64,
    },
    /// Missed at the end even if every remaining call is answered at once.
    Unreachable,
    /// No answered calls remain: the figure so far is final.
    NoRemainingCalls { met: Option<bool> },
}

impl WaitBudget {
    /// The mean wait allowed, in seconds (to the millisecond, rounded down).
    pub fn mean_seconds(&self) -> Option<Decimal> {
        match self {
            WaitBudget::MaxMeanWait { mean_ms, .. } => {
                Some(Decimal::from(*mean_ms) / Decimal::ONE_THOUSAND)
            }
            _ => None,
        }
    }
}

/// For "mean wait ≤ max" with `answered` calls waiting `total_wait_ms` so far
/// and `remaining_answered` more answered calls expected.
pub fn wait_budget(
    total_wait_ms: u64,
    answered: u64,
    remaining_answered: u64,
    max: Duration,
) -> WaitBudget {
    let m = i128::from(max.as_millis());
    if remaining_answered == 0 {
        return WaitBudget::NoRemainingCalls {
            met: (answered > 0).then(|| i128::from(total_wait_ms) <= m * i128::from(answered)),
        };
    }
    let allowance =
        m * (i128::from(answered) + i128::from(remaining_answered)) - i128::from(total_wait_ms);
    if allowance < 0 {
        return WaitBudget::Unreachable;
    }
    let r = i128::from(remaining_answered);
    WaitBudget::MaxMeanWait {
        calls: remaining_answered,
        total_ms: u64::try_from(allowance).unwrap_or(u64::MAX),
        mean_ms: u64::try_from(allowance / r).unwrap_or(u64::MAX),
    }
}

impl fmt::Display for RatioBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RatioBudget::AlreadySecured => f.write_str("target already secured for the period"),
            RatioBudget::Required {
                calls,
                remaining,
                share,
            } => write!(
                f,
                "{share}% of the remaining expected calls must go right ({calls} of {remaining})"
            ),
            RatioBudget::Unreachable { best } => write!(
                f,
                "no longer reachable: at best {}%",
                best.percent_rounded(1)
            ),
            RatioBudget::NoRemainingCalls { .. } => f.write_str("no calls remain in the period"),
        }
    }
}

// ------------------------------------------------------------------ forecast

/// How the rest of the period's offered calls is forecast.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastMethod {
    /// The mean offered per day so far, for each remaining day.
    MeanPerDay,
    /// For each remaining day, the mean offered on the same weekday so far
    /// (the mean per day when that weekday has not occurred yet).
    MeanPerSameWeekday,
}

/// Expected offered calls on `remaining_days`, from the offered calls of the
/// complete days so far (`history`: date, offered). Rounded half-up to whole calls;
/// 0 without history.
pub fn forecast_offered(
    history: &[(Date, u64)],
    remaining_days: impl IntoIterator<Item = Date>,
    method: ForecastMethod,
) -> u64 {
    if history.is_empty() {
        return 0;
    }
    let mean = |f: &dyn Fn(Date) -> bool| -> Option<(u128, u128)> {
        let (sum, n) = history
            .iter()
            .filter(|(d, _)| f(*d))
            .fold((0u128, 0u128), |(s, n), (_, o)| (s + u128::from(*o), n + 1));
        (n > 0).then_some((sum, n))
    };
    let all = mean(&|_| true).unwrap_or((0, 1));
    let mut per_weekday: [Option<(u128, u128)>; 7] = [None; 7];
    for (i, slot) in per_weekday.iter_mut().enumerate() {
        let wd = Weekday::from_monday_zero_offset(i as i8).unwrap_or(Weekday::Monday);
        *slot = mean(&|d: Date| d.weekday() == wd);
    }
    // The sum of the per-day means s/n, kept as an exact fraction.
    let (mut num, mut den) = (0u128, 1u128);
    for d in remaining_days {
        let (s, n) = match method {
            ForecastMethod::MeanPerDay => all,
            ForecastMethod::MeanPerSameWeekday => {
                per_weekday[d.weekday().to_monday_zero_offset() as usize].unwrap_or(all)
            }
        };
        // num/den + s/n
        num = num * n + s * den;
        den *= n;
        let g = gcd(num, den);
        num /= g;
        den /= g;
    }
    u64::try_from((2 * num + den) / (2 * den)).unwrap_or(u64::MAX)
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

// ------------------------------------------------------------------ per target

/// The budget of one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Budget {
    Share(RatioBudget),
    Wait(WaitBudget),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetBudget {
    pub clause: Clause,
    pub metric: &'static str,
    pub budget: Budget,
}

/// The budget of every phone target of `contract`, from the period so far
/// (`so_far`: the period's buckets up to now) and the offered calls still
/// expected (`remaining_offered`, e.g. from [`forecast_offered`]).
///
/// Assumptions, stated so the wallboard can show them: every remaining
/// offered call enters the denominator (none is expected to be a short
/// abandon, which is the cautious reading); for service level "over answered"
/// and for average speed of answer, the remaining answered calls are the
/// remaining offered calls × the answered share so far (rounded half-up; all
/// of them when nothing was offered yet).
pub fn period_budgets(
    so_far: &PhoneBucket,
    contract: &Contract,
    remaining_offered: u64,
) -> Result<Vec<TargetBudget>, SettingsError> {
    let s = MetricSettings::from_contract(contract)?;
    let Some(ch) = contract.channel(ChannelKind::Phone) else {
        return Ok(Vec::new());
    };
    let short = so_far.short_abandoned(s.short_abandon);
    let less_short = so_far.offered.saturating_sub(short);
    let remaining_answered = if so_far.offered == 0 {
        remaining_offered
    } else {
        let (a, o) = (u128::from(so_far.answered), u128::from(so_far.offered));
        u64::try_from((2 * u128::from(remaining_offered) * a + o) / (2 * o)).unwrap_or(u64::MAX)
    };
    let mut out = Vec::new();
    for t in &ch.targets {
        let budget = match &t.metric {
            Metric::ConnectionRate { min, formula, .. } => {
                let den = match formula {
                    ConnectionRateFormula::AnsweredOverOffered => so_far.offered,
                    ConnectionRateFormula::AnsweredOverOfferedLessShortAbandons => less_short,
                };
                Budget::Share(ratio_budget(so_far.answered, den, remaining_offered, *min))
            }
            Metric::ServiceLevel { min, formula, .. } => {
                let within = so_far.answered_within(s.service_level_within);
                let (den, rem) = match formula {
                    ServiceLevelFormula::WithinOverOffered => (so_far.offered, remaining_offered),
                    ServiceLevelFormula::WithinOverAnswered => {
                        (so_far.answered, remaining_answered)
                    }
                    ServiceLevelFormula::WithinOverOfferedLessShortAbandons => {
                        (less_short, remaining_offered)
                    }
                };
                Budget::Share(ratio_budget(within, den, rem, *min))
            }
            Metric::AverageSpeedOfAnswer { max } => Budget::Wait(wait_budget(
                so_far.answered_waits.sum_ms(),
                so_far.answered_waits.count(),
                remaining_answered,
                *max,
            )),
            _ => continue,
        };
        out.push(TargetBudget {
            clause: t.clause.clone(),
            metric: t.name(),
            budget,
        });
    }
    Ok(out)
}
