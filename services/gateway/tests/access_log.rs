//! The access log: one JSON line per request, written when the response body is done, with
//! what was actually sent — streamed bodies included — and whether it was cut off.
//! Its own test binary: it installs the process-wide log subscriber.

mod common;

use common::*;
use futures::StreamExt as _;
use plangen_core::testing::CapturedLogs;

/// The access line of the request with id `request_id`.
async fn access_line(logs: &CapturedLogs, request_id: &str) -> serde_json::Value {
    logs.wait_for_line(|v| v["target"] == "access" && v["span"]["request_id"] == request_id)
        .await
}

#[tokio::test]
async fn access_lines_count_the_bytes_sent_streamed_or_not_and_name_the_caller() {
    let logs = CapturedLogs::install();
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
    let line = access_line(&logs, "rid-streamed").await;
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
    let line = access_line(&logs, "rid-sized").await;
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
    let line = access_line(&logs, "rid-cut").await;
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
    let line = access_line(&logs, "rid-refused").await;
    assert_eq!(line["status"], 401);
    assert_eq!(line["bytes"], problem.len() as u64);
    assert!(line["span"].get("user_id").is_none());
}
