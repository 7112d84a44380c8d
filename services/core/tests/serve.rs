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
