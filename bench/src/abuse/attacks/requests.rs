//! Attacks by request: a flood of forged tokens, requests with oversized headers and
//! requests with oversized bodies. Each request's answer is counted by its status and
//! problem code, or by how the connection ended.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::{Tally, Target, gather};
use crate::abuse::raw::{Answer, connect_from, problem_code, read_answer};
use crate::load::open_loop_until;

/// A well-formed HS256 token for an `admin` subject, signed with some other key: the server
/// must check its signature to refuse it (unless the address is already turned away).
const FORGED_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
    eyJzdWIiOiJhdHRhY2tlciIsInNjb3BlIjoiYWRtaW4iLCJleHAiOjQxMDI0NDQ4MDB9.\
    dt-ju_Zn-IvDbae2mTxv5lP8ubh1it0FKzJz8Id9RGw";

/// How long a request of these attacks may take before it counts as unanswered: past the
/// services' REQUEST_TIMEOUT_MS (10 s) with room to spare.
const PATIENCE: Duration = Duration::from_secs(15);

const MIB: usize = 1024 * 1024;

/// Forged-token requests at `rate` per second, spread over the `sources` addresses, until
/// `until`: reads of the query service, place-orders on the command service.
pub async fn bad_tokens(target: &Target, sources: &[Ipv4Addr], rate: f64, until: Instant) -> Tally {
    let clients: Vec<reqwest::Client> = sources
        .iter()
        .map(|source| {
            reqwest::Client::builder()
                .local_address(IpAddr::V4(*source))
                .timeout(PATIENCE)
                .build()
                .expect("an HTTP client")
        })
        .collect();
    let url = format!("http://{}", target.addr);
    let (read, write) = (target.read_path.clone(), target.write_path.clone());
    let reads = target.service == "query-service";
    let stretch = until.saturating_duration_since(Instant::now());
    let (answers, _) = open_loop_until(rate, stretch, &AtomicBool::new(false), |n, _| {
        let client = &clients[n as usize % clients.len()];
        let request = if reads {
            client.get(format!("{url}{read}"))
        } else {
            client
                .post(format!("{url}{write}"))
                .header("content-type", "application/json")
                .body(r#"{"customer_id":"attacker","lines":[{"sku":"BENCH-0","quantity":1}]}"#)
        };
        let request = request.bearer_auth(FORGED_TOKEN);
        async move {
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = response.bytes().await.unwrap_or_default();
                    Answer::Status(status, problem_code(&body)).label()
                }
                Err(error) if error.is_timeout() => "no answer in 15 s".to_owned(),
                Err(error) if error.is_connect() => "connect failed".to_owned(),
                Err(_) => "reset".to_owned(),
            }
        }
    })
    .await;
    let mut tally = Tally::default();
    for answer in answers {
        tally.requests += 1;
        tally.answer(answer);
    }
    tally
}

/// `clients` clients each send, one after another until `until`, a whole `GET /healthz` with
/// a 100 KiB header, then one with a 1 MiB header, each on a connection of its own.
pub async fn oversized_headers(
    target: &Target,
    source: Ipv4Addr,
    clients: usize,
    until: Instant,
) -> Tally {
    let with_header = |size: usize| {
        let mut bytes = b"GET /healthz HTTP/1.1\r\nhost: stockflow\r\nx-pad: ".to_vec();
        bytes.resize(bytes.len() + size, b'a');
        bytes.extend_from_slice(b"\r\nconnection: close\r\n\r\n");
        Arc::new(bytes)
    };
    let requests = Arc::new([
        ("100 KiB header", with_header(100 * 1024)),
        ("1 MiB header", with_header(MIB)),
    ]);
    let workers = (0..clients)
        .map(|_| {
            let (target, requests) = (target.clone(), requests.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                for (what, request) in requests.iter().cycle() {
                    if Instant::now() >= until {
                        break;
                    }
                    let answer = exchange(&target, source, request, &[], 0, &mut tally).await;
                    tally.answer(format!("{what}: {answer}"));
                }
                tally
            })
        })
        .collect();
    gather(workers).await
}

/// `clients` clients each send, one after another until `until`, a 10 MiB body without a
/// token, with a valid one, and chunked with a valid one, to the target's write path. The
/// requests without a token come from the first address, the others from the second: an
/// address turned away for its failures (429) would not show what a valid token meets.
pub async fn oversized_bodies(
    target: &Target,
    sources: [Ipv4Addr; 2],
    clients: usize,
    token: &str,
    until: Instant,
) -> Tally {
    let head = |auth: bool, chunked: bool| {
        let length = if chunked {
            "transfer-encoding: chunked".to_owned()
        } else {
            format!("content-length: {}", 10 * MIB)
        };
        let auth = if auth {
            format!("authorization: Bearer {token}\r\n")
        } else {
            String::new()
        };
        Arc::new(
            format!(
                "POST {} HTTP/1.1\r\nhost: stockflow\r\ncontent-type: application/json\r\n\
                 {auth}{length}\r\nconnection: close\r\n\r\n",
                target.write_path
            )
            .into_bytes(),
        )
    };
    let requests = Arc::new([
        ("10 MiB, no token", head(false, false), false, false),
        ("10 MiB, valid token", head(true, false), false, true),
        ("10 MiB chunked, valid token", head(true, true), true, true),
    ]);
    let workers = (0..clients)
        .map(|_| {
            let (target, requests) = (target.clone(), requests.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let chunk = vec![b' '; 64 * 1024];
                for (what, head, chunked, authorized) in requests.iter().cycle() {
                    if Instant::now() >= until {
                        break;
                    }
                    let framing = if *chunked { 2 } else { 1 };
                    let source = sources[usize::from(*authorized)];
                    let answer = exchange(&target, source, head, &chunk, framing, &mut tally).await;
                    tally.answer(format!("{what}: {answer}"));
                }
                tally
            })
        })
        .collect();
    gather(workers).await
}

/// Sends `head` on a new connection and then, with `framing` 1 (plain) or 2 (chunked),
/// 10 MiB of `chunk`s, while reading the answer; stops sending once the answer is in.
async fn exchange(
    target: &Target,
    source: Ipv4Addr,
    head: &[u8],
    chunk: &[u8],
    framing: u8,
    tally: &mut Tally,
) -> String {
    let mut stream = match connect_from(source, target.addr).await {
        Ok(stream) => stream,
        Err(error) => return format!("connect failed: {}", error.kind()),
    };
    tally.connections += 1;
    tally.requests += 1;
    let (mut reader, mut writer) = stream.split();
    let send = async {
        writer.write_all(head).await?;
        if framing > 0 {
            let size = format!("{:x}\r\n", chunk.len());
            for _ in 0..(10 * MIB / chunk.len().max(1)) {
                if framing == 2 {
                    writer.write_all(size.as_bytes()).await?;
                }
                writer.write_all(chunk).await?;
                if framing == 2 {
                    writer.write_all(b"\r\n").await?;
                }
            }
            if framing == 2 {
                writer.write_all(b"0\r\n\r\n").await?;
            }
        }
        std::io::Result::Ok(())
    };
    let answered = tokio::time::timeout(PATIENCE, async {
        let mut read = std::pin::pin!(read_answer(&mut reader));
        let mut send = std::pin::pin!(send);
        let mut sending = true;
        loop {
            tokio::select! {
                biased;
                answer = &mut read => break answer,
                // Sent in full, or cut off: either way the answer (or the close) tells the rest.
                _ = &mut send, if sending => sending = false,
            }
        }
    })
    .await;
    match answered {
        Ok(answer) => answer.label(),
        Err(_) => "no answer in 15 s".to_owned(),
    }
}
