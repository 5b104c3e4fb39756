//! stockflow's operators' web console: one page, served with its scripts from this binary, over
//! the admin APIs of the command service, the query service and the projector. The operator
//! signs in with a token once; the console keeps it in its memory and adds it to the requests it
//! forwards, so the page's scripts never hold it.

pub mod app;
pub mod config;
mod http;
pub mod overview;
pub mod sessions;
mod state;
pub mod token;
pub mod upstream;

pub use app::{App, StartupError};
pub use config::Config;
