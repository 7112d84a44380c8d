//! The training workload of the profile-guided build (`services/plangen/pgo-build.sh`): what
//! people and programs do through the gateway, in roughly the proportions they do it — mostly
//! reads of templates and plans, some writes, a login now and then, and the edge's refusals.
//! Every answer's status is checked, so a workload that stopped exercising what it names (a
//! route renamed, a body refused) fails instead of training the error path.

use std::time::Duration;

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};

/// How much to do: `users` clients at once, each `rounds` rounds of the mix.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub users: usize,
    pub rounds: usize,
}

/// Requests made, by kind, once the workload is done.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub reads: u64,
    pub writes: u64,
    pub auth: u64,
    pub refused: u64,
}

impl Tally {
    pub fn total(&self) -> u64 {
        self.reads + self.writes + self.auth + self.refused
    }

    fn add(&mut self, other: Tally) {
        self.reads += other.reads;
        self.writes += other.writes;
        self.auth += other.auth;
        self.refused += other.refused;
    }
}

/// Runs the workload against the gateway at `base` (e.g. `http://127.0.0.1:3000`); the first
/// unexpected answer ends it with an error naming the request.
pub async fn run(base: &str, load: Load) -> Result<Tally, String> {
    // One client per user: its own keep-alive connections, as separate browsers have.
    let tasks: Vec<_> = (0..load.users)
        .map(|n| {
            let base = base.trim_end_matches('/').to_owned();
            tokio::spawn(async move { User::sign_up(base, n).await?.work(load.rounds).await })
        })
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        tally.add(
            task.await
                .map_err(|e| format!("a workload task failed: {e}"))??,
        );
    }
    Ok(tally)
}

struct User {
    client: Client,
    base: String,
    login: String,
    access: String,
    refresh: String,
    tally: Tally,
}

const PASSWORD: &str = "correct horse battery staple";

impl User {
    async fn sign_up(base: String, n: usize) -> Result<Self, String> {
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        // Unique per run, so a data directory used before does not answer 409.
        let login = format!("trainee{n}x{}", uuid_like());
        let mut user = User {
            client,
            base,
            login: login.clone(),
            access: String::new(),
            refresh: String::new(),
            tally: Tally::default(),
        };
        let body = json!({"email": format!("{login}@example.org"), "username": login, "password": PASSWORD});
        let tokens = user
            .send_json(Method::POST, "/api/v1/auth/register", None, Some(body), 201)
            .await?;
        user.take_tokens(&tokens)?;
        user.tally.auth += 1;
        Ok(user)
    }

    async fn work(mut self, rounds: usize) -> Result<Tally, String> {
        // A wrong password (401, the login throttle counts it), then the right one.
        let wrong = json!({"login": self.login, "password": "not the password"});
        self.send_json(Method::POST, "/api/v1/auth/login", None, Some(wrong), 401)
            .await?;
        let right = json!({"login": self.login, "password": PASSWORD});
        let tokens = self
            .send_json(Method::POST, "/api/v1/auth/login", None, Some(right), 200)
            .await?;
        self.take_tokens(&tokens)?;
        self.tally.auth += 1;
        self.tally.refused += 1;

        let mut template = self.create_template(0).await?;
        let mut plan = self.plan_from(&template).await?;
        for round in 1..=rounds {
            if round.is_multiple_of(5) {
                template = self.create_template(round).await?;
                plan = self.plan_from(&template).await?;
                self.edit(&template, &plan, round).await?;
            }
            if round.is_multiple_of(20) {
                self.refresh_tokens().await?;
            }
            self.read(&template, &plan).await?;
            self.refusals().await?;
        }
        let access = self.access.clone();
        self.send(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&access),
            None,
            &[204],
        )
        .await?;
        self.tally.auth += 1;
        // The session is over at the edge too.
        self.send(
            Method::GET,
            "/api/v1/templates",
            Some(&access),
            None,
            &[401],
        )
        .await?;
        self.tally.refused += 1;
        Ok(self.tally)
    }

    /// The reads of one round: a template opened several times, lists, a search, the
    /// categories, plans, the schedule, the profile, a calendar.
    async fn read(&mut self, template: &Created, plan: &Created) -> Result<(), String> {
        let access = Some(self.access.clone());
        let access = access.as_deref();
        let reads = [
            format!("/api/v1/templates/{}", template.id),
            format!("/api/v1/templates/{}", template.id),
            format!("/api/v1/templates/{}", template.id),
            format!("/api/v1/templates/{}", template.id),
            "/api/v1/templates?limit=20".to_owned(),
            "/api/v1/templates?limit=20&owner=me&sort=name".to_owned(),
            "/api/v1/templates?q=review&limit=10".to_owned(),
            "/api/v1/templates?category=work".to_owned(),
            "/api/v1/templates/categories".to_owned(),
            format!("/api/v1/plans/{}", plan.id),
            format!("/api/v1/plans/{}", plan.id),
            "/api/v1/plans?limit=20".to_owned(),
            "/api/v1/plans?status=active&limit=20".to_owned(),
            "/api/v1/plans/schedule?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z".to_owned(),
            format!("/api/v1/plans/{}/calendar.ics", plan.id),
            "/api/v1/auth/me".to_owned(),
            "/api/v1/auth/sessions".to_owned(),
        ];
        for path in reads {
            self.send(Method::GET, &path, access, None, &[200]).await?;
            self.tally.reads += 1;
        }
        // The app's shell, as a browser loads it (index, or the API explanation before the
        // app is built), and a client-side route.
        self.send(Method::GET, "/", None, None, &[200]).await?;
        self.send(Method::GET, "/plans", None, None, &[200, 404])
            .await?;
        self.tally.reads += 2;
        Ok(())
    }

    /// A template edited (with `If-Match`), a plan item done, a stale write refused.
    async fn edit(
        &mut self,
        template: &Created,
        plan: &Created,
        round: usize,
    ) -> Result<(), String> {
        let access = self.access.clone();
        let path = format!("/api/v1/templates/{}", template.id);
        let request = self
            .request(Method::PUT, &path, Some(&access))
            .header("if-match", &template.etag)
            .json(&template_body(round, "Weekly review, revised"));
        expect(request, &path, &[200]).await?;
        // The same version again is stale now.
        let request = self
            .request(Method::PUT, &path, Some(&access))
            .header("if-match", &template.etag)
            .json(&template_body(round, "Weekly review, stale"));
        expect(request, &path, &[412]).await?;
        let item = plan.first_item.as_deref().ok_or("the plan has no items")?;
        let path = format!("/api/v1/plans/{}/items/{item}", plan.id);
        self.send(
            Method::PATCH,
            &path,
            Some(&access),
            Some(json!({"done": true})),
            &[200],
        )
        .await?;
        self.tally.writes += 2;
        self.tally.refused += 1;
        Ok(())
    }

    /// What the edge refuses before any service sees it: an unknown route, no token, a
    /// forged token; and a CORS preflight it answers itself.
    async fn refusals(&mut self) -> Result<(), String> {
        self.send(Method::GET, "/api/v1/nothing-here", None, None, &[404])
            .await?;
        self.send(Method::GET, "/api/v1/plans", None, None, &[401])
            .await?;
        self.send(
            Method::GET,
            "/api/v1/plans",
            Some("e30.e30.forged"),
            None,
            &[401],
        )
        .await?;
        let preflight = self
            .request(Method::OPTIONS, "/api/v1/templates", None)
            .header("origin", "http://localhost:5173")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            );
        expect(preflight, "preflight /api/v1/templates", &[200, 204]).await?;
        self.tally.refused += 4;
        Ok(())
    }

    async fn create_template(&mut self, round: usize) -> Result<Created, String> {
        let access = self.access.clone();
        let request = self
            .request(Method::POST, "/api/v1/templates", Some(&access))
            .json(&template_body(round, "Weekly review"));
        let response = expect(request, "POST /api/v1/templates", &[201]).await?;
        self.tally.writes += 1;
        Created::read(response).await
    }

    async fn plan_from(&mut self, template: &Created) -> Result<Created, String> {
        let access = self.access.clone();
        let request = self
            .request(Method::POST, "/api/v1/plans/from-template", Some(&access))
            .header("idempotency-key", format!("train-{}", uuid_like()))
            .json(&json!({"templateId": template.id, "startDate": "2026-01-05", "timezone": "Europe/Berlin"}));
        let response = expect(request, "POST /api/v1/plans/from-template", &[201]).await?;
        self.tally.writes += 1;
        Created::read(response).await
    }

    async fn refresh_tokens(&mut self) -> Result<(), String> {
        let body = json!({"refreshToken": self.refresh});
        let tokens = self
            .send_json(Method::POST, "/api/v1/auth/refresh", None, Some(body), 200)
            .await?;
        self.take_tokens(&tokens)?;
        self.tally.auth += 1;
        Ok(())
    }

    fn take_tokens(&mut self, tokens: &Value) -> Result<(), String> {
        let field = |name: &str| {
            tokens[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("no {name} in {tokens}"))
        };
        self.access = field("accessToken")?;
        self.refresh = field("refreshToken")?;
        Ok(())
    }

    fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        statuses: &[u16],
    ) -> Result<Response, String> {
        let what = format!("{method} {path}");
        let mut request = self.request(method, path, token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        expect(request, &what, statuses).await
    }

    async fn send_json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        status: u16,
    ) -> Result<Value, String> {
        let response = self.send(method, path, token, body, &[status]).await?;
        response.json().await.map_err(|e| format!("{path}: {e}"))
    }
}

/// A created template or plan: its id, version and (plans) first item.
struct Created {
    id: String,
    etag: String,
    first_item: Option<String>,
}

impl Created {
    async fn read(response: Response) -> Result<Self, String> {
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .ok_or("a created resource without ETag")?
            .to_owned();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        let id = body["id"]
            .as_str()
            .ok_or_else(|| format!("no id in {body}"))?
            .to_owned();
        let first_item = body["items"][0]["id"].as_str().map(str::to_owned);
        Ok(Created {
            id,
            etag,
            first_item,
        })
    }
}

fn template_body(round: usize, name: &str) -> Value {
    json!({
        "name": format!("{name} {round}"),
        "description": "What went well, what did not, what comes next.",
        "category": if round.is_multiple_of(2) { "work" } else { "home" },
        "tags": ["review", "weekly"],
        "visibility": if round.is_multiple_of(3) { "public" } else { "private" },
        "steps": [
            {"title": "Collect notes", "offsetDays": 0},
            {"title": "Review the week", "offsetDays": 0, "timeOfDay": "16:00", "durationMinutes": 45},
            {"title": "Plan the next one", "offsetDays": 1, "timeOfDay": "09:00"}
        ]
    })
}

/// Sends the request; the answer when its status is one of `statuses`, else an error with
/// the status and the start of the body.
async fn expect(request: RequestBuilder, what: &str, statuses: &[u16]) -> Result<Response, String> {
    let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
    let status = response.status();
    if statuses.contains(&status.as_u16()) {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(300).collect();
    Err(format!(
        "{what}: expected {statuses:?}, got {status} {body}"
    ))
}

/// Unique enough for names within and across runs (time and a counter, no extra crate).
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}
