//! Which of several PostgreSQL servers a pool uses, and following it: for writes, the one that
//! answers and is not in recovery (`pg_is_in_recovery()`); for reads, the first that answers,
//! whatever its role ([`Role`]). A pool follows its server by its connect options
//! (`PgPool::set_connect_options`), which its new connections are opened with.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use stockflow_telemetry::redact_url;

use super::{DbError, addresses, connect_options};

/// What a pool needs of its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// It takes writes: not in recovery.
    Primary,
    /// It answers: a primary or a standby, for reads.
    Any,
}

impl Role {
    /// Whether a server in recovery or not (`in_recovery`) will do.
    fn accepts(self, in_recovery: bool) -> bool {
        self == Role::Any || !in_recovery
    }

    /// How the server of this role is named in logs.
    fn server(self) -> &'static str {
        match self {
            Role::Primary => "database primary",
            Role::Any => "database server",
        }
    }
}

/// A server [`find`] settled on: its index among the candidates, a connection to it, and
/// whether it was in recovery when asked.
pub(super) struct Found {
    pub(super) index: usize,
    pub(super) watch: PgConnection,
    pub(super) in_recovery: bool,
}

/// How often a pool's server is asked whether it still is what the pool needs.
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

/// Connects to `candidate` and asks whether it is in recovery.
pub(super) async fn ask(candidate: &Candidate) -> Result<(PgConnection, bool), sqlx::Error> {
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
    Ok((connection, in_recovery))
}

/// Connects to `candidate` and asks whether it will do as `role`: `Ok` with the connection
/// and whether it is in recovery if it will, `Err` with why not, for logs and errors.
async fn probe(candidate: &Candidate, role: Role) -> Result<(PgConnection, bool), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, ask(candidate)).await {
        Ok(Ok((connection, in_recovery))) if role.accepts(in_recovery) => {
            Ok((connection, in_recovery))
        }
        Ok(Ok((connection, _))) => {
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
/// will do), then the others in the list's order.
fn order(count: usize, first: Option<usize>) -> Vec<usize> {
    first
        .into_iter()
        .chain((0..count).filter(|index| Some(*index) != first))
        .collect()
}

/// The first candidate that will do as `role`, in [`order`], with a connection to it.
pub(super) async fn find(
    candidates: &[Candidate],
    first: Option<usize>,
    role: Role,
) -> Result<Found, DbError> {
    let mut passed_over = Vec::new();
    for index in order(candidates.len(), first) {
        match probe(&candidates[index], role).await {
            Ok((watch, in_recovery)) => {
                return Ok(Found {
                    index,
                    watch,
                    in_recovery,
                });
            }
            Err(why) => passed_over.push(why),
        }
    }
    let passed_over = passed_over.join("; ");
    Err(match role {
        Role::Primary => DbError::NoPrimary(passed_over),
        Role::Any => DbError::NoServer(passed_over),
    })
}

/// Keeps `pool` on a server that will do as `role` until the pool is closed. Every
/// [`CHECK_EVERY`], `watch` (a connection of its own to the pool's server) asks whether it
/// still will; when it will not, or does not answer, the candidates are asked in turn and the
/// pool moves to the one that will: its new connections are opened there, and those it holds
/// are let go as they come back (`Moves`). While none will, the pool stays where it is (its
/// queries fail) and the candidates are asked again every second.
pub(super) async fn follow(
    pool: PgPool,
    candidates: Vec<Candidate>,
    found: Found,
    moves: Arc<Moves>,
    role: Role,
) {
    let mut current = found.index;
    let mut watch = Some(found.watch);
    let server = role.server();
    // Since when the pool's server has not been known to do, and whether that was logged
    // (once per outage).
    let mut lost: Option<(Instant, bool)> = None;
    let follow = async {
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            if let Some(connection) = watch.as_mut() {
                let asked = tokio::time::timeout(PROBE_TIMEOUT, in_recovery(connection)).await;
                if matches!(asked, Ok(Ok(in_recovery)) if role.accepts(in_recovery)) {
                    continue;
                }
                watch = None;
            }
            let (lost_at, logged) = *lost.get_or_insert((Instant::now(), false));
            match find(&candidates, Some(current), role).await {
                Ok(found) => {
                    watch = Some(found.watch);
                    lost = None;
                    let after_ms = lost_at.elapsed().as_millis() as u64;
                    if found.index != current {
                        pool.set_connect_options(candidates[found.index].options.clone());
                        moves.record();
                        tracing::warn!(
                            from = %candidates[current].shown,
                            to = %candidates[found.index].shown,
                            after_ms,
                            "the {server} moved; the pool follows it"
                        );
                        current = found.index;
                    } else if logged {
                        tracing::warn!(
                            server = %candidates[current].shown,
                            after_ms,
                            "the {server} is back"
                        );
                    }
                }
                Err(error) => {
                    if !logged {
                        lost = Some((lost_at, true));
                        tracing::warn!(
                            server = %candidates[current].shown,
                            %error,
                            "lost the {server}; looking for it every second"
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

    use super::{Moves, Role, order};

    #[test]
    fn the_server_in_use_is_asked_first_then_the_list_in_order() {
        assert_eq!(order(3, None), [0, 1, 2]);
        assert_eq!(order(3, Some(1)), [1, 0, 2]);
        assert_eq!(order(2, Some(1)), [1, 0]);
    }

    #[test]
    fn writes_need_a_server_out_of_recovery_and_reads_take_either() {
        assert!(Role::Primary.accepts(false));
        assert!(!Role::Primary.accepts(true));
        assert!(Role::Any.accepts(false));
        assert!(Role::Any.accepts(true));
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
