//! The services under the fault run, as processes it can kill, and the shared servers
//! (RabbitMQ, PostgreSQL) it stops and restarts with their own administration tools.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::time::Instant;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A service binary with its environment; started, killed and started again on one port.
pub struct Service {
    pub name: &'static str,
    binary: PathBuf,
    env: Vec<(String, String)>,
    pub port: u16,
    log: PathBuf,
    child: Option<Child>,
    pub starts: u32,
}

impl Service {
    pub fn new(
        name: &'static str,
        binary: PathBuf,
        env: Vec<(String, String)>,
        port: u16,
        log: PathBuf,
    ) -> Service {
        Service {
            name,
            binary,
            env,
            port,
            log,
            child: None,
            starts: 0,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Starts the process and waits until it answers `/healthz` (it may not be ready: a
    /// fault may be under way).
    pub async fn start(&mut self) -> Result<(), BoxError> {
        assert!(self.child.is_none(), "{} runs already", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut child = Command::new(&self.binary)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("LISTEN_ADDR", format!("127.0.0.1:{}", self.port))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        self.starts += 1;
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(format!(
                    "{} exited ({status}) while starting; see {}",
                    self.name,
                    self.log.display()
                )
                .into());
            }
            if let Ok(r) = client.get(self.url("/healthz")).send().await
                && r.status().is_success()
            {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("{} did not come up within 90 s", self.name).into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL: no drain, no goodbye.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Whether the process died by itself.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGTERM, then up to 30 s to drain.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
            if tokio::time::timeout(Duration::from_secs(30), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }

    /// Whether `/readyz` says the service can do its work.
    pub async fn ready(&self) -> bool {
        reqwest::Client::new()
            .get(self.url("/readyz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }
}

/// Runs an administration command; fails with what it printed.
pub async fn admin(program: &str, args: &[&str]) -> Result<String, BoxError> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{program} {} failed ({}): {}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// RabbitMQ's application stopped for `down`, then started again; the Erlang node stays up,
/// so queues and persistent messages come back from disk as after a restart.
pub async fn stop_broker_for(down: Duration) -> Result<(), BoxError> {
    admin("rabbitmqctl", &["stop_app"]).await?;
    tokio::time::sleep(down).await;
    admin("rabbitmqctl", &["start_app"]).await?;
    admin("rabbitmqctl", &["await_startup"]).await?;
    Ok(())
}

/// PostgreSQL restarted in fast mode: every session is cut, in-flight transactions roll back.
pub async fn restart_postgres() -> Result<(), BoxError> {
    let version = std::fs::read_dir("/etc/postgresql")?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .max()
        .ok_or("no PostgreSQL cluster under /etc/postgresql")?;
    admin(
        "pg_ctlcluster",
        &[
            "--skip-systemctl-redirect",
            &version,
            "main",
            "restart",
            "-m",
            "fast",
        ],
    )
    .await?;
    Ok(())
}

/// Closes, from the broker's side, every connection whose client named itself `name`.
/// Returns how many were closed.
pub async fn close_broker_connections(name: &str) -> Result<usize, BoxError> {
    // One line a connection: its pid (`<rabbit@host.1.2.3>`), a tab, then its client
    // properties as an Erlang term, the connection name among them in quotes.
    let listing = admin(
        "rabbitmqctl",
        &[
            "list_connections",
            "pid",
            "client_properties",
            "--no-table-headers",
            "--quiet",
        ],
    )
    .await?;
    let quoted = format!("\"{name}\"");
    let mut closed = 0;
    for line in listing.lines().filter(|line| line.contains(&quoted)) {
        let Some(pid) = line.split_whitespace().next() else {
            continue;
        };
        admin(
            "rabbitmqctl",
            &["close_connection", pid, "closed by the fault run"],
        )
        .await?;
        closed += 1;
    }
    Ok(closed)
}

pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub fn binary(bin_dir: &Path, name: &str) -> Result<PathBuf, BoxError> {
    let path = bin_dir.join(name);
    if !path.is_file() {
        return Err(format!(
            "{} is missing: build it first (scripts/faults does)",
            path.display()
        )
        .into());
    }
    Ok(path)
}
