//! HTTP plumbing shared by the list and write endpoints: keyset cursors, `ETag`/`If-Match`,
//! query-string parsing with field errors, `Link` headers, timestamps, and the answers of the
//! read and write endpoints (with their `ETag`, `Location`, or the 412 of a lost race).
//!
//! Used by the plan and template services.

use crate::validate::Violations;
use crate::{Json, Problem, ProblemKind};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

pub const MAX_LIMIT: u32 = 100;
pub const DEFAULT_LIMIT: u32 = 20;

/// Now, at microsecond precision: what both backends store and give back unchanged.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Fixed-width RFC 3339 (`2026-01-02T03:04:05.000006Z`): sorts as text in the same order as
/// time, so SQLite columns, Mongo fields and cursors compare timestamps as strings.
pub fn sortable(ts: &DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Serde for timestamps in the fixed-width form.
pub mod ts_format {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::sortable(ts))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let raw = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Serde for optional timestamps in the fixed-width form.
pub mod ts_format_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(t) => s.serialize_str(&super::sortable(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|raw| {
                DateTime::parse_from_rfc3339(&raw)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

/// Serde for a field where `null` counts as absent (clients send `null` for "none"): the
/// type's default.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Asc,
    Desc,
}

/// Where the next page starts: the sort key and id of the last item of this page. The sort it
/// was made for travels with it, so a cursor cannot be replayed under another sort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort parameter as given (`-createdAt`).
    pub s: String,
    /// The last item's sort key (every sortable field is stored as sortable text).
    pub k: String,
    /// The last item's id: the tie-breaker.
    pub i: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a cursor serialises");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The query string as pairs, with checks that record field errors instead of failing.
pub struct QueryParams {
    pairs: Vec<(String, String)>,
    pub violations: Violations,
}

impl QueryParams {
    /// Refuses parameters outside `allowed` (a typo would otherwise silently widen a filter).
    pub fn new(pairs: Vec<(String, String)>, allowed: &[&str]) -> Self {
        let mut violations = Violations::new();
        let mut seen = Vec::new();
        for (k, _) in &pairs {
            if !allowed.contains(&k.as_str()) {
                violations.add(k.clone(), "is not a known query parameter");
            } else if seen.contains(k) {
                violations.add(k.clone(), "may be given only once");
            } else {
                seen.push(k.clone());
            }
        }
        Self { pairs, violations }
    }

    /// The value, trimmed; empty counts as absent.
    pub fn get(&self, name: &str) -> Option<String> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn limit(&mut self) -> u32 {
        match self.get("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    self.violations
                        .add("limit", format!("must be an integer from 1 to {MAX_LIMIT}"));
                    DEFAULT_LIMIT
                }
            },
        }
    }

    /// `sort` against an allowlist of field names (`-` prefix = descending).
    pub fn sort<'a>(
        &mut self,
        allowed: &[&'a str],
        default: (&'a str, Direction),
    ) -> (&'a str, Direction) {
        let Some(raw) = self.get("sort") else {
            return default;
        };
        let (name, dir) = match raw.strip_prefix('-') {
            Some(n) => (n, Direction::Desc),
            None => (raw.strip_prefix('+').unwrap_or(&raw), Direction::Asc),
        };
        match allowed.iter().find(|a| **a == name) {
            Some(field) => (field, dir),
            None => {
                self.violations.add(
                    "sort",
                    format!(
                        "must be one of {} (prefix - for descending)",
                        allowed.join(", ")
                    ),
                );
                default
            }
        }
    }

    /// What every list reads alike: `limit`, `sort` (one of `sorts`, else `default`) and the
    /// `cursor`, which must have been made for that sort.
    pub fn page_request<'a>(
        &mut self,
        sorts: &[&'a str],
        default: (&'a str, Direction),
    ) -> PageRequest<'a> {
        let limit = self.limit();
        let (sort, direction) = self.sort(sorts, default);
        let sort_param = match direction {
            Direction::Asc => sort.to_owned(),
            Direction::Desc => format!("-{sort}"),
        };
        let after = self.cursor(&sort_param);
        PageRequest {
            limit,
            sort,
            direction,
            sort_param,
            after,
        }
    }

    /// The cursor, which must have been made for `sort`.
    pub fn cursor(&mut self, sort: &str) -> Option<Cursor> {
        let raw = self.get("cursor")?;
        match Cursor::decode(&raw) {
            Some(c) if c.s == sort => Some(c),
            Some(_) => {
                self.violations
                    .add("cursor", "was made for another sort order");
                None
            }
            None => {
                self.violations.add("cursor", "is not a valid cursor");
                None
            }
        }
    }

    /// A bounded free-text value.
    pub fn text(&mut self, name: &str, max: usize) -> Option<String> {
        let v = self.get(name)?;
        if v.chars().count() > max {
            self.violations
                .add(name, format!("must be at most {max} characters"));
            return None;
        }
        Some(v)
    }

    /// The query string for the next page: every parameter kept, `cursor` replaced.
    pub fn next_query(&self, cursor: &str) -> String {
        let mut parts: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, v)| k != "cursor" && !v.trim().is_empty())
            .map(|(k, v)| format!("{}={}", encode(k), encode(v.trim())))
            .collect();
        parts.push(format!("cursor={}", encode(cursor)));
        parts.join("&")
    }

    /// Every recorded field error as one 422, or nothing.
    pub fn finish(&mut self) -> Result<(), Problem> {
        std::mem::take(&mut self.violations).into_result()
    }
}

/// The page a list asks for (see [`QueryParams::page_request`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<'a> {
    pub limit: u32,
    /// The sort field's name.
    pub sort: &'a str,
    pub direction: Direction,
    /// The sort as the client gives it (`-createdAt`), which cursors carry.
    pub sort_param: String,
    /// Where the page starts: after this item.
    pub after: Option<Cursor>,
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Cuts the `limit + 1` rows a store returned down to one page, with the cursor of the next
/// page when the extra row shows there is one. `key_of` gives an item's sort key and id.
pub fn paginate<T>(
    mut items: Vec<T>,
    limit: u32,
    sort_param: &str,
    key_of: impl Fn(&T) -> (String, String),
) -> (Vec<T>, Option<String>) {
    if items.len() <= limit as usize {
        return (items, None);
    }
    items.truncate(limit as usize);
    let next = items.last().map(|last| {
        let (k, i) = key_of(last);
        Cursor {
            s: sort_param.to_owned(),
            k,
            i,
        }
        .encode()
    });
    (items, next)
}

/// A page as JSON, with `Link: <path?query>; rel="next"` when there is a next page.
pub fn page_response(
    body: impl Serialize,
    next_cursor: Option<&str>,
    path: &str,
    params: &QueryParams,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let mut response = axum::Json(body).into_response();
    if let Some(cursor) = next_cursor {
        response
            .headers_mut()
            .insert(header::LINK, link_next(path, &params.next_query(cursor)));
    }
    response
}

/// `Link: <path?query>; rel="next"`.
pub fn link_next(path: &str, query: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("<{path}?{query}>; rel=\"next\""))
        .expect("percent-encoded links are header-safe")
}

/// The strong ETag of a version: `"3"`.
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are header-safe")
}

/// A resource as JSON with the `ETag` of its version.
pub fn with_etag(status: StatusCode, body: &impl Serialize, version: i64) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// The 201 for a resource made at `{base}/{id}`: its JSON, `ETag` and `Location`.
pub fn created(base: &str, id: &str, body: &impl Serialize, version: i64) -> Response {
    let mut response = with_etag(StatusCode::CREATED, body, version);
    let location = HeaderValue::from_str(&format!("{base}/{id}")).expect("ids are header-safe");
    response.headers_mut().insert(header::LOCATION, location);
    response
}

/// What `If-Match` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No header: the write goes ahead on whatever version is current.
    Absent,
    /// `*`: any current version.
    Any,
    /// One of these versions (an unparsable tag matches none).
    Versions(Vec<i64>),
}

impl IfMatch {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let values: Vec<&str> = headers
            .get_all(header::IF_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            return Self::Absent;
        }
        let mut versions = Vec::new();
        for tag in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
            if tag == "*" {
                return Self::Any;
            }
            // Weak tags are compared by their value: the version is the whole state.
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            if let Some(v) = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|t| t.parse().ok())
            {
                versions.push(v);
            }
        }
        Self::Versions(versions)
    }

    /// 412 unless the current version is one that was asked for.
    pub fn check(&self, current: i64) -> Result<(), Problem> {
        match self {
            Self::Absent | Self::Any => Ok(()),
            Self::Versions(v) if v.contains(&current) => Ok(()),
            Self::Versions(_) => Err(stale(current)),
        }
    }
}

/// The 412 for a write based on an old version.
pub fn stale(current: i64) -> Problem {
    Problem::new(ProblemKind::PreconditionFailed).detail(format!(
        "The resource was changed by someone else (it is now at version {current}); \
         reload it and apply your change again"
    ))
}

/// The outcome of a store's write made only at the version read (`replace`, `delete`): `done`
/// is `false` when the resource was changed or deleted between our read and our write, a 412.
pub fn written(done: bool, read_version: i64) -> Result<(), Problem> {
    if done {
        Ok(())
    } else {
        Err(stale(read_version + 1))
    }
}

/// An id in a path: anything that is not a plausible id cannot name a stored item.
pub fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            s: "-createdAt".into(),
            k: "2026-01-01T00:00:00.000000Z".into(),
            i: "0192".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not base64!"), None);
        assert_eq!(Cursor::decode("e30"), None, "{{}} lacks fields");
    }

    #[test]
    fn if_match_parses_strong_weak_star_and_garbage() {
        let mut h = HeaderMap::new();
        assert_eq!(IfMatch::from_headers(&h), IfMatch::Absent);
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"3\", W/\"4\""));
        let m = IfMatch::from_headers(&h);
        assert!(m.check(3).is_ok() && m.check(4).is_ok());
        assert_eq!(m.check(5).unwrap_err().status, 412);
        h.insert(header::IF_MATCH, HeaderValue::from_static("bogus"));
        assert_eq!(IfMatch::from_headers(&h).check(1).unwrap_err().status, 412);
        h.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert!(IfMatch::from_headers(&h).check(9).is_ok());
    }

    #[test]
    fn a_page_request_reads_limit_sort_and_the_cursor_made_for_that_sort() {
        let cursor = Cursor {
            s: "-name".into(),
            k: "M".into(),
            i: "id9".into(),
        };
        let pairs = vec![
            ("sort".to_owned(), "-name".to_owned()),
            ("cursor".to_owned(), cursor.encode()),
        ];
        let mut q = QueryParams::new(pairs, &["limit", "sort", "cursor"]);
        let page = q.page_request(&["name", "createdAt"], ("createdAt", Direction::Desc));
        assert!(q.finish().is_ok());
        assert_eq!(
            page,
            PageRequest {
                limit: DEFAULT_LIMIT,
                sort: "name",
                direction: Direction::Desc,
                sort_param: "-name".into(),
                after: Some(cursor),
            }
        );
    }

    #[test]
    fn writes_at_an_old_version_are_412() {
        assert!(written(true, 3).is_ok());
        let p = written(false, 3).unwrap_err();
        assert_eq!(p.status, 412);
        assert!(
            p.detail
                .as_deref()
                .unwrap_or_default()
                .contains("version 4")
        );
    }

    #[test]
    fn query_params_collect_every_bad_field() {
        let pairs = vec![
            ("limit".to_owned(), "0".to_owned()),
            ("sort".to_owned(), "-owner".to_owned()),
            ("bogus".to_owned(), "1".to_owned()),
            ("cursor".to_owned(), "zz".to_owned()),
        ];
        let mut q = QueryParams::new(pairs, &["limit", "sort", "cursor"]);
        q.limit();
        let (s, _) = q.sort(&["name"], ("name", Direction::Asc));
        q.cursor(s);
        let p = q.finish().unwrap_err();
        let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["bogus", "limit", "sort", "cursor"]);
    }

    #[test]
    fn timestamps_sort_as_text() {
        let a = DateTime::parse_from_rfc3339("2026-01-01T09:00:00Z")
            .unwrap()
            .to_utc();
        let b = DateTime::parse_from_rfc3339("2026-01-01T10:00:00.5Z")
            .unwrap()
            .to_utc();
        assert_eq!(sortable(&a), "2026-01-01T09:00:00.000000Z");
        assert!(sortable(&a) < sortable(&b));
        assert_eq!(encode("a b/ü"), "a%20b%2F%C3%BC");
    }
}
