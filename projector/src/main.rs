use std::process::ExitCode;

use clap::Parser;
use stockflow_projector::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    stockflow_projector::cli::main(Cli::parse()).await
}
