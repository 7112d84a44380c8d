//! HTTP handlers under `/api/templates`: thin — validate, call the store, shape the answer.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use plangen_core::auth::BearerSecurity;
use plangen_core::validate::Valid;
use plangen_core::{AuthUser, Json, Problem, ProblemKind};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::TemplateState;
use crate::http::{
    Direction, IfMatch, QueryParams, created, now, page_response, paginate, plausible_id,
    with_etag, written,
};
use crate::model::{Step, Template, TemplateInput, Visibility};
use crate::store::{ListQuery, SortField, StoreError};

const BASE: &str = "/api/templates";

#[derive(OpenApi)]
#[openapi(
    info(title = "Plangen template service", version = "1"),
    paths(list_templates, get_template, create_template, replace_template, delete_template, categories),
    components(schemas(Template, Step, Visibility, TemplateInput, TemplatePage, CategoryList, CategoryView, Problem, plangen_core::FieldError)),
    modifiers(&BearerSecurity),
    tags((name = "templates", description = "Reusable plan templates"))
)]
pub struct ApiDoc;

pub(crate) fn router(state: TemplateState) -> Router {
    Router::new()
        .route(BASE, get(list_templates).post(create_template))
        .route(&format!("{BASE}/categories"), get(categories))
        .route(
            &format!("{BASE}/{{id}}"),
            get(get_template)
                .put(replace_template)
                .delete(delete_template),
        )
        .with_state(state)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplatePage {
    items: Vec<Template>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryView {
    name: String,
    count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryList {
    categories: Vec<CategoryView>,
}

fn store_problem(e: StoreError) -> Problem {
    e.problem("template")
}

/// The template if `user` may see it; 404 otherwise (existence of others' private templates
/// is not disclosed).
async fn visible_template(
    state: &TemplateState,
    user: &AuthUser,
    id: &str,
) -> Result<Template, Problem> {
    if !plausible_id(id) {
        return Err(Problem::not_found("Template"));
    }
    match state.store.get(id).await.map_err(store_problem)? {
        Some(t) if t.visible_to(&user.user_id, user.is_admin()) => Ok(t),
        _ => Err(Problem::not_found("Template")),
    }
}

/// The template if `user` may change it (its owner or an admin): 403 for a public template
/// of someone else, 404 for what they cannot see.
async fn writable_template(
    state: &TemplateState,
    user: &AuthUser,
    id: &str,
) -> Result<Template, Problem> {
    let t = visible_template(state, user, id).await?;
    if t.owner_id != user.user_id && !user.is_admin() {
        return Err(Problem::new(ProblemKind::Forbidden)
            .detail("Only the owner of a template may change or delete it"));
    }
    Ok(t)
}

/// List templates (own + public), searched, filtered, sorted, a page at a time.
#[utoipa::path(get, path = "/api/templates", tag = "templates", security(("bearer" = [])),
    params(
        ("q" = Option<String>, Query, description = "Words to find in name, description or tags (any word)"),
        ("category" = Option<String>, Query), ("tag" = Option<String>, Query),
        ("visibility" = Option<String>, Query, description = "private | public"),
        ("owner" = Option<String>, Query, description = "`me`: only your own"),
        ("sort" = Option<String>, Query, description = "name, createdAt, updatedAt; prefix - for descending (default -createdAt)"),
        ("limit" = Option<u32>, Query, description = "1 to 100, default 20"),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page"),
    ),
    responses((status = 200, body = TemplatePage), (status = 422, body = Problem)))]
async fn list_templates(
    State(state): State<TemplateState>,
    user: AuthUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let mut p = QueryParams::new(
        pairs,
        &[
            "q",
            "category",
            "tag",
            "visibility",
            "owner",
            "sort",
            "limit",
            "cursor",
        ],
    );
    let page = p.page_request(&SortField::NAMES, ("createdAt", Direction::Desc));
    let q = p.text("q", 200);
    let category = p.text("category", 64);
    let tag = p.text("tag", 32);
    let visibility = match p.get("visibility").as_deref() {
        None => None,
        Some("private") => Some(Visibility::Private),
        Some("public") => Some(Visibility::Public),
        Some(_) => {
            p.violations.add("visibility", "must be private or public");
            None
        }
    };
    let owner_me = match p.get("owner").as_deref() {
        None => false,
        Some("me") => true,
        Some(_) => {
            p.violations.add("owner", "must be me");
            false
        }
    };
    let query = ListQuery {
        viewer: user.user_id.clone(),
        q,
        category,
        tag,
        visibility,
        owner_me,
        sort: SortField::from_name(page.sort).unwrap_or(SortField::CreatedAt),
        direction: page.direction,
        after: page.after,
        limit: page.limit + 1,
    };
    p.finish()?;
    let items = state.store.list(&query).await.map_err(store_problem)?;
    let (items, next_cursor) = paginate(items, page.limit, &page.sort_param, |last| {
        (query.sort.key_of(last), last.id.clone())
    });
    let cursor = next_cursor.clone();
    Ok(page_response(
        TemplatePage { items, next_cursor },
        cursor.as_deref(),
        BASE,
        &p,
    ))
}

/// One template (own, public, or any for an admin).
#[utoipa::path(get, path = "/api/templates/{id}", tag = "templates", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Template, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_template(
    State(state): State<TemplateState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let t = visible_template(&state, &user, &id).await?;
    Ok(with_etag(StatusCode::OK, &t, t.version))
}

/// Create a template owned by the caller.
#[utoipa::path(post, path = "/api/templates", tag = "templates", security(("bearer" = [])),
    request_body = TemplateInput,
    responses((status = 201, body = Template, headers(("Location" = String), ("ETag" = String))), (status = 422, body = Problem)))]
async fn create_template(
    State(state): State<TemplateState>,
    user: AuthUser,
    Valid(input): Valid<TemplateInput>,
) -> Result<Response, Problem> {
    let input = input.normalised();
    let now = now();
    let t = Template {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: user.user_id,
        name: input.name,
        description: input.description,
        category: input.category,
        tags: input.tags,
        visibility: input.visibility,
        steps: input.steps,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    state.store.insert(&t).await.map_err(store_problem)?;
    Ok(created(BASE, &t.id, &t, t.version))
}

/// Replace a template (owner or admin); `If-Match: "<version>"` guards against lost updates.
#[utoipa::path(put, path = "/api/templates/{id}", tag = "templates", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body = TemplateInput,
    responses((status = 200, body = Template), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
async fn replace_template(
    State(state): State<TemplateState>,
    user: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    Valid(input): Valid<TemplateInput>,
) -> Result<Response, Problem> {
    let current = writable_template(&state, &user, &id).await?;
    IfMatch::from_headers(&headers).check(current.version)?;
    let input = input.normalised();
    let t = Template {
        name: input.name,
        description: input.description,
        category: input.category,
        tags: input.tags,
        visibility: input.visibility,
        steps: input.steps,
        version: current.version + 1,
        updated_at: now(),
        ..current.clone()
    };
    let done = state
        .store
        .replace(&t, current.version)
        .await
        .map_err(store_problem)?;
    written(done, current.version)?;
    Ok(with_etag(StatusCode::OK, &t, t.version))
}

/// Delete a template (owner or admin); `If-Match` optional.
#[utoipa::path(delete, path = "/api/templates/{id}", tag = "templates", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
async fn delete_template(
    State(state): State<TemplateState>,
    user: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let current = writable_template(&state, &user, &id).await?;
    IfMatch::from_headers(&headers).check(current.version)?;
    let done = state
        .store
        .delete(&id, current.version)
        .await
        .map_err(store_problem)?;
    written(done, current.version)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Categories of the templates the caller can see, with counts.
#[utoipa::path(get, path = "/api/templates/categories", tag = "templates", security(("bearer" = [])),
    responses((status = 200, body = CategoryList)))]
async fn categories(
    State(state): State<TemplateState>,
    user: AuthUser,
) -> Result<Json<CategoryList>, Problem> {
    let categories = state
        .store
        .categories(&user.user_id)
        .await
        .map_err(store_problem)?
        .into_iter()
        .map(|c| CategoryView {
            name: c.name,
            count: c.count,
        })
        .collect();
    Ok(Json(CategoryList { categories }))
}
