//! A real headless Chromium, driven over WebDriver (chromedriver on a free loopback port), and
//! what a test needs to look at a page as an operator would: text as rendered, waits on what
//! the page says rather than on time, clicks and typing, screenshots.

use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Debian's chromium; chromedriver is looked up on `PATH`.
const CHROMIUM: &str = "/usr/bin/chromium";

const INSTALL: &str = "the console's browser tests need Debian's chromium and chromedriver: \
    as root, `apt-get update && apt-get install -y chromium chromium-driver` \
    (.ci/run installs them when they are missing)";

/// The longest a test waits for the page (or the stack) to show what it expects.
pub const WAIT: Duration = Duration::from_secs(30);

const POLL: Duration = Duration::from_millis(100);

/// Polls `check` until it gives a value, for at most `timeout`; then fails the test with
/// `what` and the last thing `check` saw instead.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(seen) if tokio::time::Instant::now() >= deadline => {
                panic!("{what}: not after {timeout:?}; last seen: {seen}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// chromedriver, in a process group of its own with the browsers it starts, and a scratch
/// folder for their profile and temporary files: all of it goes when this is dropped, however
/// the test ends.
struct Driver {
    child: Child,
    port: u16,
    scratch: PathBuf,
}

impl Driver {
    async fn start() -> Driver {
        let scratch = std::env::temp_dir().join(stockflow_testkit::unique("stockflow-browser-"));
        std::fs::create_dir_all(&scratch).expect("a scratch folder for the browser");
        // Free now; chromedriver takes it a moment later.
        let port = stockflow_testkit::free_address().port();
        let spawned = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .env("TMPDIR", &scratch)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_dir_all(&scratch);
                panic!("chromedriver is not on PATH: {INSTALL}")
            }
            Err(error) => panic!("chromedriver does not start: {error}"),
        };
        let driver = Driver {
            child,
            port,
            scratch,
        };
        driver.wait_until_ready().await;
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_until_ready(&self) {
        let status = format!("{}/status", self.url());
        let client = reqwest::Client::new();
        eventually(
            Duration::from_secs(20),
            "chromedriver answers on its port",
            || async {
                let answer = client
                    .get(&status)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let body: Value = answer.json().await.map_err(|e| e.to_string())?;
                match body["value"]["ready"].as_bool() {
                    Some(true) => Ok(()),
                    _ => Err(body.to_string()),
                }
            },
        )
        .await;
    }

    fn profile(&self) -> PathBuf {
        self.scratch.join("profile")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every browser process it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Where screenshots go: `<target>/console-screenshots/`.
pub fn screenshots_dir() -> PathBuf {
    target_dir().join("console-screenshots")
}

/// The build's target folder: `CARGO_TARGET_DIR` (relative to the workspace), else the
/// workspace's `target/`.
fn target_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate is in the workspace")
        .to_path_buf();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace.join(dir),
        _ => workspace.join("target"),
    }
}

/// One headless Chromium with one window.
pub struct Browser {
    client: Client,
    // Dropped after the client: the browser goes with it.
    _driver: Driver,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; fails the test, saying how to install
    /// them, when either is missing.
    pub async fn start() -> Browser {
        assert!(
            Path::new(CHROMIUM).is_file(),
            "{CHROMIUM} is missing: {INSTALL}"
        );
        let driver = Driver::start().await;
        let capabilities = json!({
            "browserName": "chrome",
            // An alert the page opens stays open, for `alert` to see, rather than being
            // dismissed by the next command.
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1360,900",
                    format!("--user-data-dir={}", driver.profile().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| panic!("chromedriver starts a headless {CHROMIUM}: {e}"));
        Browser {
            client,
            _driver: driver,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("the browser opens {url}: {e}"));
    }

    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("the browser has a URL")
            .to_string()
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("the page runs {script:?}: {e}"))
    }

    /// The text of the first element matching `css` as it is rendered (what an operator
    /// reads: empty for a hidden one); `None` if there is no such element.
    pub async fn text(&self, css: &str) -> Option<String> {
        let text = self
            .eval(
                "const e = document.querySelector(arguments[0]); \
                 return e ? (e.checkVisibility() ? e.innerText : '') : null;",
                vec![json!(css)],
            )
            .await;
        text.as_str().map(str::to_owned)
    }

    /// The attribute `name` of the first element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        let value = self
            .eval(
                "const e = document.querySelector(arguments[0]); \
                 return e ? e.getAttribute(arguments[1]) : null;",
                vec![json!(css), json!(name)],
            )
            .await;
        value.as_str().map(str::to_owned)
    }

    /// The attribute `name` of each element matching `css`, in document order.
    pub async fn attrs(&self, css: &str, name: &str) -> Vec<Option<String>> {
        let values = self
            .eval(
                "return [...document.querySelectorAll(arguments[0])] \
                    .map(e => e.getAttribute(arguments[1]));",
                vec![json!(css), json!(name)],
            )
            .await;
        serde_json::from_value(values).expect("a list of attributes")
    }

    pub async fn count(&self, css: &str) -> usize {
        let count = self
            .eval(
                "return document.querySelectorAll(arguments[0]).length;",
                vec![json!(css)],
            )
            .await;
        count
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .expect("a count")
    }

    /// Whether an element matching `css` is shown (laid out, not hidden by CSS).
    pub async fn is_visible(&self, css: &str) -> bool {
        self.eval(
            "const e = document.querySelector(arguments[0]); \
             return !!e && e.checkVisibility({visibilityProperty: true});",
            vec![json!(css)],
        )
        .await
            == json!(true)
    }

    /// Waits until `css` matches an element that is shown.
    pub async fn wait_visible(&self, css: &str) {
        eventually(WAIT, &format!("{css} is shown"), || async {
            if self.is_visible(css).await {
                Ok(())
            } else {
                Err(format!("{} element(s), none shown", self.count(css).await))
            }
        })
        .await;
    }

    /// Waits until the rendered text of `css` passes `check`; returns it.
    pub async fn wait_text(&self, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        eventually(WAIT, &format!("{css}: {what}"), || async {
            match self.text(css).await {
                Some(text) if check(&text) => Ok(text),
                seen => Err(format!("{seen:?}")),
            }
        })
        .await
    }

    /// Clicks the element matching `css` as a person would (it must be shown and enabled).
    pub async fn click(&self, css: &str) {
        self.wait_visible(css).await;
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} is on the page: {e}"));
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("{css} can be clicked: {e}"));
    }

    /// Empties the field matching `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        self.wait_visible(css).await;
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} is on the page: {e}"));
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("{css} can be cleared: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("{css} takes typing: {e}"));
    }

    /// Picks the option whose value is `value` in the select matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.wait_visible(css).await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} is on the page: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("{css} has the option {value:?}: {e}"));
    }

    /// The text of the alert, confirm or prompt the page has open, if any.
    pub async fn open_alert(&self) -> Option<String> {
        self.client.get_alert_text().await.ok()
    }

    /// The cookies the browser holds for the current page, as `(name, value, http_only,
    /// same_site)`.
    pub async fn cookies(&self) -> Vec<(String, String, bool, Option<String>)> {
        self.client
            .get_all_cookies()
            .await
            .expect("the browser lists its cookies")
            .into_iter()
            .map(|cookie| {
                (
                    cookie.name().to_owned(),
                    cookie.value().to_owned(),
                    cookie.http_only().unwrap_or(false),
                    cookie.same_site().map(|s| s.to_string()),
                )
            })
            .collect()
    }

    /// Saves what the window shows to `<target>/console-screenshots/<name>.png`; returns
    /// the file.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .client
            .screenshot()
            .await
            .expect("the browser takes a screenshot");
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).expect("the screenshots folder");
        let file = dir.join(format!("{name}.png"));
        std::fs::write(&file, png).expect("the screenshot is written");
        file
    }
}
