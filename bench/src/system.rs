//! The processes under test: starting and stopping the services, and what the kernel says
//! they used (CPU time from /proc/<pid>/stat, peak resident memory from /proc/<pid>/status).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Serialize;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A service started by the benchmark; its log goes to a file in the output folder.
pub struct Service {
    pub name: &'static str,
    child: tokio::process::Child,
    pid: u32,
}

impl Service {
    pub async fn start(
        name: &'static str,
        binary: &Path,
        env: &[(&str, String)],
        log: &Path,
        health_url: &str,
    ) -> Result<Service, BoxError> {
        let log_file = std::fs::File::create(log)?;
        let mut command = tokio::process::Command::new(binary);
        command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let pid = child.id().ok_or("the service exited at once")?;
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(format!(
                    "{name} exited ({status}) while starting; see {}",
                    log.display()
                )
                .into());
            }
            // Any answer but a 5xx: /readyz says 503 until the service is ready.
            if let Ok(r) = client.get(health_url).send().await
                && !r.status().is_server_error()
            {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("{name} did not answer {health_url} within 60 s").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Service { name, child, pid })
    }

    /// Peak resident memory since the start, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.watch().peak_rss_mib()
    }

    /// CPU seconds used so far.
    pub fn cpu_seconds(&self) -> f64 {
        self.watch().cpu_seconds()
    }

    /// What another task may read of this service while it runs.
    pub fn watch(&self) -> Watch {
        Watch {
            name: self.name,
            pid: self.pid,
        }
    }

    /// Asks the service to stop (SIGTERM) and waits for it; kills it after 30 s.
    pub async fn stop(mut self) -> Result<(), BoxError> {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) if status.as_ref().is_ok_and(|s| s.success()) => Ok(()),
            Ok(status) => Err(format!("{} exited with {status:?}", self.name).into()),
            Err(_) => {
                self.child.kill().await?;
                Err(format!("{} did not stop within 30 s of SIGTERM", self.name).into())
            }
        }
    }
}

/// A running service's memory and CPU, as the kernel counts them, readable from any task.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    pub name: &'static str,
    pid: u32,
}

impl Watch {
    /// This process: the load generator.
    pub fn own() -> Watch {
        Watch {
            name: "load generator",
            pid: std::process::id(),
        }
    }

    /// Resident memory now, in MiB.
    pub fn rss_mib(&self) -> f64 {
        status_kib(self.pid, "VmRSS:").unwrap_or(0) as f64 / 1024.0
    }

    /// Peak resident memory since the start, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        status_kib(self.pid, "VmHWM:").unwrap_or(0) as f64 / 1024.0
    }

    /// CPU seconds used so far.
    pub fn cpu_seconds(&self) -> f64 {
        process_cpu(self.pid).map_or(0.0, |(own, _)| own)
    }
}

fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A process's own CPU seconds and those of its children it has waited for.
fn process_cpu(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are plain numbers.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    let ticks = clock_ticks();
    Some((
        (field(14)? + field(15)?) / ticks,
        (field(16)? + field(17)?) / ticks,
    ))
}

fn process_name(pid: u32) -> Option<String> {
    Some(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()?
            .trim()
            .to_owned(),
    )
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds used so far by each part of the box: PostgreSQL (its live processes and the
/// ones that have exited), RabbitMQ, each service, and the load generator with the
/// baseline tools it ran (pgbench, psql).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuSnapshot {
    pub parts: BTreeMap<String, f64>,
    /// The whole machine: busy and all CPU seconds since boot, from /proc/stat.
    pub machine_busy: f64,
    pub machine_total: f64,
}

impl CpuSnapshot {
    pub fn take(services: &[&Service]) -> CpuSnapshot {
        let mut parts = BTreeMap::new();
        let mut postgres = 0.0;
        let mut rabbitmq = 0.0;
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                    continue;
                };
                let Some(name) = process_name(pid) else {
                    continue;
                };
                let Some((own, children)) = process_cpu(pid) else {
                    continue;
                };
                match name.as_str() {
                    // The postmaster reaps its backends: their time is in its children's.
                    "postgres"
                        if parent_of(pid).and_then(process_name).as_deref() != Some("postgres") =>
                    {
                        postgres += own + children
                    }
                    "postgres" => postgres += own,
                    "beam.smp" | "erl_child_setup" | "inet_gethost" | "epmd" => rabbitmq += own,
                    _ => {}
                }
            }
        }
        parts.insert("postgresql".to_owned(), postgres);
        parts.insert("rabbitmq".to_owned(), rabbitmq);
        for service in services {
            parts.insert(service.name.to_owned(), service.cpu_seconds());
        }
        let (own, children) = process_cpu(std::process::id()).unwrap_or_default();
        parts.insert("load generator".to_owned(), own);
        parts.insert("pgbench and psql".to_owned(), children);
        let (machine_busy, machine_total) = machine_cpu();
        CpuSnapshot {
            parts,
            machine_busy,
            machine_total,
        }
    }

    /// What each part used between `earlier` and this snapshot.
    pub fn since(&self, earlier: &CpuSnapshot) -> CpuUse {
        let parts = self
            .parts
            .iter()
            .map(|(name, now)| {
                let before = earlier.parts.get(name).copied().unwrap_or(0.0);
                (name.clone(), (now - before).max(0.0))
            })
            .collect();
        let busy = self.machine_busy - earlier.machine_busy;
        let total = self.machine_total - earlier.machine_total;
        CpuUse {
            parts,
            machine_busy_fraction: if total > 0.0 { busy / total } else { 0.0 },
        }
    }
}

/// CPU seconds per part over a stretch, and how busy the machine was.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuUse {
    pub parts: BTreeMap<String, f64>,
    pub machine_busy_fraction: f64,
}

impl CpuUse {
    pub fn total(&self) -> f64 {
        self.parts.values().sum()
    }
}

fn machine_cpu() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return (0.0, 0.0);
    };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0.0, 0.0);
    };
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = values.iter().take(8).sum();
    // idle and iowait are the fourth and fifth.
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    let ticks = clock_ticks();
    ((total - idle) / ticks, total / ticks)
}

/// Runs a command to its end; its standard output, or an error with what it printed.
pub async fn run_tool(program: &str, args: &[&str]) -> Result<String, BoxError> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "{program} failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(stdout)
}

/// Runs a program to its end with these environment variables added; its standard output,
/// or an error with what it printed on standard error.
pub async fn run_tool_with_env(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<String, BoxError> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A TCP port nothing listens on right now, for a service to take.
pub fn free_port() -> Result<u16, BoxError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
