//! stockflow's audit log of operators' actions (`ops.audit_log`, docs/api.md "Audit log"):
//! what an entry holds, each part checked or made safe to store, recording one, and reading
//! the log newest first with opaque cursors. Any service that takes `admin` actions records
//! them here; it knows nothing of HTTP, and nothing of what the actions do.

mod cursor;
mod entry;
mod log;

pub use cursor::Cursor;
pub use entry::{Entry, MAX_REASON_CHARS, Outcome, Reason, Target};
pub use log::{Page, Record, page, record, record_or_log};
