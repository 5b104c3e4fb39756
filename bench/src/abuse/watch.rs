//! Watching the box while it is attacked: every 100 ms, each service's resident memory and
//! CPU, the load generator's CPU, and the connections open to each attacked listener, read
//! from the kernel's table of TCP sockets (/proc/net/tcp) on the server's side.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::windows::{Connections, Reading};
use crate::system::Watch;

const EVERY: Duration = Duration::from_millis(100);

/// Samples until `stop`; returns every reading, timed from `start`.
pub fn sample(
    services: Vec<Watch>,
    ports: Vec<u16>,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Vec<Reading>> {
    tokio::spawn(async move {
        let mut readings = Vec::new();
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
            readings.push(Reading {
                at: start.elapsed().as_secs_f64(),
                rss_mib: services.iter().map(Watch::rss_mib).collect(),
                cpu_seconds: services.iter().map(Watch::cpu_seconds).collect(),
                own_cpu_seconds: Watch::own().cpu_seconds(),
                connections: ports.iter().map(|p| established(&table, *p)).collect(),
            });
            next += EVERY;
            tokio::time::sleep_until(next.into()).await;
        }
        readings
    })
}

/// Connections established to local port `port`, as /proc/net/tcp lists them, split by the
/// remote address: 127.0.0.1 is the normal client's, any other an attacker's.
pub fn established(table: &str, port: u16) -> Connections {
    let mut connections = Connections::default();
    for line in table.lines().skip(1) {
        let mut fields = line.split_whitespace().skip(1);
        let (Some(local), Some(remote), Some(state)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        // 01 is TCP_ESTABLISHED; the services listen on 127.0.0.1 (an attacker's end of a
        // connection may have the same port number on another address).
        if state != "01" || endpoint(local) != Some((Ipv4Addr::LOCALHOST, port)) {
            continue;
        }
        match endpoint(remote) {
            Some((address, _)) if address == Ipv4Addr::LOCALHOST => connections.normal += 1,
            Some(_) => connections.attackers += 1,
            None => {}
        }
    }
    connections
}

/// `0100007F:1F90`: the address as the kernel's 32-bit word in this host's byte order, and
/// the port, both in hex.
fn endpoint(text: &str) -> Option<(Ipv4Addr, u16)> {
    let (address, port) = text.split_once(':')?;
    let word = u32::from_str_radix(address, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some((Ipv4Addr::from(word.to_ne_bytes()), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn established_connections_are_counted_by_listener_and_remote_address() {
        let word = |a: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(a));
        let (local, normal, attacker) = (
            word([127, 0, 0, 1]),
            word([127, 0, 0, 1]),
            word([127, 0, 0, 4]),
        );
        let table = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue\n\
             0: {local}:1F90 00000000:0000 0A 00000000:00000000\n\
             1: {local}:1F90 {normal}:D2A4 01 00000000:00000000\n\
             2: {local}:1F90 {attacker}:D2A5 01 00000000:00000000\n\
             3: {local}:1F90 {attacker}:D2A6 01 00000000:00000000\n\
             4: {local}:1F90 {attacker}:D2A7 06 00000000:00000000\n\
             5: {attacker}:D2A6 {local}:1F90 01 00000000:00000000\n\
             6: {local}:1F91 {attacker}:D2A8 01 00000000:00000000\n\
             7: {attacker}:1F90 {local}:1F91 01 00000000:00000000\n"
        );
        // The listening socket (0A), a TIME_WAIT one (06), the clients' own ends (lines 5
        // and 7) and another port's connection are not counted.
        assert_eq!(
            established(&table, 0x1F90),
            Connections {
                normal: 1,
                attackers: 2
            }
        );
        assert_eq!(established(&table, 0x1F91).attackers, 1);
        assert_eq!(established("", 80), Connections::default());
    }
}
