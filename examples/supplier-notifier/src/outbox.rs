//! The outbox: every request passed on to the supplier, one JSON line each, in the order of
//! the events that asked for them. It is this notifier's side effect and its checkpoint at
//! once: the position of its last line is the last event handled. Recording a request and
//! moving the checkpoint are one write, so a crash can neither lose a request (it was not
//! written, and its event is read again) nor send one twice (it was written, and its event is
//! at or below the checkpoint). A real notifier does the same with its own database: the row
//! it writes for the supplier and its checkpoint in one transaction.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::Replenishment;

pub struct Outbox {
    path: PathBuf,
    file: File,
    checkpoint: i64,
}

impl Outbox {
    /// Opens (or creates) the outbox at `path` and reads its checkpoint. A last line cut short
    /// by a crash mid-write is a request that was never recorded: it is cut off.
    pub fn open(path: &Path) -> io::Result<Outbox> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let mut checkpoint = 0;
        let mut kept = 0u64;
        let mut lines = BufReader::new(&file).split(b'\n').peekable();
        while let Some(line) = lines.next() {
            let line = line?;
            let last = lines.peek().is_none();
            match serde_json::from_slice::<Replenishment>(&line) {
                Ok(request) => {
                    checkpoint = request.position;
                    kept += line.len() as u64 + 1;
                }
                Err(_) if last => break,
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: a line after byte {kept}: {e}", path.display()),
                    ));
                }
            }
        }
        let length = file.metadata()?.len();
        if kept < length {
            tracing::warn!(path = %path.display(), "cutting off a request whose writing was interrupted");
            file.set_len(kept)?;
            file.flush()?;
        }
        Ok(Outbox {
            path: path.to_owned(),
            file,
            checkpoint,
        })
    }

    /// The position of the last event whose request is recorded (0 when none is).
    pub fn checkpoint(&self) -> i64 {
        self.checkpoint
    }

    /// Records a request durably (written and synced to disk) and moves the checkpoint to its
    /// event's position.
    pub fn record(&mut self, request: &Replenishment) -> io::Result<()> {
        let mut line = serde_json::to_vec(request).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        self.checkpoint = request.position;
        Ok(())
    }

    /// Every request recorded so far, oldest first.
    pub fn read_all(path: &Path) -> io::Result<Vec<Replenishment>> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        BufReader::new(file)
            .lines()
            .map(|line| {
                serde_json::from_str(&line?)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            })
            .collect()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!("outbox-{}.jsonl", Uuid::now_v7()))
    }

    fn request(position: i64) -> Replenishment {
        Replenishment {
            event_id: Uuid::now_v7(),
            position,
            sku: "BOLT-7".into(),
            quantity: 9,
            shortfall: 7,
            order_id: Uuid::now_v7(),
        }
    }

    #[test]
    fn a_new_outbox_starts_at_zero_and_keeps_what_it_records() {
        let path = scratch();
        let mut outbox = Outbox::open(&path).expect("opens");
        assert_eq!(outbox.checkpoint(), 0);
        let (first, second) = (request(4), request(9));
        outbox.record(&first).expect("records");
        outbox.record(&second).expect("records");
        assert_eq!(outbox.checkpoint(), 9);
        drop(outbox);

        let reopened = Outbox::open(&path).expect("reopens");
        assert_eq!(
            reopened.checkpoint(),
            9,
            "the checkpoint survives a restart"
        );
        assert_eq!(Outbox::read_all(&path).expect("reads"), vec![first, second]);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_not_a_request() {
        let path = scratch();
        let mut outbox = Outbox::open(&path).expect("opens");
        let kept = request(4);
        outbox.record(&kept).expect("records");
        drop(outbox);
        let torn = serde_json::to_string(&request(9)).expect("json");
        let mut file = OpenOptions::new().append(true).open(&path).expect("opens");
        file.write_all(&torn.as_bytes()[..torn.len() / 2])
            .expect("writes");
        drop(file);

        let mut reopened = Outbox::open(&path).expect("reopens");
        assert_eq!(
            reopened.checkpoint(),
            4,
            "the torn request was never recorded"
        );
        let next = request(9);
        reopened.record(&next).expect("records");
        assert_eq!(Outbox::read_all(&path).expect("reads"), vec![kept, next]);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_damaged_line_before_the_last_is_an_error_not_a_silent_loss() {
        let path = scratch();
        let good = serde_json::to_string(&request(4)).expect("json");
        std::fs::write(&path, format!("garbage\n{good}\n")).expect("writes");
        assert!(Outbox::open(&path).is_err());
        let _ = std::fs::remove_file(path);
    }
}
