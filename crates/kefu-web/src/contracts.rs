//! Contracts as the server reads them: rebuilt from the store and kept for a short while, so
//! a wallboard push, a chat opening or a pushed call event does not re-parse the contract each
//! time, and a contract loaded again (an amendment, new hours, another staffing interval) is
//! picked up within [`FRESH_FOR`] without a restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kefu_app::AppError;
use kefu_app::contracts::StoredContract;
use kefu_core::calendar::HolidayCalendar;
use kefu_core::contract::{ChannelKind, OutsideHours};
use kefu_store::Store;

/// How long a loaded contract is used before it is read again.
pub const FRESH_FOR: Duration = Duration::from_secs(30);

/// Loaded contracts by number.
#[derive(Default)]
pub struct ContractCache {
    entries: Mutex<HashMap<String, (Instant, Arc<StoredContract>)>>,
    holidays: std::sync::OnceLock<Arc<HolidayCalendar>>,
    /// This week's staffing plan per contract, for the wallboard (recomputed every 5 min).
    plans: Mutex<HashMap<String, (Instant, Arc<kefu_app::staffing::WeekPlan>)>>,
}

/// How long a week's plan is shown before it is computed again.
const PLAN_FRESH_FOR: Duration = Duration::from_secs(300);

impl ContractCache {
    /// The built-in PRC holiday calendar, built once.
    pub fn holidays(&self) -> Arc<HolidayCalendar> {
        self.holidays
            .get_or_init(|| Arc::new(HolidayCalendar::builtin()))
            .clone()
    }

    /// The contract numbered `number`, from the cache while fresh, else from the store.
    pub async fn get(&self, store: &Store, number: &str) -> Result<Arc<StoredContract>, AppError> {
        if let Some(hit) = self.entries.lock().ok().and_then(|m| {
            m.get(number)
                .filter(|(at, _)| at.elapsed() < FRESH_FOR)
                .map(|(_, c)| c.clone())
        }) {
            return Ok(hit);
        }
        let holidays = self.holidays();
        let stored = Arc::new(kefu_app::contracts::load_stored(store, number, &holidays).await?);
        if let Ok(mut m) = self.entries.lock() {
            m.insert(number.to_owned(), (Instant::now(), stored.clone()));
        }
        Ok(stored)
    }
}

impl ContractCache {
    /// The staffing plan of the week containing `now` (cached for a few minutes: a forecast
    /// does not change by the second).
    pub async fn week_plan(
        &self,
        store: &Store,
        number: &str,
        now: jiff::Timestamp,
    ) -> Result<Arc<kefu_app::staffing::WeekPlan>, AppError> {
        if let Some(hit) = self.plans.lock().ok().and_then(|m| {
            m.get(number)
                .filter(|(at, _)| at.elapsed() < PLAN_FRESH_FOR)
                .map(|(_, p)| p.clone())
        }) {
            return Ok(hit);
        }
        let stored = self.get(store, number).await?;
        let tz = stored.document.base().time_zone.clone();
        let today = tz.to_datetime(now).date();
        let monday = today
            .checked_sub(jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset())))
            .map_err(|e| AppError::User(e.to_string()))?;
        let plan = Arc::new(
            kefu_app::staffing::week_plan(store, &stored, number, monday, self.holidays(), now)
                .await?,
        );
        if let Ok(mut m) = self.plans.lock() {
            m.insert(number.to_owned(), (Instant::now(), plan.clone()));
        }
        Ok(plan)
    }
}

/// A channel's service hours right now, for customers: open or not, the hours in words and
/// when service opens next (in the contract's time zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursNow {
    pub open: bool,
    pub hours_zh: String,
    pub hours_en: String,
    /// Local time of the next opening, `YYYY-MM-DD HH:MM`, when closed.
    pub next_opening: Option<String>,
    /// Whether the contract takes offline messages outside hours.
    pub takes_messages: bool,
}

/// The hours of `kind` under the terms in force at `now`; `None` when the contract has no
/// such channel (or no terms today).
pub fn hours_now(
    stored: &StoredContract,
    kind: ChannelKind,
    holidays: Arc<HolidayCalendar>,
    now: jiff::Timestamp,
) -> Option<HoursNow> {
    let tz = stored.document.base().time_zone.clone();
    let today = tz.to_datetime(now).date();
    let terms = stored.document.terms_on(today).ok()?;
    let channel = terms.contract.channel(kind)?;
    let calendar = terms.contract.service_calendar(kind, holidays)?;
    // A calendar that cannot answer (a year without holiday data) is treated as open: a
    // customer is better served by a queue than by a wrong "closed".
    let open = calendar.is_open(now).unwrap_or(true);
    let next_opening = if open {
        None
    } else {
        calendar
            .next_opening(now)
            .ok()
            .flatten()
            .map(|t| tz.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string())
    };
    Some(HoursNow {
        open,
        hours_zh: channel.hours.hours.describe(true),
        hours_en: channel.hours.hours.describe(false),
        next_opening,
        takes_messages: channel.hours.outside_hours == OutsideHours::OfflineMessage,
    })
}
