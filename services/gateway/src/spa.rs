//! The SPA's built files: exact files when they exist, `index.html` for client-side routes,
//! long-lived caching for content-hashed assets and none for `index.html`. Until the SPA is
//! built, `/` is a page explaining the API.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use plangen_core::{Problem, ProblemKind};
use tower::ServiceExt as _;
use tower_http::services::{ServeDir, ServeFile};

use crate::GatewayState;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Vite puts content-hashed files under `assets/` (`index-BzX81a2c.js`); their names change
/// whenever their content does, so they may be cached forever.
fn is_hashed_asset(path: &str) -> bool {
    path.starts_with("/assets/")
}

/// A path a client-side router owns: no file extension in its last segment.
fn is_client_route(path: &str) -> bool {
    !path.rsplit('/').next().unwrap_or("").contains('.')
}

pub async fn serve(State(gw): State<GatewayState>, req: Request) -> Response {
    serve_from(&gw.config.spa_dir, req).await
}

/// The SPA alone, with the same security headers as the gateway: what `plangen frontend`
/// serves behind an ingress (the gateway keeps `/api`).
pub fn router(dir: PathBuf) -> Router {
    let dir = Arc::new(dir);
    // Routes rather than a fallback: the service router that wraps this sets its own
    // fallback, and `/healthz` and friends stay more specific than the wildcard.
    let handler = move |req: Request| {
        let dir = dir.clone();
        async move { serve_from(&dir, req).await }
    };
    Router::new()
        .route("/", axum::routing::get(handler.clone()))
        .route("/{*path}", axum::routing::get(handler))
        .layer(axum::middleware::from_fn(
            |req: Request, next: axum::middleware::Next| async move {
                let mut response = next.run(req).await;
                crate::edge::security_headers(response.headers_mut(), false);
                response
            },
        ))
}

/// Serves `req` from the built SPA in `dir`.
pub async fn serve_from(dir: &Path, req: Request) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut response = Problem::new(ProblemKind::MethodNotAllowed).into_response();
        // RFC 9110 §15.5.6: a 405 says what is allowed.
        response.headers_mut().insert(
            axum::http::header::ALLOW,
            axum::http::HeaderValue::from_static("GET, HEAD"),
        );
        return response;
    }
    let index = dir.join("index.html");
    let path = req.uri().path().to_owned();
    if !index.is_file() {
        if path == "/" || path == "/index.html" {
            return api_page(dir);
        }
        return Problem::new(ProblemKind::NotFound)
            .detail("The web app is not built; see /")
            .into_response();
    }

    let (parts, _) = req.into_parts();
    let file_req = || Request::from_parts(parts.clone(), Body::empty());
    let response = match ServeDir::new(dir).oneshot(file_req()).await {
        Ok(r) => r.map(Body::new),
        Err(never) => match never {},
    };
    let (response, is_index) =
        if response.status() == StatusCode::NOT_FOUND && is_client_route(&path) {
            let index_response = match ServeFile::new(&index).oneshot(file_req()).await {
                Ok(r) => r.map(Body::new),
                Err(never) => match never {},
            };
            (index_response, true)
        } else {
            let is_index = path == "/" || path.ends_with("/index.html");
            (response, is_index)
        };
    let mut response = response;
    if response.status() == StatusCode::NOT_FOUND {
        return Problem::new(ProblemKind::NotFound)
            .detail("No such file")
            .into_response();
    }
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let cache = if !is_index && is_hashed_asset(&path) {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    response
}

fn api_page(spa_dir: &Path) -> Response {
    let dir = html_escape(&spa_dir.display().to_string());
    let page = API_PAGE.replace("{SPA_DIR}", &dir);
    let mut response = Html(page).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    response
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const API_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Plangen API</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; }
code, pre { font-family: ui-monospace, monospace; background: #f6f8fa; border-radius: 4px; }
code { padding: 0 .25rem; } pre { padding: .75rem; overflow-x: auto; }
</style>
</head>
<body>
<h1>Plangen API</h1>
<p>The web app is not built yet (no <code>index.html</code> in <code>{SPA_DIR}</code>); build it with
<code>npm run build</code> in <code>frontend/</code>, or use the API directly.</p>
<ul>
<li><a href="/api/docs">API reference</a> (browsable), <a href="/api/v1/openapi.json">OpenAPI document</a></li>
<li><code>/api/v1/auth/*</code>: register, log in, refresh, sessions</li>
<li><code>/api/v1/templates/*</code>: templates (access token required)</li>
<li><code>/api/v1/plans/*</code>: plans (access token required)</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, <a href="/metrics">/metrics</a></li>
</ul>
<h2>Try it</h2>
<pre>curl -s -X POST localhost:3000/api/v1/auth/register \
  -H 'content-type: application/json' \
  -d '{"email":"ada@example.org","username":"ada","password":"correct horse battery"}'

curl -s localhost:3000/api/v1/plans -H "authorization: Bearer $ACCESS_TOKEN"</pre>
<p>Errors are <code>application/problem+json</code> (RFC 9457) and carry the request id, also sent as
<code>X-Request-Id</code>.</p>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_routes_have_no_extension() {
        assert!(is_client_route("/plans/42"));
        assert!(is_client_route("/"));
        assert!(!is_client_route("/assets/index-abc.js"));
        assert!(!is_client_route("/favicon.ico"));
    }
}
