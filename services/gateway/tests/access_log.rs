//! The access log: one JSON line per request, written when the response body is done, with
//! what was actually sent — streamed bodies included — and whether it was cut off.
//! Its own test binary: it installs the process-wide log subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures::StreamExt as _;
use serde_json::Value;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The access line of `request_id`, waiting briefly: it is written once the body is done.
    async fn access_line(&self, request_id: &str) -> Value {
        for _ in 0..100 {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            if let Some(line) = text.lines().find_map(|l| {
                let v: Value = serde_json::from_str(l).ok()?;
                (v["target"] == "access" && v["span"]["request_id"] == request_id).then_some(v)
            }) {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "no access line for {request_id}: {}",
            String::from_utf8_lossy(&self.0.lock().unwrap())
        );
    }
}

#[tokio::test]
async fn access_lines_count_the_bytes_sent_streamed_or_not_and_name_the_caller() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .init();
    let up = upstreams().await;
    let gw = gateway(&up, &[("PLAN_TIMEOUT_MS", "400")]).await;
    let token = token_for("u1");

    // Streamed without a Content-Length: counted as it goes out.
    let res = gw
        .http
        .get(gw.url("/api/v1/plans/stream"))
        .bearer_auth(&token)
        .header("x-request-id", "rid-streamed")
        .send()
        .await
        .unwrap();
    assert!(
        res.headers().get("content-length").is_none(),
        "really streamed"
    );
    let mut body = res.bytes_stream();
    body.next().await.unwrap().unwrap();
    up.plans.release.notify_one();
    let mut total = b"first-chunk;".len();
    while let Some(chunk) = body.next().await {
        total += chunk.unwrap().len();
    }
    let line = captured.access_line("rid-streamed").await;
    assert_eq!(line["status"], 200);
    assert_eq!(line["bytes"], total as u64);
    assert_eq!(line["aborted"], false);
    assert_eq!(line["span"]["upstream"], "plan");
    assert_eq!(line["span"]["user_id"], "u1");
    assert_eq!(line["span"]["route"], "/api/v1/plans/{*rest}");
    assert!(line["latency_ms"].as_f64().unwrap() > 0.0);

    // With a Content-Length: the same count.
    let res = gw
        .http
        .get(gw.url("/api/v1/plans/echo"))
        .bearer_auth(&token)
        .header("x-request-id", "rid-sized")
        .send()
        .await
        .unwrap();
    let length: u64 = res.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sent = res.bytes().await.unwrap();
    assert_eq!(sent.len() as u64, length);
    let line = captured.access_line("rid-sized").await;
    assert_eq!(line["bytes"], length);
    assert_eq!(line["aborted"], false);

    // Cut off at the route deadline: logged as aborted, with what did go out.
    let res = gw
        .http
        .get(gw.url("/api/v1/plans/stream"))
        .bearer_auth(&token)
        .header("x-request-id", "rid-cut")
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    body.next().await.unwrap().unwrap();
    assert!(matches!(body.next().await, Some(Err(_))));
    let line = captured.access_line("rid-cut").await;
    assert_eq!(line["aborted"], true);
    assert_eq!(line["bytes"], b"first-chunk;".len() as u64);

    // A refusal at the edge has its line too, without a user.
    let res = gw
        .http
        .get(gw.url("/api/v1/plans/x"))
        .header("x-request-id", "rid-refused")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let problem = res.bytes().await.unwrap();
    let line = captured.access_line("rid-refused").await;
    assert_eq!(line["status"], 401);
    assert_eq!(line["bytes"], problem.len() as u64);
    assert!(line["span"].get("user_id").is_none());
}
