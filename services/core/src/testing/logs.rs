//! The process's log lines, captured for assertions: JSON, as in production (the request's
//! context included), into memory. One per test binary: it installs the global subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Installs the JSON subscriber (every level) writing here. Panics if the test binary
    /// already has a subscriber.
    pub fn install() -> Self {
        let logs = Self::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .event_format(crate::telemetry::JsonLines)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .init();
        logs
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }

    /// The first line (as JSON) that `matches`, waiting up to 2 s for it: access lines are
    /// written when a response body is done, which may be just after the client has read it.
    pub async fn wait_for_line(
        &self,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        for _ in 0..100 {
            if let Some(line) = self
                .text()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .find(|v| matches(v))
            {
                return line;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no such log line in:\n{}", self.text());
    }
}
