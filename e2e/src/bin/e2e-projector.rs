//! The projector's own command line, built into this crate so that end-to-end tests can run
//! it as a process and kill it.

use std::process::ExitCode;

use clap::Parser;
use stockflow_projector::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    stockflow_projector::cli::main(Cli::parse()).await
}
