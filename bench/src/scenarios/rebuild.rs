//! A rebuild of every read model over the whole store, by `projector rebuild`, the services
//! still running.

use serde_json::Value;

use crate::stack::Stack;
use crate::system::{BoxError, run_tool_with_env};

/// Runs the rebuild; its report, the last JSON line it prints.
pub async fn rebuild(stack: &Stack) -> Result<Value, BoxError> {
    let mut env = stack.env.clone();
    env.push(("LOG_FORMAT", "json".to_owned()));
    let output = run_tool_with_env(
        &stack.bin("projector"),
        &["rebuild"],
        &env.iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    )
    .await?;
    let report = output
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("the rebuild printed no report: {output}"))?;
    Ok(report)
}
