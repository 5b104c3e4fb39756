//! The read models in memory for one batch: the rows the batch's events touch are loaded
//! (`load`), changed by each event in turn (`apply`, pure), and written back in one statement
//! (`write`). The same code serves the live projector and a rebuild; only the schema differs,
//! and it is chosen by the transaction's search path (see [`Schema`]), never written into
//! the SQL.

mod apply;
#[cfg(test)]
mod apply_tests;
mod history;
mod load;
mod rows;
mod write;
#[cfg(test)]
mod write_tests;

use sqlx::PgConnection;
use stockflow_events::Envelope;

use rows::Working;

/// An event that cannot be applied to the read models as they are.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "event at position {position} ({event_type}) refers to {what}, which the read model does not have"
    )]
    Missing {
        position: i64,
        event_type: String,
        what: String,
    },
    #[error("stored event at position {position} cannot be read: {reason}")]
    Undecodable { position: i64, reason: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The schemas read models live in. A transaction picks one by setting its search path
/// (`set_config('search_path', <name>, true)`, i.e. `SET LOCAL`, with the name bound) in the
/// first statement it sends, so that it costs no round trip of its own; [`apply`]'s statements
/// name their tables without a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// `read`, which the query services read.
    Live,
    /// `read_next`, where a rebuild builds fresh tables before swapping them in.
    Rebuild,
}

impl Schema {
    pub const fn name(self) -> &'static str {
        match self {
            Schema::Live => "read",
            Schema::Rebuild => "read_next",
        }
    }
}

/// Applies events (in position order) to the read models of the schema the caller's
/// transaction has chosen (see [`Schema`]), and moves every projection's checkpoint to the
/// last one. With `announce`, the commit notifies
/// [`PROJECTIONS`](stockflow_event_store::channels::PROJECTIONS) of the new position.
pub async fn apply(
    db: &mut PgConnection,
    events: &[Envelope],
    announce: bool,
) -> Result<(), ApplyError> {
    let Some(last) = events.last() else {
        return Ok(());
    };
    apply_through(db, events, last.position, announce).await
}

/// [`apply`], with the checkpoint moved to `through`, at or past the last event: the events
/// an operator skipped between are passed over (with none left, only the checkpoint moves).
pub async fn apply_through(
    db: &mut PgConnection,
    events: &[Envelope],
    through: i64,
    announce: bool,
) -> Result<(), ApplyError> {
    let mut work = Working::default();
    load::load(db, events, &mut work).await?;
    for envelope in events {
        work.apply(envelope)?;
    }
    write::write(db, &work, through, announce).await?;
    Ok(())
}
