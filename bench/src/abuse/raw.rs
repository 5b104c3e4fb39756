//! HTTP/1.1 spoken by hand over a socket bound to a chosen loopback address, for the attacks
//! no HTTP client would make (a request never finished, a header of 400 KiB), and reading
//! back what the server answered, if anything.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpSocket, TcpStream};

/// Opens a connection to `target` from `source` (any of 127/8 reaches a loopback listener).
/// It is reset rather than closed when dropped, so that the attacker's side keeps no
/// TIME_WAIT entries however many connections it churns through.
pub async fn connect_from(source: Ipv4Addr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source.into(), 0))?;
    socket.set_zero_linger()?;
    let stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(target))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// What a server answered on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A response: its status and the problem `code` of its body, if it had one.
    Status(u16, Option<String>),
    /// The server closed the connection without a word.
    Closed,
    /// The connection was reset (or failed otherwise).
    Reset,
}

impl Answer {
    /// How the report names it: `401 unauthorized`, `431`, `closed without an answer`.
    pub fn label(&self) -> String {
        match self {
            Answer::Status(status, Some(code)) => format!("{status} {code}"),
            Answer::Status(status, None) => status.to_string(),
            Answer::Closed => "closed without an answer".to_owned(),
            Answer::Reset => "reset".to_owned(),
        }
    }
}

/// A response's head, parsed from the start of what was read.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub content_length: usize,
    /// Bytes of the head, blank line included.
    pub length: usize,
}

/// The head at the start of `bytes`, once it is all there.
pub fn parse_head(bytes: &[u8]) -> Option<Head> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let content_length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    Some(Head {
        status,
        content_length,
        length: end,
    })
}

/// The `code` member of a problem body (`{"code":"overloaded",…}`), if there is one.
pub fn problem_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("code")?.as_str().map(str::to_owned)
}

/// Reads one answer: a whole response (head and body, by its length), or the connection's
/// end. Waits as long as the server takes; the caller races it against its own clock.
pub async fn read_answer(reader: &mut (impl AsyncRead + Unpin)) -> Answer {
    let mut bytes = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(head) = parse_head(&bytes) {
            let whole = head.length + head.content_length;
            if bytes.len() >= whole || head.content_length > 64 * 1024 {
                let body = &bytes[head.length..bytes.len().min(whole)];
                return Answer::Status(head.status, problem_code(body));
            }
        }
        match reader.read(&mut chunk).await {
            Ok(0) if bytes.is_empty() => return Answer::Closed,
            // Cut short: the head says what the server meant.
            Ok(0) | Err(_) => {
                return match parse_head(&bytes) {
                    Some(head) => Answer::Status(head.status, None),
                    None if bytes.is_empty() => Answer::Reset,
                    None => Answer::Closed,
                };
            }
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OVERLOADED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: \
        application/problem+json\r\nContent-Length: 21\r\n\r\n{\"code\":\"overloaded\"}";

    #[test]
    fn a_head_is_parsed_once_it_is_whole() {
        assert_eq!(parse_head(&OVERLOADED[..40]), None);
        let head = parse_head(OVERLOADED).expect("a whole head");
        assert_eq!(head.status, 503);
        assert_eq!(head.content_length, 21);
        assert_eq!(&OVERLOADED[head.length..], b"{\"code\":\"overloaded\"}");
        let bare = parse_head(b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n");
        assert_eq!(bare.map(|h| (h.status, h.content_length)), Some((431, 0)));
    }

    #[test]
    fn a_problem_code_is_read_from_its_body() {
        assert_eq!(
            problem_code(br#"{"status":429,"code":"too_many_auth_failures"}"#).as_deref(),
            Some("too_many_auth_failures")
        );
        assert_eq!(problem_code(b"not json"), None);
        assert_eq!(problem_code(b""), None);
    }

    #[tokio::test]
    async fn answers_are_read_whole_or_as_the_connection_ended() {
        let mut whole = OVERLOADED;
        assert_eq!(
            read_answer(&mut whole).await,
            Answer::Status(503, Some("overloaded".into()))
        );
        assert_eq!(
            read_answer(&mut &b""[..]).await.label(),
            "closed without an answer"
        );
        // A head whose body never came in full still tells the status.
        let mut cut = &OVERLOADED[..OVERLOADED.len() - 5];
        assert_eq!(read_answer(&mut cut).await, Answer::Status(503, None));
        assert_eq!(Answer::Status(431, None).label(), "431");
    }
}
