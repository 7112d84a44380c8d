//! One OpenAPI document merged from the services' own (`{UPSTREAM}/openapi.json`), with their
//! paths rewritten to the public ones, and a small self-contained page to browse it (no CDN,
//! so it works offline; its script is a separate file because the CSP forbids inline ones).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use serde_json::{Map, Value, json};

use crate::GatewayState;
use crate::proxy::Upstream;

const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

async fn fetch(up: &Upstream) -> Result<Value, String> {
    let (status, body) = up.get_small("/openapi.json", FETCH_TIMEOUT).await?;
    if !status.is_success() {
        return Err(format!("answered {status}"));
    }
    serde_json::from_slice(&body).map_err(|_| "did not answer JSON".to_owned())
}

/// Merges the documents; `None` means the upstream could not be read (with why).
pub fn merge(documents: &[(&Upstream, Result<Value, String>)]) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut responses = Map::new();
    let mut parameters = Map::new();
    let mut security_schemes = Map::new();
    let mut tags: Vec<Value> = Vec::new();
    let mut missing = Vec::new();
    for (up, doc) in documents {
        let doc = match doc {
            Ok(d) => d,
            Err(why) => {
                missing.push(format!("{} ({why})", up.name()));
                continue;
            }
        };
        let (from, to) = (up.config.upstream_prefix, up.config.public_prefix);
        if let Some(p) = doc.get("paths").and_then(Value::as_object) {
            for (path, item) in p {
                // Only the API family this upstream serves publicly; its /healthz etc. are not.
                if let Some(rest) = path.strip_prefix(from)
                    && (rest.is_empty() || rest.starts_with('/'))
                {
                    paths.insert(format!("{to}{rest}"), item.clone());
                }
            }
        }
        let components = doc.get("components");
        for (name, target) in [
            ("schemas", &mut schemas),
            ("responses", &mut responses),
            ("parameters", &mut parameters),
            ("securitySchemes", &mut security_schemes),
        ] {
            if let Some(items) = components
                .and_then(|c| c.get(name))
                .and_then(Value::as_object)
            {
                for (k, v) in items {
                    // Shared types (Problem, FieldError) come from plangen-core and are
                    // identical in every document; the first one wins.
                    target.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        if let Some(t) = doc.get("tags").and_then(Value::as_array) {
            for tag in t {
                if !tags.iter().any(|x| x.get("name") == tag.get("name")) {
                    tags.push(tag.clone());
                }
            }
        }
    }
    let mut description = "Every Plangen API behind the gateway. Errors are RFC 9457 \
        problem+json; send `Authorization: Bearer <access token>` to plans and templates."
        .to_owned();
    if !missing.is_empty() {
        description.push_str(&format!(
            "\n\nIncomplete: could not read the OpenAPI document of {} when this was built; \
             reload later.",
            missing.join(", ")
        ));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Plangen API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": description,
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "parameters": parameters,
            "securitySchemes": security_schemes,
        },
        "tags": tags,
    })
}

/// `GET /api/v1/openapi.json`: fetched fresh each time (a rare request), so a service that
/// starts later is included as soon as it is up.
pub async fn merged(State(gw): State<GatewayState>) -> impl IntoResponse {
    let docs = futures::future::join_all(gw.upstreams.iter().map(|up| async move {
        let doc = fetch(up).await;
        if let Err(e) = &doc {
            tracing::warn!(upstream = up.name(), error = %e, "OpenAPI document unavailable; merged without it");
        }
        (up.as_ref(), doc)
    }))
    .await;
    ([(header::CACHE_CONTROL, "no-cache")], Json(merge(&docs)))
}

pub async fn docs_page() -> impl IntoResponse {
    Html(DOCS_PAGE)
}

pub async fn docs_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        DOCS_SCRIPT,
    )
}

const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Plangen API reference</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; }
code, pre { font-family: ui-monospace, monospace; }
pre { background: #f6f8fa; padding: .75rem; overflow-x: auto; border-radius: 4px; font-size: 13px; }
details { border: 1px solid #d0d7de; border-radius: 6px; margin: .4rem 0; padding: .3rem .6rem; }
summary { cursor: pointer; }
.m { display: inline-block; min-width: 4.5rem; font-weight: 600; text-transform: uppercase; }
.get { color: #0969da; } .post { color: #1a7f37; } .put, .patch { color: #9a6700; } .delete { color: #cf222e; }
.lock { color: #57606a; font-size: 12px; }
</style>
</head>
<body>
<h1 id="title">Plangen API reference</h1>
<p id="description">Loading <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>…</p>
<div id="paths"></div>
<script src="/api/docs/docs.js"></script>
</body>
</html>
"#;

const DOCS_SCRIPT: &str = r#"'use strict';
(async () => {
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const c of children) e.append(c);
    return e;
  };
  const out = document.getElementById('paths');
  let doc;
  try {
    const res = await fetch('/api/v1/openapi.json');
    doc = await res.json();
  } catch (err) {
    document.getElementById('description').textContent = 'Could not load the OpenAPI document: ' + err;
    return;
  }
  document.getElementById('title').textContent = doc.info.title + ' ' + doc.info.version;
  document.getElementById('description').textContent = doc.info.description || '';
  const methods = ['get', 'post', 'put', 'patch', 'delete'];
  for (const [path, item] of Object.entries(doc.paths || {}).sort()) {
    for (const m of methods) {
      const op = item[m];
      if (!op) continue;
      const summary = el('summary', {},
        el('span', { class: 'm ' + m }, m), ' ', el('code', {}, path), ' ',
        op.summary || op.operationId || '',
        (op.security && op.security.length) ? el('span', { class: 'lock' }, ' 🔒 bearer') : '');
      const body = el('div');
      if (op.description) body.append(el('p', {}, op.description));
      const detail = {};
      for (const k of ['parameters', 'requestBody', 'responses']) if (op[k]) detail[k] = op[k];
      body.append(el('pre', {}, JSON.stringify(detail, null, 2)));
      out.append(el('details', {}, summary, body));
    }
  }
  const schemas = (doc.components && doc.components.schemas) || {};
  if (Object.keys(schemas).length) {
    out.append(el('h2', {}, 'Schemas'));
    for (const [name, schema] of Object.entries(schemas).sort()) {
      out.append(el('details', {}, el('summary', {}, el('code', {}, name)),
        el('pre', {}, JSON.stringify(schema, null, 2))));
    }
  }
})();
"#;
