//! A JSON extractor whose rejections are problem+json: 400 when the body is not JSON,
//! 422 (with the offending field) when it is JSON of the wrong shape, 415 without a JSON
//! content type, 413 past the body limit.

use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Problem, ProblemKind};

/// Like `axum::Json`, but rejects with a [`Problem`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(&req) {
            return Err(Problem::new(ProblemKind::UnsupportedMediaType)
                .detail("Expected a request body with `Content-Type: application/json`"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(ProblemKind::PayloadTooLarge).detail(rejection.body_text())
            } else {
                Problem::new(ProblemKind::MalformedRequest).detail(rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses JSON with the path of any offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut de);
    // Trailing garbage after the value is a syntax error too.
    if parsed.is_ok()
        && let Err(e) = de.end()
    {
        return Err(Problem::new(ProblemKind::MalformedRequest)
            .detail(format!("The request body is not valid JSON: {e}")));
    }
    match parsed {
        Ok(value) => Ok(value),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => {
                    let message = strip_position(&inner.to_string());
                    let field = missing_field_name(&message)
                        .map(|name| {
                            if path == "." || path.is_empty() {
                                name.to_owned()
                            } else {
                                format!("{path}.{name}")
                            }
                        })
                        .unwrap_or_else(|| if path == "." { String::new() } else { path });
                    Err(Problem::new(ProblemKind::Validation)
                        .detail("The request body does not have the expected shape")
                        .field(field, message))
                }
                _ => Err(Problem::new(ProblemKind::MalformedRequest)
                    .detail(format!("The request body is not valid JSON: {inner}"))),
            }
        }
    }
}

fn has_json_content_type(req: &Request) -> bool {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(ct) = ct.to_str() else { return false };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn missing_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)] // reason: fields are read by the deserializer only
    struct Body {
        email: String,
        nested: Option<Nested>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)] // reason: fields are read by the deserializer only
    struct Nested {
        count: u8,
    }

    #[test]
    fn syntax_errors_are_400_and_shape_errors_are_422_with_the_field() {
        let p = parse_json::<Body>(b"{\"email\": ").unwrap_err();
        assert_eq!(p.status, 400);
        let p = parse_json::<Body>(b"{}").unwrap_err();
        assert_eq!(p.status, 422);
        assert_eq!(p.errors[0].field, "email");
        let p = parse_json::<Body>(br#"{"email":"a","nested":{"count":300}}"#).unwrap_err();
        assert_eq!(p.status, 422);
        assert_eq!(p.errors[0].field, "nested.count");
        let p = parse_json::<Body>(br#"{"email":"a"} trailing"#).unwrap_err();
        assert_eq!(p.status, 400);
        assert!(parse_json::<Body>(br#"{"email":"a"}"#).is_ok());
    }
}
