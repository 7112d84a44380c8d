//! HTTP handlers under `/api/plans`: thin — validate, call the store, shape the answer.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use chrono::{DateTime, Datelike as _, Duration, NaiveDate, Utc};
use plangen_core::auth::BearerSecurity;
use plangen_core::json::parse_json;
use plangen_core::validate::Violations;
use plangen_core::{AuthUser, Json, Problem, ProblemKind};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use utoipa::{OpenApi, ToSchema};

use crate::PlanState;
use crate::http::{
    Direction, IfMatch, QueryParams, created, etag, now, page_response, paginate, plausible_id,
    with_etag, written,
};
use crate::model::{
    FromTemplate, Item, ItemInput, ItemPatch, MAX_YEAR, MIN_YEAR, Plan, PlanFields, PlanInput,
    Priority, Recurrence, Status, check_timezone, parse_date, parse_datetime,
};
use crate::schedule::{DEFAULT_TIME, Entry, TooMany, expand, resolve_local};
use crate::store::{Claim, ClaimRef, ListQuery, PlanStore, SortField, StoreError};

const BASE: &str = "/api/plans";
/// Longest schedule range, and most entries one schedule answers with.
const MAX_SCHEDULE_DAYS: i64 = 366;
const MAX_SCHEDULE_ENTRIES: usize = 10_000;

#[derive(OpenApi)]
#[openapi(
    info(title = "Plangen plan service", version = "1"),
    paths(list_plans, get_plan, create_plan, replace_plan, delete_plan, patch_item, from_template, schedule, calendar),
    components(schemas(Plan, Item, Recurrence, Status, Priority, PlanInput, ItemInput, ItemPatch, FromTemplate, PlanPage, SchedulePage, Entry, Problem, plangen_core::FieldError)),
    modifiers(&BearerSecurity),
    tags((name = "plans", description = "Plans, their items, schedules and calendars"))
)]
pub struct ApiDoc;

pub(crate) fn router(state: PlanState) -> Router {
    Router::new()
        .route(BASE, get(list_plans).post(create_plan))
        .route(&format!("{BASE}/schedule"), get(schedule))
        .route(&format!("{BASE}/from-template"), post(from_template))
        .route(
            &format!("{BASE}/{{id}}"),
            get(get_plan).put(replace_plan).delete(delete_plan),
        )
        .route(
            &format!("{BASE}/{{id}}/items/{{item_id}}"),
            patch(patch_item),
        )
        .route(&format!("{BASE}/{{id}}/calendar.ics"), get(calendar))
        .with_state(state)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanPage {
    items: Vec<Plan>,
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchedulePage {
    items: Vec<Entry>,
}

fn store_problem(e: StoreError) -> Problem {
    e.problem("plan")
}

fn plan_created(plan: &Plan) -> Response {
    created(BASE, &plan.id, plan, plan.version)
}

/// The caller's plan; 404 for a missing one, someone else's, or an id that cannot be one.
async fn own_plan(state: &PlanState, user: &AuthUser, id: &str) -> Result<Plan, Problem> {
    if !plausible_id(id) {
        return Err(Problem::not_found("Plan"));
    }
    match state.store.get(id).await.map_err(store_problem)? {
        Some(p) if p.owner_id == user.user_id => Ok(p),
        _ => Err(Problem::not_found("Plan")),
    }
}

/// Writes `plan` over `current` unless someone else wrote first (412).
async fn save(state: &PlanState, plan: &Plan, current_version: i64) -> Result<(), Problem> {
    let done = state
        .store
        .replace(plan, current_version)
        .await
        .map_err(store_problem)?;
    written(done, current_version)
}

/// A JSON body: 415 without a JSON content type, 400/422 as the shared extractor answers.
fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, Problem> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        });
    if !json {
        return Err(Problem::new(ProblemKind::UnsupportedMediaType)
            .detail("Expected a request body with `Content-Type: application/json`"));
    }
    parse_json(body)
}

// ---- list -----------------------------------------------------------------------------------

/// The caller's plans, filtered, searched, sorted, a page at a time.
#[utoipa::path(get, path = "/api/plans", tag = "plans", security(("bearer" = [])),
    params(
        ("status" = Option<String>, Query), ("tag" = Option<String>, Query),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD: plans running on or after"),
        ("to" = Option<String>, Query, description = "YYYY-MM-DD: plans starting on or before"),
        ("q" = Option<String>, Query, description = "Words in title, description or tags (any word)"),
        ("sort" = Option<String>, Query, description = "title, startDate, createdAt, updatedAt; prefix - for descending (default -createdAt)"),
        ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, body = PlanPage), (status = 422, body = Problem)))]
async fn list_plans(
    State(state): State<PlanState>,
    user: AuthUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let mut p = QueryParams::new(
        pairs,
        &[
            "status", "tag", "from", "to", "q", "sort", "limit", "cursor",
        ],
    );
    let page = p.page_request(&SortField::NAMES, ("createdAt", Direction::Desc));
    let q = p.text("q", 200);
    let tag = p.text("tag", 32);
    let status = p.get("status").and_then(|s| {
        let parsed = Status::parse(&s);
        if parsed.is_none() {
            p.violations
                .add("status", "must be draft, active, completed or archived");
        }
        parsed
    });
    let from = p
        .get("from")
        .and_then(|raw| parse_date(&mut p.violations, "from", &raw));
    let to = p
        .get("to")
        .and_then(|raw| parse_date(&mut p.violations, "to", &raw));
    if let (Some(f), Some(t)) = (from, to) {
        p.violations.check(t >= f, "to", "must not be before from");
    }
    p.finish()?;
    let query = ListQuery {
        owner: user.user_id.clone(),
        q,
        status,
        tag,
        from: from.map(|d| d.format("%Y-%m-%d").to_string()),
        to: to.map(|d| d.format("%Y-%m-%d").to_string()),
        sort: SortField::from_name(page.sort).unwrap_or(SortField::CreatedAt),
        direction: page.direction,
        after: page.after,
        limit: page.limit + 1,
    };
    let items = state.store.list(&query).await.map_err(store_problem)?;
    let (items, next_cursor) = paginate(items, page.limit, &page.sort_param, |last| {
        (query.sort.key_of(last), last.id.clone())
    });
    let cursor = next_cursor.clone();
    Ok(page_response(
        PlanPage { items, next_cursor },
        cursor.as_deref(),
        BASE,
        &p,
    ))
}

// ---- read, write ----------------------------------------------------------------------------

/// One of the caller's plans.
#[utoipa::path(get, path = "/api/plans/{id}", tag = "plans", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Plan, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_plan(
    State(state): State<PlanState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let plan = own_plan(&state, &user, &id).await?;
    Ok(with_etag(StatusCode::OK, &plan, plan.version))
}

fn new_plan(id: String, owner: &str, f: PlanFields, now: DateTime<Utc>) -> Plan {
    Plan {
        id,
        owner_id: owner.to_owned(),
        title: f.title,
        description: f.description,
        status: f.status,
        start_date: f.start_date,
        end_date: f.end_date,
        timezone: f.timezone,
        tags: f.tags,
        priority: f.priority,
        template_id: None,
        template_version: None,
        items: f.items,
        recurrence: f.recurrence,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// The id of the plan made under `key` for a request whose body hashes to `request_hash`:
/// the same for every attempt of that request (a UUIDv8 from a SHA-256). An attempt cut off
/// after its plan was written but before its answer was recorded (a timeout, a crash) leaves
/// a claim that is taken over after [`CLAIM_TIMEOUT`](crate::store::CLAIM_TIMEOUT); the
/// retry then finds its plan already there instead of making a second one.
fn idempotent_plan_id(owner: &str, key: &str, request_hash: &str) -> String {
    let digest = Sha256::new()
        .chain_update(owner)
        .chain_update([0])
        .chain_update(key)
        .chain_update([0])
        .chain_update(request_hash)
        .finalize();
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Runs `make` (given the new plan's id) at most once per `Idempotency-Key` of the caller: a
/// retry with the same key and body gets the first response; the same key with another body
/// is a 422; a retry while the first is still running a 409. Without the header, `make`
/// just runs.
async fn idempotent<F, Fut>(
    state: &PlanState,
    user: &AuthUser,
    headers: &HeaderMap,
    request: &[u8],
    make: F,
) -> Result<Response, Problem>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<Plan, Problem>>,
{
    let Some(raw) = headers.get("idempotency-key") else {
        return make(uuid::Uuid::now_v7().to_string())
            .await
            .map(|p| plan_created(&p));
    };
    let key = raw
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            Problem::validation(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    let hash = hex::encode(Sha256::digest(request));
    let claimed_at = now();
    let claim = state
        .store
        .claim_key(&user.user_id, key, &hash, claimed_at)
        .await
        .map_err(store_problem)?;
    match claim {
        Claim::New => {
            let claimed = ClaimedKey::new(
                state,
                ClaimRef {
                    owner: user.user_id.clone(),
                    key: key.to_owned(),
                    claimed_at,
                },
            );
            let id = idempotent_plan_id(&user.user_id, key, &hash);
            match made_once(state, user, id, make).await {
                Ok((plan, made_before)) => {
                    let body = serde_json::to_string(&plan).map_err(Problem::internal)?;
                    claimed.record(&body).await;
                    Ok(if made_before {
                        replayed(&plan)
                    } else {
                        plan_created(&plan)
                    })
                }
                Err(problem) => {
                    claimed.release().await;
                    Err(problem)
                }
            }
        }
        Claim::Done(body) => {
            let plan: Plan = serde_json::from_str(&body).map_err(Problem::internal)?;
            Ok(replayed(&plan))
        }
        Claim::InProgress => Err(Problem::new(ProblemKind::Conflict)
            .detail("A request with this Idempotency-Key is still being processed; retry shortly")),
        Claim::Mismatch => Err(Problem::validation(
            "Idempotency-Key",
            "was already used for a different request",
        )),
    }
}

/// An `Idempotency-Key` this request claimed: kept once its answer is recorded ([`record`]),
/// left to this request's retry when its plan was made but the answer could not be recorded
/// (also [`record`]), given up when the work failed ([`release`], awaited, so the client's
/// retry finds it free)
/// and also when the request is abandoned before either (its future dropped:
/// `REQUEST_TIMEOUT_MS`, a closed connection), so the retry runs at once instead of meeting a
/// 409 until the claim can be taken over. Safe even if the abandoned attempt's write still
/// lands: the retry makes its plan under the same id and finds that one. Each of these acts on
/// this request's claim only (by its time): an attempt that outlived its claim cannot free or
/// answer for the request that took the key over.
///
/// [`record`]: ClaimedKey::record
/// [`release`]: ClaimedKey::release
struct ClaimedKey {
    held: Option<HeldKey>,
}

struct HeldKey {
    store: Arc<dyn PlanStore>,
    claim: ClaimRef,
}

impl HeldKey {
    async fn release(&self) {
        if let Err(e) = self.store.release_key(&self.claim).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
    }
}

impl ClaimedKey {
    fn new(state: &PlanState, claim: ClaimRef) -> Self {
        Self {
            held: Some(HeldKey {
                store: state.store.clone(),
                claim,
            }),
        }
    }

    /// Records `answer` for replays and keeps the key. If it cannot be recorded, the plan
    /// still exists under the id this key and body make, so the claim is left to be taken over
    /// at once, by this same request only (its hash stays): the retry then finds that plan
    /// (`made_once`) instead of meeting a 409 until the claim times out, and another body under
    /// the key is still a 422.
    async fn record(mut self, answer: &str) {
        let Some(held) = &self.held else { return };
        let recorded = held.store.complete_key(&held.claim, answer).await;
        // Only now: dropped while recording, the drop releases the key instead.
        if let (Err(e), Some(held)) = (recorded, self.held.take()) {
            tracing::warn!(error = %e, "could not record an idempotent response");
            if let Err(e) = held.store.abandon_key(&held.claim).await {
                // Then it is taken over only once it times out, as a crashed request's.
                tracing::warn!(error = %e, "could not leave an idempotency key to its retry");
            }
        }
    }

    async fn release(mut self) {
        if let Some(held) = &self.held {
            held.release().await;
        }
        // Only now: abandoned during the release above, the drop releases it instead.
        self.held = None;
    }
}

impl Drop for ClaimedKey {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            tokio::spawn(async move { held.release().await });
        }
    }
}

/// `make(id)`'s plan, or — when a plan with that id is already the caller's, written by an
/// earlier attempt of the same request that never recorded its answer — that plan (`true`:
/// made before).
async fn made_once<F, Fut>(
    state: &PlanState,
    user: &AuthUser,
    id: String,
    make: F,
) -> Result<(Plan, bool), Problem>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<Plan, Problem>>,
{
    match make(id.clone()).await {
        Err(problem) if problem.kind == Some(ProblemKind::Conflict) => {
            match state.store.get(&id).await.map_err(store_problem)? {
                Some(plan) if plan.owner_id == user.user_id => {
                    tracing::info!(plan_id = %id, "an earlier attempt of this request made the plan");
                    Ok((plan, true))
                }
                _ => Err(problem),
            }
        }
        made => made.map(|plan| (plan, false)),
    }
}

/// The answer to a retry: the first attempt's plan, marked as replayed.
fn replayed(plan: &Plan) -> Response {
    let mut response = plan_created(plan);
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Create a plan. With `Idempotency-Key`, a retry returns the first result.
#[utoipa::path(post, path = "/api/plans", tag = "plans", security(("bearer" = [])),
    request_body = PlanInput, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Plan, headers(("Location" = String), ("ETag" = String))), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_plan(
    State(state): State<PlanState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let input: PlanInput = json_body(&headers, &body)?;
    let now = now();
    let fields = input.check(now)?;
    let request = [b"POST /\n".as_slice(), &body].concat();
    idempotent(&state, &user, &headers, &request, |id| async {
        let plan = new_plan(id, &user.user_id, fields, now);
        state.store.insert(&plan).await.map_err(store_problem)?;
        Ok(plan)
    })
    .await
}

/// Replace a plan's fields and items (items keep their ids when sent back with them).
#[utoipa::path(put, path = "/api/plans/{id}", tag = "plans", security(("bearer" = [])),
    request_body = PlanInput, params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Plan), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn replace_plan(
    State(state): State<PlanState>,
    user: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let current = own_plan(&state, &user, &id).await?;
    IfMatch::from_headers(&headers).check(current.version)?;
    let input: PlanInput = json_body(&headers, &body)?;
    let now = now();
    let f = input.check(now)?;
    let plan = Plan {
        title: f.title,
        description: f.description,
        status: f.status,
        start_date: f.start_date,
        end_date: f.end_date,
        timezone: f.timezone,
        tags: f.tags,
        priority: f.priority,
        items: f.items,
        recurrence: f.recurrence,
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    };
    save(&state, &plan, current.version).await?;
    Ok(with_etag(StatusCode::OK, &plan, plan.version))
}

/// Delete a plan.
#[utoipa::path(delete, path = "/api/plans/{id}", tag = "plans", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
async fn delete_plan(
    State(state): State<PlanState>,
    user: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let current = own_plan(&state, &user, &id).await?;
    IfMatch::from_headers(&headers).check(current.version)?;
    let done = state
        .store
        .delete(&id, current.version)
        .await
        .map_err(store_problem)?;
    written(done, current.version)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark an item done or undone, retitle it, or move it; answers with the whole plan.
#[utoipa::path(patch, path = "/api/plans/{id}/items/{item_id}", tag = "plans", security(("bearer" = [])),
    request_body = ItemPatch, params(("id" = String, Path), ("item_id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Plan), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn patch_item(
    State(state): State<PlanState>,
    user: AuthUser,
    Path((id, item_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let current = own_plan(&state, &user, &id).await?;
    IfMatch::from_headers(&headers).check(current.version)?;
    let change: ItemPatch = json_body(&headers, &body)?;
    let Some(index) = current.items.iter().position(|i| i.id == item_id) else {
        return Err(Problem::not_found("Item"));
    };
    let mut v = Violations::new();
    v.check(
        change.done.is_some() || change.title.is_some() || change.position.is_some(),
        "",
        "send at least one of done, title, position",
    );
    if let Some(title) = &change.title {
        v.length("title", title.trim(), 1, 200);
    }
    if let Some(pos) = change.position {
        v.check(
            (pos as usize) < current.items.len(),
            "position",
            format!("must be between 0 and {}", current.items.len() - 1),
        );
    }
    v.into_result()?;
    let now = now();
    let mut plan = current.clone();
    let item = &mut plan.items[index];
    if let Some(done) = change.done {
        // Marking a done item done again keeps when it was first done.
        item.done_at = if done {
            item.done_at.or(Some(now))
        } else {
            None
        };
    }
    if let Some(title) = change.title {
        item.title = title.trim().to_owned();
    }
    if let Some(pos) = change.position {
        let moved = plan.items.remove(index);
        plan.items.insert(pos as usize, moved);
    }
    plan.renumber();
    plan.version = current.version + 1;
    plan.updated_at = now;
    save(&state, &plan, current.version).await?;
    Ok(with_etag(StatusCode::OK, &plan, plan.version))
}

// ---- from a template --------------------------------------------------------------------------

/// `date + days` at `time` in `tz`, as an instant; `None` outside the supported years.
fn due_from_offset(
    tz: chrono_tz::Tz,
    start: NaiveDate,
    days: i32,
    time: chrono::NaiveTime,
) -> Option<DateTime<Utc>> {
    let day = start.checked_add_signed(Duration::days(i64::from(days)))?;
    (MIN_YEAR..=MAX_YEAR)
        .contains(&day.year())
        .then(|| resolve_local(tz, day.and_time(time)))
}

/// Make a plan from a template: each step due `offsetDays` after `startDate` at its time of
/// day (09:00 by default) in `timezone`. The template is fetched with the caller's token.
#[utoipa::path(post, path = "/api/plans/from-template", tag = "plans", security(("bearer" = [])),
    request_body = FromTemplate, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Plan), (status = 404, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem), (status = 504, body = Problem)))]
async fn from_template(
    State(state): State<PlanState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let input: FromTemplate = json_body(&headers, &body)?;
    let mut v = Violations::new();
    let start = parse_date(&mut v, "startDate", input.start_date.trim());
    let tz = check_timezone(&mut v, "timezone", input.timezone.trim());
    let title = input
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(t) = title {
        v.length("title", t, 1, 200);
    }
    v.check(
        !input.template_id.trim().is_empty(),
        "templateId",
        "must not be empty",
    );
    v.into_result()?;
    let (start, tz) = (start.expect("checked"), tz.expect("checked"));
    if !plausible_id(input.template_id.trim()) {
        return Err(Problem::not_found("Template"));
    }
    let token = user
        .token
        .clone()
        .ok_or_else(|| Problem::new(ProblemKind::Unauthenticated))?;
    let request = [b"POST /from-template\n".as_slice(), &body].concat();
    idempotent(&state, &user, &headers, &request, |id| async {
        let template = state
            .templates
            .fetch(input.template_id.trim(), &token)
            .await?;
        let mut items = Vec::with_capacity(template.steps.len());
        for (i, step) in template.steps.iter().enumerate() {
            let time = step
                .time_of_day
                .as_deref()
                .and_then(|t| chrono::NaiveTime::parse_from_str(t, "%H:%M").ok())
                .unwrap_or(DEFAULT_TIME);
            let due = due_from_offset(tz, start, step.offset_days, time).ok_or_else(|| {
                Problem::validation("startDate", "puts a step outside the supported years")
            })?;
            items.push(Item {
                id: uuid::Uuid::now_v7().to_string(),
                title: step.title.clone(),
                notes: step.notes.clone(),
                due_at: Some(due),
                duration_minutes: step.duration_minutes,
                done_at: None,
                position: i as u32,
            });
        }
        let last = template
            .steps
            .iter()
            .map(|s| s.offset_days)
            .max()
            .unwrap_or(0);
        let end_date = (last > 0)
            .then(|| start.checked_add_signed(Duration::days(i64::from(last))))
            .flatten();
        let now = now();
        let plan = Plan {
            id,
            owner_id: user.user_id.clone(),
            title: title
                .map(str::to_owned)
                .unwrap_or_else(|| template.name.clone()),
            description: template.description.clone(),
            status: Status::Active,
            start_date: start,
            end_date,
            timezone: tz.name().to_owned(),
            tags: template.tags.clone(),
            priority: Priority::Medium,
            template_id: Some(template.id.clone()),
            template_version: Some(template.version),
            items,
            recurrence: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        // One insert: either the whole plan exists or none of it.
        state.store.insert(&plan).await.map_err(store_problem)?;
        Ok(plan)
    })
    .await
}

// ---- schedule, calendar -------------------------------------------------------------------------

/// Every dated item of the caller's plans in `[from, to)`, recurring plans expanded, by time.
#[utoipa::path(get, path = "/api/plans/schedule", tag = "plans", security(("bearer" = [])),
    params(("from" = String, Query, description = "RFC 3339"), ("to" = String, Query, description = "RFC 3339; at most 366 days after from")),
    responses((status = 200, body = SchedulePage), (status = 422, body = Problem)))]
async fn schedule(
    State(state): State<PlanState>,
    user: AuthUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<SchedulePage>, Problem> {
    let mut p = QueryParams::new(pairs, &["from", "to"]);
    let get = |p: &mut QueryParams, name: &str| match p.get(name) {
        Some(raw) => parse_datetime(&mut p.violations, name, &raw),
        None => {
            p.violations.add(name, "is required (RFC 3339)");
            None
        }
    };
    let from = get(&mut p, "from");
    let to = get(&mut p, "to");
    if let (Some(f), Some(t)) = (from, to) {
        p.violations.check(t > f, "to", "must be after from");
        p.violations.check(
            t - f <= Duration::days(MAX_SCHEDULE_DAYS),
            "to",
            format!("must be at most {MAX_SCHEDULE_DAYS} days after from"),
        );
    }
    p.finish()?;
    let (from, to) = (from.expect("checked"), to.expect("checked"));
    let plans = state
        .store
        .schedule_candidates(
            &user.user_id,
            &crate::http::sortable(&from),
            &crate::http::sortable(&to),
        )
        .await
        .map_err(store_problem)?;
    let mut items = Vec::new();
    for plan in &plans {
        expand(plan, from, to, MAX_SCHEDULE_ENTRIES, &mut items).map_err(|TooMany| {
            Problem::validation(
                "to",
                format!("the range holds more than {MAX_SCHEDULE_ENTRIES} items; narrow it"),
            )
        })?;
    }
    items.sort_by(|a, b| {
        (a.due_at, &a.plan_id, &a.item_id).cmp(&(b.due_at, &b.plan_id, &b.item_id))
    });
    Ok(Json(SchedulePage { items }))
}

/// The plan as an iCalendar file.
#[utoipa::path(get, path = "/api/plans/{id}/calendar.ics", tag = "plans", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404, body = Problem)))]
async fn calendar(
    State(state): State<PlanState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let plan = own_plan(&state, &user, &id).await?;
    let mut response = crate::ics::render(&plan).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"plan.ics\""),
    );
    headers.insert(header::ETAG, etag(plan.version));
    Ok(response)
}
