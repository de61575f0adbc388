//! On and off duty: the intervals during which a person was available on a channel.

use jiff::Timestamp;

use crate::contacts::Channel;
use crate::db::{micros_to_timestamp, now_micros};
use crate::error::StoreError;
use crate::ids::UserId;
use crate::{Store, on_db, on_tx, sql};

/// One stretch of duty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DutyInterval {
    pub user_id: UserId,
    pub username: String,
    pub channel: Channel,
    pub started_at: Timestamp,
    /// `None`: still on duty.
    pub ended_at: Option<Timestamp>,
}

type DutyRow = (String, String, String, i64, Option<i64>);

fn interval_from_row(row: DutyRow) -> Result<DutyInterval, StoreError> {
    let (user, username, channel, started, ended) = row;
    Ok(DutyInterval {
        user_id: user.parse()?,
        username,
        channel: channel.parse()?,
        started_at: micros_to_timestamp("duty_intervals.started_at", started)?,
        ended_at: ended
            .map(|e| micros_to_timestamp("duty_intervals.ended_at", e))
            .transpose()?,
    })
}

impl Store {
    /// Puts a person on or off duty on a channel at `at` (now, for the console). Going on duty
    /// while on duty, or off while off, changes nothing. Returns whether anything changed.
    pub async fn set_duty(
        &self,
        user: UserId,
        channel: Channel,
        on_duty: bool,
        at: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let at = at.map_or_else(now_micros, |t| t.as_microsecond());
        let mut tx = self.db().begin().await?;
        let open: Option<(String, i64)> = on_tx!(&mut tx, conn => {
            sqlx::query_as(sql!(
                "SELECT id, started_at FROM duty_intervals
                 WHERE user_id = $1 AND channel = $2 AND ended_at IS NULL"
            ))
            .bind(user.text())
            .bind(channel.as_str())
            .fetch_optional(&mut *conn)
            .await?
        });
        let changed = match (open, on_duty) {
            (Some(_), true) | (None, false) => false,
            (None, true) => {
                on_tx!(&mut tx, conn => {
                    sqlx::query(sql!(
                        "INSERT INTO duty_intervals (id, user_id, channel, started_at)
                         VALUES ($1, $2, $3, $4)"
                    ))
                    .bind(uuid::Uuid::now_v7().hyphenated().to_string())
                    .bind(user.text())
                    .bind(channel.as_str())
                    .bind(at)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected()
                });
                true
            }
            (Some((id, started)), false) => {
                on_tx!(&mut tx, conn => {
                    sqlx::query(sql!("UPDATE duty_intervals SET ended_at = $1 WHERE id = $2"))
                        .bind(at.max(started))
                        .bind(&id)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected()
                });
                true
            }
        };
        tx.commit().await?;
        Ok(changed)
    }

    /// Who is on duty now, per channel (open intervals), by channel and user name.
    pub async fn on_duty_now(&self) -> Result<Vec<DutyInterval>, StoreError> {
        let rows: Vec<DutyRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT d.user_id, u.username, d.channel, d.started_at, d.ended_at
                 FROM duty_intervals d JOIN users u ON u.id = d.user_id
                 WHERE d.ended_at IS NULL ORDER BY d.channel, u.username"
            ))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(interval_from_row).collect()
    }

    /// The duty intervals that overlap `[from, to)`, in start order.
    pub async fn duty_intervals(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<DutyInterval>, StoreError> {
        let rows: Vec<DutyRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT d.user_id, u.username, d.channel, d.started_at, d.ended_at
                 FROM duty_intervals d JOIN users u ON u.id = d.user_id
                 WHERE d.started_at < $2 AND (d.ended_at IS NULL OR d.ended_at > $1)
                 ORDER BY d.started_at, u.username"
            ))
            .bind(from.as_microsecond())
            .bind(to.as_microsecond())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(interval_from_row).collect()
    }
}
