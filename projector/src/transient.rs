//! Which database errors are the database's passing trouble rather than the events': those
//! are waited out and tried again, by the consumer and by the dead letters' work alike.

/// Errors that say nothing about the events: the database is unreachable, restarting, busy,
/// or chose this transaction to yield (deadlock, serialization, lock timeout). They are waited
/// out, never a reason to stop.
pub(crate) fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            ["08", "40", "53", "55", "57", "58"]
                .iter()
                .any(|class| code.starts_with(class))
        }),
        _ => false,
    }
}
