//! The log in PostgreSQL (`ops.audit_log`): an entry added, and pages read newest first,
//! keyset by (at, id) on the index made for it.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

use crate::cursor::Cursor;
use crate::entry::Entry;

/// An entry as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub at: DateTime<Utc>,
    pub subject: String,
    pub action: String,
    pub target: String,
    pub reason: Option<String>,
    pub outcome: String,
}

/// Some entries, newest first, and where the next page starts (none after the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub records: Vec<Record>,
    pub next: Option<Cursor>,
}

/// Adds `entry` to the log, stamped with the time of the transaction it is part of.
pub async fn record(db: impl PgExecutor<'_>, entry: &Entry) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO ops.audit_log (subject, action, target, reason, outcome)
         VALUES ($1, $2, $3, $4, $5)",
        entry.stored_subject(),
        entry.action,
        entry.target.as_str(),
        entry.reason.as_ref().map(|r| r.as_str()),
        entry.outcome.as_text(),
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records `entry` after its action, when the action's answer no longer depends on it: a
/// failure to record is logged, at error level and with the whole entry, so that the action
/// is still on record somewhere, and the caller goes on.
pub async fn record_or_log(db: impl PgExecutor<'_>, entry: &Entry) {
    if let Err(error) = record(db, entry).await {
        tracing::error!(
            %error,
            subject = %entry.subject,
            action = entry.action,
            target = entry.target.as_str(),
            reason = entry.reason.as_ref().map(|r| r.as_str()),
            outcome = %entry.outcome.as_text(),
            "cannot record an operator's action in the audit log"
        );
    }
}

/// At most `limit` entries (at least 1), newest first, after `after` when given.
pub async fn page(db: &PgPool, limit: i64, after: Option<&Cursor>) -> Result<Page, sqlx::Error> {
    let limit = limit.max(1);
    // One row more than asked says whether another page follows.
    let mut rows = match after {
        None => {
            sqlx::query_as!(
                Row,
                "SELECT id, at, subject, action, target, reason, outcome FROM ops.audit_log
                  ORDER BY at DESC, id DESC LIMIT $1",
                limit + 1,
            )
            .fetch_all(db)
            .await?
        }
        Some(after) => {
            sqlx::query_as!(
                Row,
                "SELECT id, at, subject, action, target, reason, outcome FROM ops.audit_log
                  WHERE (at, id) < ($1, $2)
                  ORDER BY at DESC, id DESC LIMIT $3",
                after.at,
                after.id,
                limit + 1,
            )
            .fetch_all(db)
            .await?
        }
    };
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = more
        .then(|| {
            rows.last().map(|last| Cursor {
                at: last.at,
                id: last.id,
            })
        })
        .flatten();
    Ok(Page {
        records: rows.into_iter().map(Row::into_record).collect(),
        next,
    })
}

struct Row {
    id: i64,
    at: DateTime<Utc>,
    subject: String,
    action: String,
    target: String,
    reason: Option<String>,
    outcome: String,
}

impl Row {
    fn into_record(self) -> Record {
        let Row {
            id: _,
            at,
            subject,
            action,
            target,
            reason,
            outcome,
        } = self;
        Record {
            at,
            subject,
            action,
            target,
            reason,
            outcome,
        }
    }
}
