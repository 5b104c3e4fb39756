//! Rewrites the checked-in contract files from the `events` crate: `cargo run -p
//! stockflow-contracts`. With `--check`, changes nothing and exits 1 if they are stale.

use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = stockflow_contracts::contracts_dir();
    let check = std::env::args().skip(1).any(|arg| arg == "--check");
    let result = if check {
        stockflow_contracts::drift(&dir).map(|drift| {
            for d in &drift {
                eprintln!("contracts/{d}");
            }
            if drift.is_empty() {
                println!("contracts are up to date");
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "run `{}` and commit the result",
                    stockflow_contracts::REGENERATE
                );
                ExitCode::FAILURE
            }
        })
    } else {
        stockflow_contracts::write(&dir).map(|changed| {
            for path in &changed {
                println!("wrote contracts/{}", path.display());
            }
            if changed.is_empty() {
                println!("contracts are up to date");
            }
            ExitCode::SUCCESS
        })
    };
    result.unwrap_or_else(|e| {
        eprintln!("contracts in {}: {e}", dir.display());
        ExitCode::FAILURE
    })
}
