//! Graceful shutdown: in-flight requests finish, new connections are refused.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use plangen_core::server::{Shutdown, serve};
use plangen_core::{ServiceOps, service_router};

#[tokio::test]
async fn shutdown_drains_in_flight_requests_then_stops_listening() {
    let api = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            "done"
        }),
    );
    let app = service_router(
        api,
        ServiceOps::new("test", utoipa::openapi::OpenApi::default()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, shutdown) = Shutdown::new();
    let server = tokio::spawn(serve(listener, app, shutdown));

    let client = reqwest::Client::new();
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.get(format!("http://{addr}/slow")).send().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    trigger.trigger();

    let res = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "done");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops after draining")
        .unwrap()
        .unwrap();
    let fresh = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await;
    assert!(fresh.is_err(), "no longer accepting connections");
}

#[tokio::test]
async fn unknown_routes_and_panics_are_problem_json() {
    let api = Router::new().route("/boom", get(|| async { panic!("kaboom") as &'static str }));
    let app = service_router(
        api,
        ServiceOps::new("test", utoipa::openapi::OpenApi::default()),
    );
    let server = plangen_core::testing::TestServer::spawn(app).await;
    let res = reqwest::get(server.url("/nope")).await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = reqwest::get(server.url("/boom")).await.unwrap();
    assert_eq!(res.status(), 500);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("https://plangen.io/problems/internal"),
        "{body}"
    );
    assert!(!body.contains("kaboom"), "the cause is not shown: {body}");
}

/// Sets its flag when dropped: shows that a handler's work was cancelled, not left running.
struct DropSignal(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_request_that_never_finishes_is_abandoned_with_a_timeout_problem_and_its_work_cancelled()
{
    let cancelled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stuck = {
        let cancelled = cancelled.clone();
        move || {
            let guard = DropSignal(cancelled.clone());
            async move {
                // As a query on a connection whose server went silent: no answer, ever.
                std::future::pending::<()>().await;
                drop(guard);
                "unreachable"
            }
        }
    };
    let api = Router::new()
        .route("/stuck", get(stuck.clone()).post(stuck))
        .route("/quick", get(|| async { "quick" }));
    let ops = ServiceOps::new("test", utoipa::openapi::OpenApi::default())
        .request_timeout(Duration::from_millis(300));
    let server = plangen_core::testing::TestServer::spawn(service_router(api, ops)).await;
    let client = reqwest::Client::new();

    let started = std::time::Instant::now();
    let res = tokio::time::timeout(
        Duration::from_secs(10),
        client.get(server.url("/stuck")).send(),
    )
    .await
    .expect("answered, not left hanging")
    .unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "bounded: {waited:?}");
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(res.headers()["retry-after"], "1");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["type"], "https://plangen.io/problems/timeout");
    assert_eq!(body["detail"], "The request did not finish within 300 ms");
    assert!(body["requestId"].is_string(), "{body}");
    assert!(
        cancelled.load(std::sync::atomic::Ordering::SeqCst),
        "the handler's work was dropped, not left running"
    );

    let res = client.post(server.url("/stuck")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .ends_with("it may or may not have taken effect"),
        "a write's caller is told it may have happened: {body}"
    );

    let res = client.get(server.url("/quick")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("/stuck") && l.contains("503") && !l.starts_with('#')),
        "the abandoned requests are counted as 503: {metrics}"
    );
}
