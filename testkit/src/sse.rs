//! Reading Server-Sent Events as a browser's `EventSource` would: blocks of `id`, `event` and
//! `data` fields ended by a blank line, and comment lines, read from a response a chunk at a
//! time, so that a test can stop reading (a slow reader) or drop it (a cut connection).

/// One block of the stream: an event, or only comments (a heartbeat).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    pub id: Option<String>,
    pub event: Option<String>,
    /// The `data` lines, joined with `\n`.
    pub data: Option<String>,
    /// The text of each comment line (after its `:`).
    pub comments: Vec<String>,
}

impl Frame {
    /// `id` as a position.
    #[track_caller]
    pub fn position(&self) -> i64 {
        self.id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("an event whose id is not a position: {self:?}"))
    }

    fn parse(block: &str) -> Frame {
        let mut frame = Frame::default();
        for line in block.split('\n') {
            if let Some(comment) = line.strip_prefix(':') {
                frame.comments.push(comment.to_owned());
                continue;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
            match name {
                "id" => frame.id = Some(value),
                "event" => frame.event = Some(value),
                "data" => {
                    frame.data = Some(match frame.data.take() {
                        Some(before) => format!("{before}\n{value}"),
                        None => value,
                    });
                }
                _ => {}
            }
        }
        frame
    }
}

/// A response read as an event stream.
pub struct SseReader {
    response: reqwest::Response,
    /// Received and not yet parsed: at most one incomplete block after a frame is taken.
    pending: Vec<u8>,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> SseReader {
        SseReader {
            response,
            pending: Vec::new(),
        }
    }

    /// The next block, or `None` once the stream has ended.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.pending.drain(..end + 2).collect();
                let text = String::from_utf8(block[..end].to_vec()).expect("UTF-8 events");
                return Some(Frame::parse(&text));
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.pending.extend_from_slice(&bytes),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The next block that carries an event, skipping heartbeats; `None` once the stream ended.
    pub async fn next_event(&mut self) -> Option<Frame> {
        loop {
            let frame = self.next_frame().await?;
            if frame.data.is_some() || frame.id.is_some() {
                return Some(frame);
            }
        }
    }

    /// Reads at least one more chunk of bytes and keeps it unparsed: a reader that has begun
    /// and then stalls.
    pub async fn read_some(&mut self) -> usize {
        match self.response.chunk().await {
            Ok(Some(bytes)) => {
                self.pending.extend_from_slice(&bytes);
                bytes.len()
            }
            _ => 0,
        }
    }
}
