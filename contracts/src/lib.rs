//! The published event contract (docs/events.md), generated from the `events` crate: a JSON Schema
//! per event type and the AsyncAPI 3.0 document of the events exchange. The files are checked
//! in under `contracts/`; `cargo run -p stockflow-contracts` rewrites them, and a test fails
//! whenever they differ from what the code generates, so the contract cannot drift unnoticed.

mod asyncapi;
mod samples;
mod schemas;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stockflow_events::Event;

pub use samples::samples;

/// The exchange the contract describes (deployments may rename it with `EVENTS_EXCHANGE`).
pub const EXCHANGE: &str = "stockflow.events";

/// The command that rewrites the contract files.
pub const REGENERATE: &str = "cargo run -p stockflow-contracts";

/// Where the event schemas go, relative to the contracts directory.
pub const SCHEMA_DIR: &str = "events";

/// One generated file, its path relative to the contracts directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractFile {
    pub path: PathBuf,
    pub contents: String,
}

/// The checked-in contracts directory of this repository.
pub fn contracts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `events/order.placed.v1.schema.json`
pub fn schema_path(event_type: &str, version: u32) -> PathBuf {
    Path::new(SCHEMA_DIR).join(format!("{event_type}.v{version}.schema.json"))
}

/// The JSON Schema of an event type's current version, as published.
pub fn event_schema(event: &Event) -> serde_json::Value {
    schemas::event_schema(event)
}

/// The AsyncAPI 3.0 document of the events exchange.
pub fn asyncapi() -> serde_json::Value {
    asyncapi::document(&samples())
}

/// Every contract file, in a stable order and format.
pub fn generate() -> Vec<ContractFile> {
    let mut schemas = BTreeMap::new();
    for sample in samples() {
        let event = &sample.event;
        schemas
            .entry(schema_path(&event.event_type(), event.version()))
            .or_insert_with(|| event_schema(event));
    }
    let mut files: Vec<ContractFile> = schemas
        .into_iter()
        .map(|(path, schema)| ContractFile {
            path,
            contents: pretty(&schema),
        })
        .collect();
    files.push(ContractFile {
        path: PathBuf::from("asyncapi.json"),
        contents: pretty(&asyncapi()),
    });
    files
}

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    text.push('\n');
    text
}

/// How the files on disk differ from what the code generates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// A generated file is not on disk.
    Missing(PathBuf),
    /// A file on disk says something else than the code.
    Differs(PathBuf),
    /// A schema on disk that the code neither generates nor has superseded with a newer
    /// version (a superseded version's schema stays, frozen, for readers of old events).
    Unexpected(PathBuf),
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Drift::Missing(path) => write!(f, "{} is missing", path.display()),
            Drift::Differs(path) => write!(f, "{} differs from the code", path.display()),
            Drift::Unexpected(path) => write!(
                f,
                "{} describes no current or superseded event version (remove it)",
                path.display()
            ),
        }
    }
}

/// Compares the contract files under `dir` with what the code generates.
pub fn drift(dir: &Path) -> std::io::Result<Vec<Drift>> {
    let generated = generate();
    let mut drift = Vec::new();
    for file in &generated {
        match std::fs::read_to_string(dir.join(&file.path)) {
            Ok(on_disk) if on_disk == file.contents => {}
            Ok(_) => drift.push(Drift::Differs(file.path.clone())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                drift.push(Drift::Missing(file.path.clone()));
            }
            Err(e) => return Err(e),
        }
    }
    let schema_dir = dir.join(SCHEMA_DIR);
    if schema_dir.exists() {
        for entry in std::fs::read_dir(&schema_dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let path = Path::new(SCHEMA_DIR).join(&name);
            if !generated.iter().any(|file| file.path == path) && !is_superseded(&name) {
                drift.push(Drift::Unexpected(path));
            }
        }
    }
    drift.sort_by_key(|d| d.to_string());
    Ok(drift)
}

/// Whether `<aggregate>.<event>.v<N>.schema.json` names a version older than the current one.
fn is_superseded(file_name: &str) -> bool {
    let Some((event_type, version)) = file_name
        .strip_suffix(".schema.json")
        .and_then(|stem| stem.rsplit_once(".v"))
    else {
        return false;
    };
    let Ok(version) = version.parse::<u32>() else {
        return false;
    };
    Event::CATALOGUE.iter().any(|(aggregate, name, current)| {
        format!("{}.{name}", aggregate.as_str()) == event_type && version < *current
    })
}

/// Writes every contract file under `dir`, returning the paths that changed.
pub fn write(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for file in generate() {
        let path = dir.join(&file.path);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(file.contents.as_str()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &file.contents)?;
        changed.push(file.path);
    }
    Ok(changed)
}
