//! The cluster of scripts/cluster (docs/cluster.md), one test at a time: a test takes it
//! (waiting for the lock file while another has it), finds it up as the tests need it or
//! starts it, breaks and mends it through the script's verbs, and gives it back. The last
//! test of the run that gives it back takes it down.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use stockflow_e2e::faults::Topology;

/// The script, from this crate's directory.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/cluster")
}

/// Held while a test uses the cluster (`File::lock`): one test at a time, across processes.
fn lock_path() -> PathBuf {
    std::env::temp_dir().join("stockflow-cluster-tests.lock")
}

/// One file per test that wants the cluster, named `<pid>-<id>`, made before it waits for
/// the lock: a test giving the cluster back leaves it up while another waits for it.
fn users_dir() -> PathBuf {
    std::env::temp_dir().join("stockflow-cluster-tests.users")
}

pub struct Cluster {
    /// Every node's and server's address, as `scripts/cluster env` printed them.
    topology: Topology,
    user: User,
    _lock: File,
}

/// This test's file among the users: removed with the value, whatever happens to the test.
struct User(PathBuf);

impl Drop for User {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Cluster {
    /// Waits for the cluster to be free, then reuses it if it is up, synchronous and not
    /// promoted (`scripts/cluster status`), or starts it afresh (`down`, `up --sync`).
    pub async fn take() -> Cluster {
        let user = User(users_dir().join(format!(
            "{}-{}",
            std::process::id(),
            stockflow_testkit::unique("")
        )));
        std::fs::create_dir_all(users_dir()).expect("the users directory");
        File::create(&user.0).expect("a user file");
        let lock = tokio::task::spawn_blocking(|| {
            let file = File::create(lock_path()).expect("the lock file");
            file.lock().expect("the cluster lock");
            file
        })
        .await
        .expect("the lock was waited for");
        let status = verb(&["status"]).await;
        let env = if status.success && status.stdout.contains("streaming, sync") {
            eprintln!("cluster: reusing the cluster that is up");
            verb(&["env"]).await.expect_success("env")
        } else {
            eprintln!(
                "cluster: starting it (scripts/cluster up --sync); status was:\n{}{}",
                status.stdout, status.stderr
            );
            verb(&["down"]).await.expect_success("down");
            let up = verb(&["up", "--sync"]).await;
            if !up.success {
                // Nothing half started is left to the next test.
                let _ = verb(&["down"]).await;
            }
            up.expect_success("up --sync")
        };
        let topology = Topology::from_env_lines(script(), &env)
            .unwrap_or_else(|e| panic!("scripts/cluster env: {e}"));
        Cluster {
            topology,
            user,
            _lock: lock,
        }
    }

    /// `AMQP_URL` for the services: every node.
    pub fn amqp_url(&self) -> String {
        self.topology.amqp_url()
    }

    /// `DATABASE_URL` for the services: `database` on every server, the primary first.
    pub fn database_url(&self, database: &str) -> String {
        self.topology.database_url(database)
    }

    /// Runs `scripts/cluster <args>`; panics if it fails.
    pub async fn run(&self, args: &[&str]) {
        verb(args).await.expect_success(&args.join(" "));
    }

    /// The node (1–3) holding the connection named `connection_name`, as RabbitMQ lists it;
    /// `None` if it cannot tell (rabbitmqctl as another user than root, say).
    pub async fn node_of(&self, connection_name: &str) -> Option<usize> {
        for node in 1..=self.topology.amqp_urls.len() {
            let output = tokio::process::Command::new("rabbitmqctl")
                .args(["-n", &format!("stockflow-c{node}@localhost"), "-q"])
                .args(["list_connections", "port", "client_properties"])
                .args(["--formatter", "json"])
                .stdin(Stdio::null())
                .output()
                .await
                .ok()?;
            if !output.status.success() {
                continue;
            }
            let listed: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
            let port = listed.as_array()?.iter().find_map(|connection| {
                let properties = connection["client_properties"].to_string();
                properties
                    .contains(&format!("\"{connection_name}\""))
                    .then(|| connection["port"].as_u64())
                    .flatten()
            })?;
            return self
                .topology
                .amqp_urls
                .iter()
                .position(|url| url.contains(&format!(":{port}/")))
                .map(|index| index + 1);
        }
        None
    }
}

impl Drop for Cluster {
    /// The last test that wants the cluster takes it down; the lock goes with the value.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.user.0);
        if other_users().is_empty() {
            eprintln!("cluster: the last test is done; scripts/cluster down");
            let stopped = std::process::Command::new(script())
                .arg("down")
                .stdin(Stdio::null())
                .status();
            if !matches!(stopped, Ok(status) if status.success()) {
                eprintln!("cluster: scripts/cluster down failed: {stopped:?}");
            }
        }
    }
}

/// The tests still waiting for the cluster, in processes that are alive; the files of dead
/// ones are removed.
fn other_users() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(users_dir()) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let pid = path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.split_once('-'))
                .map(|(pid, _)| pid.to_owned())
                .unwrap_or_default();
            let alive = !pid.is_empty() && Path::new("/proc").join(&pid).exists();
            if !alive {
                let _ = std::fs::remove_file(path);
            }
            alive
        })
        .collect()
}

struct Ran {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn expect_success(self, what: &str) -> String {
        assert!(
            self.success,
            "scripts/cluster {what} failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self.stdout
    }
}

async fn verb(args: &[&str]) -> Ran {
    let output = tokio::process::Command::new(script())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("scripts/cluster runs");
    Ran {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
