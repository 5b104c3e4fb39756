//! Which of several PostgreSQL servers takes writes, and following it: a server answers and is
//! not in recovery (`pg_is_in_recovery()`). A pool follows the primary by its connect options
//! (`PgPool::set_connect_options`), which its new connections are opened with.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use stockflow_telemetry::redact_url;

use super::{DbError, addresses, connect_options};

/// How often a pool's server is asked whether it still takes writes.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long connecting to a server and asking it may take: on loopback or a LAN an answer
/// takes milliseconds; a server that is starting or unreachable is passed over.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// One address of a list, parsed, with how it is named in logs and errors.
pub(super) struct Candidate {
    pub(super) shown: String,
    pub(super) options: PgConnectOptions,
}

impl Candidate {
    /// Every address of `url`, in its order.
    pub(super) fn all(url: &str) -> Result<Vec<Candidate>, DbError> {
        let listed = addresses(url);
        if listed.is_empty() {
            // As a single address always did: the parser says what is wrong with it.
            return Ok(vec![Candidate {
                shown: redact_url(url),
                options: connect_options(url)?,
            }]);
        }
        listed
            .into_iter()
            .map(|address| {
                Ok(Candidate {
                    shown: redact_url(address),
                    options: connect_options(address)?,
                })
            })
            .collect()
    }
}

/// When a pool last moved to another server, so that the connections opened before are let go.
#[derive(Debug)]
pub(super) struct Moves {
    origin: Instant,
    /// Nanoseconds from `origin` to the last move, plus one; 0 while it never moved.
    last: AtomicU64,
}

impl Default for Moves {
    fn default() -> Moves {
        Moves {
            origin: Instant::now(),
            last: AtomicU64::new(0),
        }
    }
}

impl Moves {
    fn record(&self) {
        let since_origin = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last
            .store(since_origin.saturating_add(1), Ordering::Relaxed);
    }

    /// Whether a connection opened `age` ago was opened before the last move.
    pub(super) fn predates(&self, age: Duration) -> bool {
        match self.last.load(Ordering::Relaxed) {
            0 => false,
            last => {
                let moved_at = self.origin + Duration::from_nanos(last - 1);
                age > moved_at.elapsed()
            }
        }
    }
}

/// Connects to `candidate` and asks whether it takes writes: `Ok` with the connection if it
/// does, `Err` with why not, for logs and errors.
async fn probe(candidate: &Candidate) -> Result<PgConnection, String> {
    let ask = async {
        let mut connection = match PgConnection::connect_with(&candidate.options).await {
            Ok(connection) => connection,
            // The database may not exist yet (a service is about to create it): the server's
            // role is asked in its maintenance database instead.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
                let maintenance = candidate.options.clone().database("postgres");
                PgConnection::connect_with(&maintenance).await?
            }
            Err(error) => return Err(error),
        };
        let in_recovery = in_recovery(&mut connection).await?;
        Ok((in_recovery, connection))
    };
    match tokio::time::timeout(PROBE_TIMEOUT, ask).await {
        Ok(Ok((false, connection))) => Ok(connection),
        Ok(Ok((true, connection))) => {
            let _ = connection.close().await;
            Err(format!("{}: in recovery (a standby)", candidate.shown))
        }
        Ok(Err(error)) => Err(format!("{}: {error}", candidate.shown)),
        Err(_) => Err(format!(
            "{}: no answer within {} s",
            candidate.shown,
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

async fn in_recovery(connection: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT pg_is_in_recovery() AS "in_recovery!""#)
        .fetch_one(connection)
        .await
}

/// The order candidates are asked in: `first` (the server a pool is on: it stays there while it
/// takes writes), then the others in the list's order.
fn order(count: usize, first: Option<usize>) -> Vec<usize> {
    first
        .into_iter()
        .chain((0..count).filter(|index| Some(*index) != first))
        .collect()
}

/// The first candidate that takes writes, in [`order`], with a connection to it.
pub(super) async fn find(
    candidates: &[Candidate],
    first: Option<usize>,
) -> Result<(usize, PgConnection), DbError> {
    let mut passed_over = Vec::new();
    for index in order(candidates.len(), first) {
        match probe(&candidates[index]).await {
            Ok(connection) => return Ok((index, connection)),
            Err(why) => passed_over.push(why),
        }
    }
    Err(DbError::NoPrimary(passed_over.join("; ")))
}

/// Keeps `pool` on the server that takes writes until the pool is closed. Every
/// [`CHECK_EVERY`], `watch` (a connection of its own to the pool's server) asks whether it is
/// still the primary; when it is not, or does not answer, the candidates are asked in turn and
/// the pool moves to the one that is: its new connections are opened there, and those it holds
/// are let go as they come back (`Moves`). While none is, the pool stays where it is (its
/// queries fail) and the candidates are asked again every second.
pub(super) async fn follow(
    pool: PgPool,
    candidates: Vec<Candidate>,
    mut current: usize,
    watch: PgConnection,
    moves: Arc<Moves>,
) {
    let mut watch = Some(watch);
    // Since when the pool's server has not been known to take writes, and whether that was
    // logged (once per outage).
    let mut lost: Option<(Instant, bool)> = None;
    let follow = async {
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            if let Some(connection) = watch.as_mut() {
                let asked = tokio::time::timeout(PROBE_TIMEOUT, in_recovery(connection)).await;
                if matches!(asked, Ok(Ok(false))) {
                    continue;
                }
                watch = None;
            }
            let (lost_at, logged) = *lost.get_or_insert((Instant::now(), false));
            match find(&candidates, Some(current)).await {
                Ok((index, connection)) => {
                    watch = Some(connection);
                    lost = None;
                    let after_ms = lost_at.elapsed().as_millis() as u64;
                    if index != current {
                        pool.set_connect_options(candidates[index].options.clone());
                        moves.record();
                        tracing::warn!(
                            from = %candidates[current].shown,
                            to = %candidates[index].shown,
                            after_ms,
                            "the database primary moved; the pool follows it"
                        );
                        current = index;
                    } else if logged {
                        tracing::warn!(
                            primary = %candidates[current].shown,
                            after_ms,
                            "the database primary is back"
                        );
                    }
                }
                Err(error) => {
                    if !logged {
                        lost = Some((lost_at, true));
                        tracing::warn!(
                            primary = %candidates[current].shown,
                            %error,
                            "lost the database primary; looking for it every second"
                        );
                    }
                }
            }
        }
    };
    // Ends with the pool: `do_until` drops the loop when the pool is closed.
    let _ = pool.close_event().do_until(follow).await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Moves, order};

    #[test]
    fn the_server_in_use_is_asked_first_then_the_list_in_order() {
        assert_eq!(order(3, None), [0, 1, 2]);
        assert_eq!(order(3, Some(1)), [1, 0, 2]);
        assert_eq!(order(2, Some(1)), [1, 0]);
    }

    #[test]
    fn connections_opened_before_a_move_are_let_go_and_later_ones_kept() {
        let moves = Moves::default();
        let hour = Duration::from_secs(3600);
        assert!(
            !moves.predates(hour),
            "no move yet: every connection is kept"
        );
        std::thread::sleep(Duration::from_millis(5));
        moves.record();
        assert!(moves.predates(hour), "opened an hour ago, before the move");
        assert!(!moves.predates(Duration::ZERO), "opened just now, after it");
    }
}
