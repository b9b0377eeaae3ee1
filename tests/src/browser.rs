//! Browser tests' harness on the Rust side: a `node --test` script under `tests/browser/`
//! run with Debian's Chromium, its screenshots directory and the README's docs directory, a
//! signal directory the script and the test talk through, and the check that it passed.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

/// A browser script running in the background.
pub struct BrowserRun {
    /// Where the script and the test leave each other files (`ready`, `sent`…).
    pub signals: PathBuf,
    shots: PathBuf,
    run: tokio::task::JoinHandle<Output>,
}

impl BrowserRun {
    /// Starts `tests/browser/<script>` with `env` besides the common variables.
    pub fn start(script: &str, label: &str, env: &[(&str, String)]) -> Self {
        let signals = crate::test_dir(&crate::unique_name(&format!("{label}_signals")));
        let shots = crate::test_dir(&crate::unique_name(&format!("{label}_shots")));
        let root = crate::repo_root();
        let mut node = crate::node();
        node.current_dir(&root)
            .args(["--test", &format!("tests/browser/{script}")])
            .env("VIGIL_SIGNAL_DIR", &signals)
            .env(
                "VIGIL_CHROMIUM",
                std::env::var("VIGIL_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            )
            .env("VIGIL_SCREENSHOTS", &shots)
            .env("VIGIL_DOCS_DIR", root.join("docs"))
            .kill_on_drop(true);
        for (name, value) in env {
            node.env(name, value);
        }
        let run = tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(300), node.output())
                .await
                .expect("the browser test finishes within 5 minutes")
                .expect("node runs")
        });
        Self {
            signals,
            shots,
            run,
        }
    }

    /// Waits until the script writes the signal file `name`.
    pub async fn signalled(&self, name: &str) {
        let file = self.signals.join(name);
        crate::wait_until(
            Duration::from_secs(240),
            &format!("the browser's {name}"),
            || async { file.exists().then_some(()) },
        )
        .await;
    }

    /// Writes the signal file `name` for the script.
    pub fn signal(&self, name: &str, content: &str) {
        std::fs::write(self.signals.join(name), content).expect("signal written");
    }

    /// Waits for the script and fails with its report unless every test passed.
    pub async fn passed(self) {
        let out = self.run.await.expect("the browser task");
        let report = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "browser test failed (screenshots in {}):\n{report}",
            self.shots.display()
        );
        assert!(report.contains("# fail 0"), "{report}");
    }
}
