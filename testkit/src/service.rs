//! A service under test, running in this process until the test stops it (or drops it).

use std::net::SocketAddr;

use stockflow_edge::Service;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A built service, served on a task of its own.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    /// Serves `service` until [`Running::stop`], or until this is dropped.
    pub fn start(service: impl Service) -> Running {
        let addr = service.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = service
                .run_until(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Running {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the service gracefully and waits for it to drain.
    pub async fn stop(&mut self) {
        self.signal();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Tells the service to stop, and no longer waits for it to drain.
    pub fn abort(&mut self) {
        self.signal();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    fn signal(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for Running {
    /// Tells the service to stop; it drains on its own.
    fn drop(&mut self) {
        self.signal();
    }
}
