//! The proxy over real HTTP: routing and rewrite, headers, streaming, limits and failures.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt as _;
use serde_json::Value;

#[tokio::test]
async fn every_route_family_is_routed_and_rewritten() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;
    let token = token_for("u1");

    let res = gw
        .http
        .post(gw.url("/api/v1/auth/login?next=%2Fhome&x=1"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(body["service"], "auth");
    assert_eq!(body["method"], "POST");
    assert_eq!(body["path"], "/api/auth/login");
    assert_eq!(body["query"], "next=%2Fhome&x=1");

    for (public, service, upstream_path) in [
        ("/api/v1/plans", "plans", "/api/plans"),
        ("/api/v1/plans/p-1/steps", "plans", "/api/plans/p-1/steps"),
        ("/api/v1/templates", "templates", "/api/templates"),
        (
            "/api/v1/templates/t%20x",
            "templates",
            "/api/templates/t%20x",
        ),
        ("/api/v1/auth/me", "auth", "/api/auth/me"),
    ] {
        let res = gw.get_auth(public, &token).await;
        assert_eq!(res.status(), 200, "{public}");
        let body = json(res).await;
        assert_eq!(body["service"], service, "{public}");
        assert_eq!(body["path"], upstream_path, "{public}");
    }

    for path in [
        "/api/v1/plansx",
        "/api/v2/plans",
        "/api/users",
        "/api",
        "/api/plans",
    ] {
        assert_problem(gw.get_auth(path, &token).await, 404, "not-found").await;
    }
    let before = up.plans.hits();
    // Raw HTTP: an HTTP client would resolve the dot segments itself.
    for path in [
        "/api/v1/plans/%2e%2e/x",
        "/api/v1/plans/../../admin",
        "/api/v1/plans/./x",
    ] {
        let head = raw_request(
            &gw,
            &format!("GET {path} HTTP/1.1\r\nauthorization: Bearer {token}\r\n"),
        )
        .await;
        assert!(head.starts_with("HTTP/1.1 400"), "{path}: {head}");
        assert!(head.contains("application/problem+json"), "{head}");
    }
    assert_eq!(
        up.plans.hits(),
        before,
        "a bad path never reaches the upstream"
    );
}

#[tokio::test]
async fn forwarding_headers_are_set_and_hop_by_hop_headers_removed() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;
    let res = gw
        .http
        .put(gw.url("/api/v1/auth/me"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-proto", "https")
        .header("connection", "x-hop")
        .header("x-hop", "1")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("cookie", "plangen_refresh=r1")
        .header("if-match", "\"v1\"")
        .header("idempotency-key", "k-1")
        .header("authorization", "Bearer whatever")
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    let h = &body["headers"];
    assert_eq!(
        h["x-forwarded-for"][0], "127.0.0.1",
        "client XFF replaced: {h}"
    );
    assert_eq!(h["x-forwarded-proto"][0], "http");
    assert!(
        h["x-forwarded-host"][0]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{h}"
    );
    assert!(
        h.get("x-hop").is_none() && h.get("proxy-authorization").is_none(),
        "{h}"
    );
    assert_eq!(h["cookie"][0], "plangen_refresh=r1");
    assert_eq!(h["if-match"][0], "\"v1\"");
    assert_eq!(h["idempotency-key"][0], "k-1");
    assert_eq!(h["authorization"][0], "Bearer whatever");
    assert_eq!(body["bodyLen"], 3);

    // Behind a trusted ingress the incoming chain is kept and extended.
    let gw = gateway(&up, &[("TRUST_FORWARDED_FOR", "true")]).await;
    let body = json(
        gw.http
            .get(gw.url("/api/v1/auth/me"))
            .header("x-forwarded-for", "203.0.113.9")
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        body["headers"]["x-forwarded-for"][0],
        "203.0.113.9, 127.0.0.1"
    );
    assert_eq!(body["headers"]["x-forwarded-proto"][0], "https");
}

#[tokio::test]
async fn response_status_headers_and_redirect_targets_pass_through_rewritten() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;
    let res = gw.get_auth("/api/v1/plans/created", &token_for("u1")).await;
    assert_eq!(res.status(), 201);
    let h = res.headers();
    assert_eq!(h["location"], "/api/v1/plans/42");
    assert_eq!(
        h["link"],
        "</api/v1/plans?page=2>; rel=\"next\", </api/v1/templates/7>; rel=\"related\""
    );
    assert_eq!(h["etag"], "\"v7\"");
    assert_eq!(h["set-cookie"], "plangen_refresh=abc; Path=/api; HttpOnly");
    assert!(
        h.get("access-control-allow-origin").is_none(),
        "the upstream's CORS answer is dropped: the edge owns CORS"
    );
    assert!(h.get("x-powered-by").is_none());
    assert_eq!(res.text().await.unwrap(), "created");
}

#[tokio::test]
async fn request_ids_are_kept_when_well_formed_else_generated_and_reach_the_upstream() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;

    let res = gw
        .http
        .get(gw.url("/api/v1/auth/me"))
        .header("x-request-id", "client-id-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-id-123");
    let body = json(res).await;
    assert_eq!(body["headers"]["x-request-id"][0], "client-id-123");

    for bad in [Some("has space"), Some(&*"x".repeat(200)), None] {
        let mut req = gw.http.get(gw.url("/api/v1/auth/me"));
        if let Some(b) = bad {
            req = req.header("x-request-id", b);
        }
        let res = req.send().await.unwrap();
        let echoed = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let id = uuid::Uuid::parse_str(&echoed).expect("a generated id is a UUID");
        assert_eq!(id.get_version_num(), 7);
        let body = json(res).await;
        assert_eq!(body["headers"]["x-request-id"][0], echoed.as_str());
    }

    // Also on problems the gateway itself answers.
    let res = gw
        .http
        .get(gw.url("/api/nothing"))
        .header("x-request-id", "rid-404")
        .send()
        .await
        .unwrap();
    let body = assert_problem(res, 404, "not-found").await;
    assert_eq!(body["requestId"], "rid-404");
}

#[tokio::test]
async fn responses_stream_without_waiting_for_the_whole_body() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;
    let res = gw.get_auth("/api/v1/plans/stream", &token_for("u1")).await;
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    // The upstream sends its second chunk only after we have seen the first: a buffering
    // proxy would deadlock here, hence the timeout.
    let first = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .expect("the first chunk arrives before the upstream finishes")
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"first-chunk;");
    up.plans.release.notify_one();
    let mut rest = Vec::new();
    while let Some(chunk) = body.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(rest, b"second-chunk");
}

#[tokio::test]
async fn on_shutdown_the_gateway_stops_accepting_and_finishes_what_is_in_flight() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;
    let res = gw.get_auth("/api/v1/plans/stream", &token_for("u1")).await;
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert_eq!(&first[..], b"first-chunk;");

    gw.server.stop();
    // Every worker thread stops accepting: a new connection is refused.
    let refused = async {
        loop {
            if tokio::net::TcpStream::connect(gw.server.addr)
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), refused)
        .await
        .expect("the listening socket is closed after the shutdown signal");

    // The response in flight is not cut off.
    up.plans.release.notify_one();
    let mut rest = Vec::new();
    while let Some(chunk) = body.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(rest, b"second-chunk");
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;
    let token = token_for("u1");

    let res = gw.get_auth("/api/v1/plans/big", &token).await;
    assert_eq!(res.status(), 200);
    let mut total = 0usize;
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        total += chunk.unwrap().len();
    }
    assert_eq!(total, 16 << 20);

    // 8 MiB upload, chunked (no Content-Length), under the 10 MiB default limit.
    let chunks =
        futures::stream::iter(0..128).map(|_| Ok::<_, std::io::Error>(vec![1u8; 64 * 1024]));
    let res = gw
        .http
        .post(gw.url("/api/v1/plans/upload"))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(body["bodyLen"], 8 << 20);
    assert_eq!(body["bodySum"], 8 << 20);
}

#[tokio::test]
async fn oversized_bodies_get_413_whether_declared_or_streamed() {
    let up = upstreams().await;
    let gw = gateway(&up, &[("MAX_BODY_BYTES", "1024")]).await;
    let before = up.auth.hits();
    let res = gw
        .http
        .post(gw.url("/api/v1/auth/register"))
        .body(vec![b'a'; 2048])
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload-too-large").await;
    assert_eq!(
        up.auth.hits(),
        before,
        "a declared oversize never reaches the upstream"
    );

    let chunks = futures::stream::iter(0..8).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 512]));
    let res = gw
        .http
        .post(gw.url("/api/v1/auth/register"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload-too-large").await;

    let res = gw
        .http
        .post(gw.url("/api/v1/auth/register"))
        .body(vec![b'a'; 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "exactly at the limit is fine");
}

#[tokio::test]
async fn an_upstream_that_is_down_gives_a_fast_503() {
    let up = upstreams().await;
    let down = closed_port_url();
    let gw = gateway_with(
        config([&down, &up.plans.url(), &up.templates.url()], &[]),
        plangen_core::shared_state::SharedState::in_process(),
    )
    .await;
    let started = Instant::now();
    let res = gw.get("/api/v1/auth/me").await;
    let body = assert_problem_with_retry_after(res, 503, "service-unavailable").await;
    assert!(body["detail"].as_str().unwrap().contains("auth"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The other upstreams are unaffected.
    assert_eq!(
        gw.get_auth("/api/v1/plans", &token_for("u")).await.status(),
        200
    );
}

async fn assert_problem_with_retry_after(res: reqwest::Response, status: u16, slug: &str) -> Value {
    assert!(
        res.headers().contains_key("retry-after"),
        "{:?}",
        res.headers()
    );
    assert_problem(res, status, slug).await
}

#[tokio::test]
async fn a_slow_upstream_gives_504_after_the_route_timeout() {
    let up = upstreams().await;
    let gw = gateway(&up, &[("PLAN_TIMEOUT_MS", "300")]).await;
    let started = Instant::now();
    let res = gw.get_auth("/api/v1/plans/slow", &token_for("u")).await;
    assert_problem(res, 504, "gateway-timeout").await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // Another route keeps the default timeout and answers normally.
    assert_eq!(gw.get("/api/v1/auth/me").await.status(), 200);
}

#[tokio::test]
async fn a_response_body_that_stalls_is_cut_off_at_the_route_timeout() {
    let up = upstreams().await;
    let gw = gateway(&up, &[("PLAN_TIMEOUT_MS", "400")]).await;
    let started = Instant::now();
    // `/stream` sends its first chunk at once and the rest only when released: never, here.
    let res = gw.get_auth("/api/v1/plans/stream", &token_for("u1")).await;
    assert_eq!(res.status(), 200, "the headers came in time");
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert_eq!(&first[..], b"first-chunk;");
    let next = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .expect("the stalled body ends at the deadline instead of hanging");
    assert!(
        matches!(next, Some(Err(_))),
        "an aborted response, never one that looks complete: {next:?}"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The gateway itself is fine and the route answers again.
    up.plans.release.notify_one();
    assert_eq!(
        gw.get_auth("/api/v1/plans/x", &token_for("u1"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_resetting_upstream_gives_502_and_only_idempotent_requests_are_retried() {
    let up = upstreams().await;
    let (reset_url, connections) = resetting_upstream().await;
    let gw = gateway_with(
        config([&reset_url, &up.plans.url(), &up.templates.url()], &[]),
        plangen_core::shared_state::SharedState::in_process(),
    )
    .await;
    let res = gw.get("/api/v1/auth/me").await;
    assert_problem(res, 502, "bad-gateway").await;
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "a GET is retried once"
    );

    let res = gw
        .http
        .post(gw.url("/api/v1/auth/login"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(res, 502, "bad-gateway").await;
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "a POST with a body is never retried"
    );
}

#[tokio::test]
async fn the_breaker_stops_calling_a_failing_upstream() {
    let up = upstreams().await;
    let (reset_url, connections) = resetting_upstream().await;
    let gw = gateway_with(
        config(
            [&reset_url, &up.plans.url(), &up.templates.url()],
            &[
                ("BREAKER_FAILURE_THRESHOLD", "3"),
                ("BREAKER_COOLDOWN_MS", "60000"),
                ("UPSTREAM_RETRIES", "0"),
            ],
        ),
        plangen_core::shared_state::SharedState::in_process(),
    )
    .await;
    for _ in 0..3 {
        assert_problem(gw.get("/api/v1/auth/me").await, 502, "bad-gateway").await;
    }
    let seen = connections.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(seen, 3);
    let res = gw.get("/api/v1/auth/me").await;
    let body = assert_problem_with_retry_after(res, 503, "service-unavailable").await;
    assert!(
        body["detail"].as_str().unwrap().contains("paused"),
        "{body}"
    );
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        seen,
        "an open breaker does not call the upstream"
    );
    let metrics = gw.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"upstream="auth",outcome="breaker_open""#),
        "{metrics}"
    );
    let ready: Value = gw.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "degraded", "{ready}");
}

#[tokio::test]
async fn the_breaker_retry_after_is_rounded_up() {
    let up = upstreams().await;
    let (reset_url, _) = resetting_upstream().await;
    let gw = gateway_with(
        config(
            [&reset_url, &up.plans.url(), &up.templates.url()],
            &[
                ("BREAKER_FAILURE_THRESHOLD", "1"),
                ("BREAKER_COOLDOWN_MS", "3000"),
                ("UPSTREAM_RETRIES", "0"),
            ],
        ),
        plangen_core::shared_state::SharedState::in_process(),
    )
    .await;
    assert_problem(gw.get("/api/v1/auth/me").await, 502, "bad-gateway").await;
    let res = gw.get("/api/v1/auth/me").await;
    // Just under 3 s are left: a client waiting 2 s would find the breaker still open.
    assert_eq!(res.headers()["retry-after"], "3");
    assert_problem(res, 503, "service-unavailable").await;
}

/// Sends a request head declaring a 100-byte body, then `partial` of it, and returns the
/// socket (the rest of the body never comes).
async fn partial_upload(gw: &Gateway, partial: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let mut socket = tokio::net::TcpStream::connect(gw.server.addr)
        .await
        .unwrap();
    let head = "POST /api/v1/auth/register HTTP/1.1\r\nhost: gateway\r\n\
                content-type: application/json\r\ncontent-length: 100\r\n\r\n";
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(partial.as_bytes()).await.unwrap();
    socket
}

/// Polls `/metrics` until `series` appears (the gateway finishes a request after its client
/// has gone, so its count lands a moment later).
async fn until_metric(gw: &Gateway, series: &str) -> String {
    let started = Instant::now();
    loop {
        let text = gw.get("/metrics").await.text().await.unwrap();
        if text.contains(series) || started.elapsed() > Duration::from_secs(5) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn clients_that_hang_up_mid_upload_do_not_open_the_breaker() {
    let up = upstreams().await;
    let gw = gateway(
        &up,
        &[
            ("BREAKER_FAILURE_THRESHOLD", "2"),
            ("UPSTREAM_RETRIES", "0"),
        ],
    )
    .await;
    for _ in 0..3 {
        drop(partial_upload(&gw, "{\"a\"").await);
    }
    let series = r#"upstream="auth",outcome="client_body_error"} 3"#;
    let metrics = until_metric(&gw, series).await;
    assert!(metrics.contains(series), "{metrics}");
    assert!(
        !metrics.contains(r#"outcome="upstream_error""#),
        "{metrics}"
    );
    assert_eq!(
        gw.get("/api/v1/auth/me").await.status(),
        200,
        "the auth service is still called"
    );
}

#[tokio::test]
async fn a_client_that_stalls_mid_upload_gets_408_and_does_not_open_the_breaker() {
    use tokio::io::AsyncReadExt as _;
    let up = upstreams().await;
    let gw = gateway(
        &up,
        &[
            ("BREAKER_FAILURE_THRESHOLD", "1"),
            ("UPSTREAM_RETRIES", "0"),
            ("AUTH_TIMEOUT_MS", "300"),
        ],
    )
    .await;
    let mut socket = partial_upload(&gw, "{\"a\"").await;
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut answer))
        .await
        .expect("an answer once the route timeout passed")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request-timeout"), "{answer}");
    assert_eq!(
        gw.get("/api/v1/auth/me").await.status(),
        200,
        "the breaker did not open"
    );
    // An upstream that is slow while the client has sent everything is still a 504.
    let slow = gw
        .http
        .post(gw.url("/api/v1/auth/slow"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(slow.status(), 504);
}

#[tokio::test]
async fn an_upstream_that_stops_reading_a_large_upload_is_a_504_not_the_clients_408() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let up = upstreams().await;
    let gw = gateway(
        &up,
        &[("UPSTREAM_RETRIES", "0"), ("AUTH_TIMEOUT_MS", "300")],
    )
    .await;
    // `/slow` never reads its body: once the socket buffers fill, the upload waits on the
    // upstream, with the client ready to send more.
    let size = 8 << 20;
    let socket = tokio::net::TcpStream::connect(gw.server.addr)
        .await
        .unwrap();
    let (mut reader, mut writer) = socket.into_split();
    let head = format!(
        "POST /api/v1/auth/slow HTTP/1.1\r\nhost: gateway\r\ncontent-length: {size}\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let upload = tokio::spawn(async move {
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..size / chunk.len() {
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), reader.read(&mut answer))
        .await
        .expect("an answer once the route timeout passed")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    upload.abort();
}

#[tokio::test]
async fn metrics_count_requests_per_route_and_upstream() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;
    gw.get_auth("/api/v1/templates/t1", &token_for("u")).await;
    let text = gw.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(
            r#"plangen_gateway_upstream_requests_total{upstream="template",outcome="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/templates/{*rest}",status="200""#),
        "{text}"
    );
    let ready = gw.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["checks"].as_array().unwrap().len(), 3);
    assert_eq!(gw.get("/healthz").await.status(), 200);
}

/// Sends `head` (request line and headers, each ending in CRLF) and returns the response head.
async fn raw_request(gw: &Gateway, head: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut socket = tokio::net::TcpStream::connect(gw.server.addr)
        .await
        .unwrap();
    let request = format!("{head}host: gateway\r\nconnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    socket.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    text.split("\r\n\r\n").next().unwrap_or("").to_owned()
}

/// Reads from `socket` until the gateway closes it; how long that took, and what was read.
async fn until_closed(socket: &mut tokio::net::TcpStream) -> (Duration, String) {
    use tokio::io::AsyncReadExt as _;
    let started = Instant::now();
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => read.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the gateway kept the connection open for 10 s"),
        }
    }
    (
        started.elapsed(),
        String::from_utf8_lossy(&read).into_owned(),
    )
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_or_idles_is_disconnected() {
    use tokio::io::AsyncWriteExt as _;
    let up = upstreams().await;
    let gw = gateway(&up, &[("CLIENT_HEADER_TIMEOUT_MS", "600")]).await;
    // Closed after the timeout and within a third more; the 2.5 s of slack are for a loaded
    // CI machine (the default timeout is 30 s, and a watcher that never fires hits the 10 s
    // limit below).
    let window = Duration::from_millis(600)..Duration::from_millis(600 * 4 / 3 + 2500);

    // Slowloris: a header line every 200 ms, never the blank line that ends the head.
    let mut slow = tokio::net::TcpStream::connect(gw.server.addr)
        .await
        .unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let (mut reader, mut writer) = slow.into_split();
    let trickle = tokio::spawn(async move {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let line = format!("x-pad-{i}: a\r\n");
            if writer.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut reader, &mut buf),
    )
    .await
    .expect("the gateway kept a trickling client for 10 s");
    let took = started.elapsed();
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "no answer to a head never finished"
    );
    assert!(window.contains(&took), "closed after {took:?}");
    trickle.abort();

    // An idle keep-alive connection: one request answered, then nothing.
    let mut idle = tokio::net::TcpStream::connect(gw.server.addr)
        .await
        .unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: gateway\r\n\r\n")
        .await
        .unwrap();
    let (took, answer) = until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(window.contains(&took), "closed after {took:?}");
}

#[tokio::test]
async fn a_response_slower_than_the_client_header_timeout_is_still_delivered() {
    let up = upstreams().await;
    // The slow route answers after 5 s; neither the wait nor the body may be cut.
    let gw = gateway(&up, &[("CLIENT_HEADER_TIMEOUT_MS", "300")]).await;
    let res = gw.get_auth("/api/v1/plans/slow", &token_for("u")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "late");
}
