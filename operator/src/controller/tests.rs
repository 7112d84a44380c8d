//! Reconcile tests against an in-memory fake API server behind `tower-test`'s mock service
//! (the ApiServerVerifier idea of kube-rs's controller-rs, made stateful so that whole
//! sequences — first reconcile, steady state, drift, scale, deletion — can be replayed).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

use super::*;
use crate::crd::PlangenSpec;

const PLANGEN_PATH: &str = "/apis/plangen.io/v1alpha1/namespaces/default/plangens/demo";

/// One request as the fake saw it.
#[derive(Clone, Debug)]
struct Call {
    method: Method,
    path: String,
    query: String,
    content_type: String,
}

impl Call {
    fn is_write(&self) -> bool {
        self.method != Method::GET
    }
    /// A server-side apply of a child (status writes are counted separately).
    fn is_apply(&self) -> bool {
        self.method == Method::PATCH
            && self.content_type.contains("apply-patch")
            && !self.is_status()
    }
    fn is_status(&self) -> bool {
        self.path.ends_with("/status")
    }
    fn is_event(&self) -> bool {
        self.path.contains("/events")
    }
}

#[derive(Default)]
struct State {
    /// Object path (collection/name) → object.
    objects: BTreeMap<String, Value>,
    calls: Vec<Call>,
    version: u64,
    /// Paths whose writes fail with 500 (error injection).
    failing: Vec<String>,
}

#[derive(Clone, Default)]
struct FakeApi(Arc<Mutex<State>>);

fn split(path: &str) -> (String, Option<String>, Option<String>) {
    // .../namespaces/{ns}/{plural}[/{name}[/{sub}]]
    let parts: Vec<&str> = path.split('/').collect();
    let ns_at = parts
        .iter()
        .position(|p| *p == "namespaces")
        .expect("namespaced path");
    let collection = parts[..ns_at + 3].join("/");
    (
        collection,
        parts.get(ns_at + 3).map(|s| s.to_string()),
        parts.get(ns_at + 4).map(|s| s.to_string()),
    )
}

fn labels_match(obj: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|kv| {
        let (k, v) = kv.split_once('=').unwrap();
        obj["metadata"]["labels"][k] == json!(v)
    })
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            v.replace("%3D", "=")
                .replace("%2C", ",")
                .replace("%2F", "/")
        })
    })
}

fn status(code: u16, reason: &str) -> (StatusCode, Value) {
    (
        StatusCode::from_u16(code).unwrap(),
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": reason, "metadata": {}}),
    )
}

impl FakeApi {
    fn client(&self) -> Client {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let me = self.clone();
        tokio::spawn(async move {
            while let Some((req, send)) = handle.next_request().await {
                let (code, body) = me.handle(req).await;
                send.send_response(
                    Response::builder()
                        .status(code)
                        .header("content-type", "application/json")
                        .body(Body::from(serde_json::to_vec(&body).unwrap()))
                        .unwrap(),
                );
            }
        });
        Client::new(service, "default")
    }

    fn context(&self) -> Arc<Context> {
        Arc::new(Context::new(self.client(), Metrics::default(), None))
    }

    async fn handle(&self, req: Request<Body>) -> (StatusCode, Value) {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or_default().to_string();
        let content_type = req
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = req.into_body().collect_bytes().await.unwrap();
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        let mut st = self.0.lock().unwrap();
        st.calls.push(Call {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            content_type: content_type.clone(),
        });
        let (collection, name, sub) = split(&path);
        let key = name.as_ref().map(|n| format!("{collection}/{n}"));
        if method != Method::GET && key.as_ref().is_some_and(|k| st.failing.contains(k)) {
            return status(500, "InternalError");
        }
        st.version += 1;
        let rv = st.version.to_string();
        match (method, key) {
            (Method::GET, None) => {
                let selector = query_param(&query, "labelSelector").unwrap_or_default();
                let items: Vec<Value> = st
                    .objects
                    .iter()
                    .filter(|(k, v)| {
                        k.rsplit_once('/').unwrap().0 == collection && labels_match(v, &selector)
                    })
                    .map(|(_, v)| v.clone())
                    .collect();
                (
                    StatusCode::OK,
                    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": rv}, "items": items}),
                )
            }
            (Method::GET, Some(k)) => match st.objects.get(&k) {
                Some(o) => (StatusCode::OK, o.clone()),
                None => status(404, "NotFound"),
            },
            (Method::POST, None) => {
                let name = body["metadata"]["name"].as_str().unwrap().to_string();
                let mut obj = body;
                obj["metadata"]["resourceVersion"] = json!(rv);
                st.objects
                    .insert(format!("{collection}/{name}"), obj.clone());
                (StatusCode::CREATED, obj)
            }
            (Method::PUT, Some(k)) => {
                // Replace with optimistic concurrency, as the API server does.
                let current = st
                    .objects
                    .get(&k)
                    .map(|o| o["metadata"]["resourceVersion"].clone());
                match current {
                    None => status(404, "NotFound"),
                    Some(v) if v != body["metadata"]["resourceVersion"] => status(409, "Conflict"),
                    Some(_) => {
                        let mut obj = body;
                        obj["metadata"]["resourceVersion"] = json!(rv);
                        st.objects.insert(k, obj.clone());
                        (StatusCode::OK, obj)
                    }
                }
            }
            (Method::DELETE, Some(k)) => match st.objects.remove(&k) {
                Some(o) => (StatusCode::OK, o),
                None => status(404, "NotFound"),
            },
            (Method::PATCH, Some(k)) => {
                let existing = st.objects.get(&k).cloned();
                let obj =
                    if content_type.contains("apply-patch") && sub.as_deref() == Some("status") {
                        // Apply of the status subresource: only the status is taken.
                        let Some(mut obj) = existing else {
                            return status(404, "NotFound");
                        };
                        obj["status"] = body["status"].clone();
                        obj
                    } else if content_type.contains("apply-patch") {
                        let mut obj = body;
                        let old = existing.unwrap_or(Value::Null);
                        let uid = old["metadata"]["uid"]
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("uid-{rv}"));
                        let mut generation = old["metadata"]["generation"].as_i64().unwrap_or(0);
                        if old.is_null() || old.get("spec") != obj.get("spec") {
                            generation += 1;
                        }
                        obj["metadata"]["uid"] = json!(uid);
                        obj["metadata"]["generation"] = json!(generation);
                        if let Some(s) = old.get("status") {
                            obj["status"] = s.clone();
                        }
                        obj
                    } else if content_type.contains("json-patch") {
                        let Some(mut obj) = existing else {
                            return status(404, "NotFound");
                        };
                        for op in body.as_array().unwrap() {
                            let p = op["path"].as_str().unwrap();
                            match (op["op"].as_str().unwrap(), p) {
                                ("test", _) => {}
                                ("add", "/metadata/finalizers") => {
                                    obj["metadata"]["finalizers"] = op["value"].clone()
                                }
                                ("add", "/metadata/finalizers/-") => obj["metadata"]["finalizers"]
                                    .as_array_mut()
                                    .unwrap()
                                    .push(op["value"].clone()),
                                ("remove", p) if p.starts_with("/metadata/finalizers/") => {
                                    let i: usize = p.rsplit('/').next().unwrap().parse().unwrap();
                                    obj["metadata"]["finalizers"]
                                        .as_array_mut()
                                        .unwrap()
                                        .remove(i);
                                }
                                other => panic!("unsupported json patch {other:?}"),
                            }
                        }
                        obj
                    } else {
                        // Merge patch (status, events).
                        let Some(mut obj) = existing else {
                            return status(404, "NotFound");
                        };
                        assert!(sub.is_none() || sub.as_deref() == Some("status"));
                        for (k, v) in body.as_object().unwrap() {
                            obj[k] = v.clone();
                        }
                        obj
                    };
                let mut obj = obj;
                obj["metadata"]["resourceVersion"] = json!(rv);
                st.objects.insert(k, obj.clone());
                (StatusCode::OK, obj)
            }
            (m, k) => panic!("unexpected request {m} {k:?}"),
        }
    }

    fn insert(&self, path: &str, obj: Value) {
        self.0.lock().unwrap().objects.insert(path.into(), obj);
    }
    fn get(&self, path: &str) -> Option<Value> {
        self.0.lock().unwrap().objects.get(path).cloned()
    }
    fn remove(&self, path: &str) {
        self.0.lock().unwrap().objects.remove(path);
    }
    fn update(&self, path: &str, f: impl FnOnce(&mut Value)) {
        let mut st = self.0.lock().unwrap();
        f(st.objects
            .get_mut(path)
            .unwrap_or_else(|| panic!("{path} missing")));
    }
    fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut self.0.lock().unwrap().calls)
    }

    fn plangen(&self) -> Plangen {
        serde_json::from_value(self.get(PLANGEN_PATH).expect("plangen stored")).unwrap()
    }

    fn set_spec(&self, f: impl FnOnce(&mut PlangenSpec)) {
        let mut p = self.plangen();
        f(&mut p.spec);
        let generation = p.metadata.generation.unwrap_or(1) + 1;
        self.update(PLANGEN_PATH, |o| {
            o["spec"] = serde_json::to_value(&p.spec).unwrap();
            o["metadata"]["generation"] = json!(generation);
        });
    }

    /// Pretend the workload controllers did their job: every Deployment and StatefulSet ready.
    fn make_workloads_ready(&self) {
        let mut st = self.0.lock().unwrap();
        for (k, o) in st.objects.iter_mut() {
            if k.contains("/deployments/") || k.contains("/statefulsets/") {
                let replicas = o["spec"]["replicas"].as_i64().unwrap_or(1);
                o["status"] = json!({"readyReplicas": replicas, "updatedReplicas": replicas, "replicas": replicas, "observedGeneration": o["metadata"]["generation"]});
            }
        }
    }
}

fn new_fake(spec: Value) -> FakeApi {
    let fake = FakeApi::default();
    fake.insert(
        PLANGEN_PATH,
        json!({
            "apiVersion": "plangen.io/v1alpha1", "kind": "Plangen",
            "metadata": {"name": "demo", "namespace": "default", "uid": "plangen-uid", "generation": 1, "resourceVersion": "1"},
            "spec": spec,
        }),
    );
    fake
}

async fn reconcile_once(fake: &FakeApi, ctx: &Arc<Context>) -> Result<Action> {
    reconcile(Arc::new(fake.plangen()), ctx.clone()).await
}

/// Add the finalizer (first reconcile) and apply everything (second).
async fn converge(fake: &FakeApi, ctx: &Arc<Context>) {
    reconcile_once(fake, ctx).await.unwrap();
    reconcile_once(fake, ctx).await.unwrap();
    fake.take_calls();
}

fn applies(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.is_apply())
        .map(|c| c.path.clone())
        .collect()
}

fn deletes(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.method == Method::DELETE)
        .map(|c| c.path.clone())
        .collect()
}

fn condition(
    p: &Plangen,
    type_: &str,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_).cloned())
        .unwrap_or_else(|| panic!("no {type_} condition"))
}

const DEPLOY: &str = "/apis/apps/v1/namespaces/default/deployments";
const STS: &str = "/apis/apps/v1/namespaces/default/statefulsets";
const SECRETS: &str = "/api/v1/namespaces/default/secrets";
const SERVICES: &str = "/api/v1/namespaces/default/services";
const PDBS: &str = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";

#[tokio::test]
async fn first_reconcile_adds_the_finalizer_then_applies_everything() {
    let fake = new_fake(json!({}));
    let ctx = fake.context();

    reconcile_once(&fake, &ctx).await.unwrap();
    let calls = fake.take_calls();
    assert_eq!(
        fake.plangen().metadata.finalizers,
        Some(vec![FINALIZER.to_string()])
    );
    assert!(
        applies(&calls).is_empty(),
        "nothing is applied before the finalizer is in place"
    );

    let action = reconcile_once(&fake, &ctx).await.unwrap();
    let calls = fake.take_calls();
    let applied = applies(&calls);
    assert_eq!(applied.len(), 24, "{applied:#?}");
    for c in calls.iter().filter(|c| c.is_apply()) {
        let params: Vec<&str> = c.query.split('&').filter(|s| !s.is_empty()).collect();
        assert!(
            params.contains(&"fieldManager=plangen-operator") && params.contains(&"force=true"),
            "{}",
            c.query
        );
    }
    assert!(applied.contains(&format!("{DEPLOY}/demo-gateway")));
    assert!(applied.contains(&format!("{STS}/demo-mongodb")));
    // Secrets are applied before the workloads that read them.
    let pos = |p: &str| applied.iter().position(|a| a == p).unwrap();
    assert!(pos(&format!("{SECRETS}/demo-tokens")) < pos(&format!("{DEPLOY}/demo-auth")));
    // Every child is owned by the Plangen.
    let d = fake.get(&format!("{DEPLOY}/demo-auth")).unwrap();
    assert_eq!(d["metadata"]["ownerReferences"][0]["uid"], "plangen-uid");
    assert_eq!(d["metadata"]["ownerReferences"][0]["controller"], true);
    // One Created event per object.
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.is_event() && c.method == Method::POST)
            .count(),
        24
    );

    let p = fake.plangen();
    let st = p.status.as_ref().unwrap();
    assert_eq!(st.observed_generation, Some(1));
    assert_eq!(
        st.components["gateway"],
        ComponentStatus {
            desired_replicas: 1,
            ready_replicas: 0
        }
    );
    assert_eq!(
        st.components["mongodb"],
        ComponentStatus {
            desired_replicas: 3,
            ready_replicas: 0
        }
    );
    assert_eq!(condition(&p, "Ready").status, "False");
    assert_eq!(condition(&p, "Progressing").status, "True");
    assert_eq!(condition(&p, "Degraded").status, "False");
    assert_eq!(condition(&p, "Ready").observed_generation, Some(1));
    assert_eq!(action, Action::requeue(REQUEUE_PROGRESSING));
}

#[tokio::test]
async fn steady_state_makes_no_writes_and_ready_is_reported() {
    let fake = new_fake(json!({}));
    let ctx = fake.context();
    converge(&fake, &ctx).await;

    // Still rolling out, nothing changed: no write at all (not even status or events).
    reconcile_once(&fake, &ctx).await.unwrap();
    let calls = fake.take_calls();
    assert!(
        calls.iter().all(|c| !c.is_write()),
        "{:#?}",
        calls.iter().filter(|c| c.is_write()).collect::<Vec<_>>()
    );

    // The workloads become ready: one status write, Ready=True.
    fake.make_workloads_ready();
    let before = condition(&fake.plangen(), "Ready").last_transition_time;
    let action = reconcile_once(&fake, &ctx).await.unwrap();
    let calls = fake.take_calls();
    let writes: Vec<_> = calls.iter().filter(|c| c.is_write()).collect();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(writes[0].path, format!("{PLANGEN_PATH}/status"));
    assert!(
        writes[0].content_type.contains("apply-patch"),
        "status is server-side applied"
    );
    assert!(writes[0].query.contains("fieldManager=plangen-operator"));
    let p = fake.plangen();
    assert_eq!(condition(&p, "Ready").status, "True");
    assert_eq!(condition(&p, "Ready").reason, "AllComponentsReady");
    assert_eq!(condition(&p, "Progressing").status, "False");
    assert!(condition(&p, "Ready").last_transition_time.0 >= before.0);
    assert_eq!(
        p.status.as_ref().unwrap().components["plan"].ready_replicas,
        1
    );
    assert_eq!(action, Action::requeue(REQUEUE_READY));

    // And then nothing again; the Degraded condition kept its transition time throughout.
    let degraded = condition(&p, "Degraded").last_transition_time;
    reconcile_once(&fake, &ctx).await.unwrap();
    assert!(fake.take_calls().iter().all(|c| !c.is_write()));
    assert_eq!(
        condition(&fake.plangen(), "Degraded").last_transition_time,
        degraded
    );
}

#[tokio::test]
async fn drift_is_restored_and_deleted_children_come_back() {
    let fake = new_fake(json!({}));
    let ctx = fake.context();
    converge(&fake, &ctx).await;

    fake.update(&format!("{DEPLOY}/demo-plan"), |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("evil:latest");
    });
    fake.remove(&format!("{SERVICES}/demo-auth"));
    // Fields set by others (server defaults, other managers) are not drift.
    fake.update(&format!("{DEPLOY}/demo-gateway"), |d| {
        d["spec"]["progressDeadlineSeconds"] = json!(600);
        d["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "1"});
    });
    reconcile_once(&fake, &ctx).await.unwrap();
    let calls = fake.take_calls();
    assert_eq!(
        applies(&calls),
        [
            format!("{SERVICES}/demo-auth"),
            format!("{DEPLOY}/demo-plan")
        ]
    );
    let d = fake.get(&format!("{DEPLOY}/demo-plan")).unwrap();
    assert_ne!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "evil:latest"
    );
    assert!(fake.get(&format!("{SERVICES}/demo-auth")).is_some());
}

#[tokio::test]
async fn scaling_up_adds_a_pdb_and_scaling_down_prunes_it() {
    let fake = new_fake(json!({}));
    let ctx = fake.context();
    converge(&fake, &ctx).await;

    fake.set_spec(|s| s.gateway.component.replicas = 3);
    reconcile_once(&fake, &ctx).await.unwrap();
    let calls = fake.take_calls();
    assert_eq!(
        applies(&calls),
        [
            format!("{DEPLOY}/demo-gateway"),
            format!("{PDBS}/demo-gateway")
        ]
    );
    assert_eq!(
        fake.get(&format!("{DEPLOY}/demo-gateway")).unwrap()["spec"]["replicas"],
        3
    );
    assert_eq!(
        fake.plangen().status.unwrap().components["gateway"].desired_replicas,
        3
    );

    fake.set_spec(|s| s.gateway.component.replicas = 1);
    reconcile_once(&fake, &ctx).await.unwrap();
    let calls = fake.take_calls();
    assert_eq!(applies(&calls), [format!("{DEPLOY}/demo-gateway")]);
    assert_eq!(deletes(&calls), [format!("{PDBS}/demo-gateway")]);
    assert!(fake.get(&format!("{PDBS}/demo-gateway")).is_none());
}

#[tokio::test]
async fn secrets_are_generated_once_and_preserved() {
    let fake = new_fake(json!({}));
    let ctx = fake.context();
    converge(&fake, &ctx).await;
    let tokens = fake.get(&format!("{SECRETS}/demo-tokens")).unwrap()["data"].clone();
    let pg = fake.get(&format!("{SECRETS}/demo-postgres")).unwrap()["data"].clone();
    assert_eq!(tokens.as_object().unwrap().len(), 2);

    // A change that rolls every Deployment does not touch the generated Secrets.
    fake.set_spec(|s| s.image.tag = "9.9.9".into());
    reconcile_once(&fake, &ctx).await.unwrap();
    let applied = applies(&fake.take_calls());
    assert_eq!(applied.len(), 5, "only the five Deployments: {applied:#?}");
    assert!(applied.iter().all(|p| p.starts_with(DEPLOY)));
    assert_eq!(
        fake.get(&format!("{SECRETS}/demo-tokens")).unwrap()["data"],
        tokens
    );
    assert_eq!(
        fake.get(&format!("{SECRETS}/demo-postgres")).unwrap()["data"],
        pg
    );

    // A new operator process (fresh context) reads them back instead of generating new ones.
    let ctx2 = fake.context();
    reconcile_once(&fake, &ctx2).await.unwrap();
    assert!(applies(&fake.take_calls()).is_empty());
    assert_eq!(
        fake.get(&format!("{SECRETS}/demo-tokens")).unwrap()["data"],
        tokens
    );
}

#[tokio::test]
async fn a_missing_external_secret_degrades_and_applies_nothing() {
    let fake = new_fake(json!({"postgres": {"external": {"secretName": "pg-url"}}}));
    let ctx = fake.context();
    reconcile_once(&fake, &ctx).await.unwrap();
    fake.take_calls();

    let action = reconcile_once(&fake, &ctx).await.unwrap();
    let calls = fake.take_calls();
    assert!(applies(&calls).is_empty());
    assert_eq!(action, Action::requeue(REQUEUE_MISSING_SECRET));
    let p = fake.plangen();
    let degraded = condition(&p, "Degraded");
    assert_eq!(degraded.status, "True");
    assert_eq!(degraded.reason, "ExternalSecretMissing");
    assert!(
        degraded.message.contains("Secret default/pg-url"),
        "{}",
        degraded.message
    );
    assert_eq!(condition(&p, "Ready").status, "False");
    assert!(
        calls
            .iter()
            .any(|c| c.is_event() && c.method == Method::POST)
    );

    // Once the Secret exists the platform is applied, with nothing generated for PostgreSQL.
    fake.insert(
        &format!("{SECRETS}/pg-url"),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pg-url", "namespace": "default"},
               "data": {"url": "cG9zdGdyZXM6Ly91OnBAZGI6NTQzMi9wZw=="}}),
    );
    reconcile_once(&fake, &ctx).await.unwrap();
    let applied = applies(&fake.take_calls());
    assert_eq!(
        applied.len(),
        20,
        "24 minus the PostgreSQL Secret, Service, StatefulSet, NetworkPolicy"
    );
    assert!(fake.get(&format!("{SECRETS}/demo-postgres")).is_none());
    assert!(fake.get(&format!("{STS}/demo-postgres")).is_none());
    let conn = fake.get(&format!("{SECRETS}/demo-connections")).unwrap();
    assert_eq!(
        conn["data"]["auth-database-url"],
        "cG9zdGdyZXM6Ly91OnBAZGI6NTQzMi9wZw=="
    );
    assert_eq!(condition(&fake.plangen(), "Degraded").status, "False");
}

#[tokio::test]
async fn switching_a_datastore_to_external_prunes_its_children() {
    let fake = new_fake(json!({}));
    let ctx = fake.context();
    converge(&fake, &ctx).await;
    fake.insert(
        &format!("{SECRETS}/redis-url"),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redis-url", "namespace": "default"},
               "data": {"url": "cmVkaXM6Ly86cHdAY2FjaGU6NjM4MA=="}}),
    );
    fake.set_spec(|s| {
        s.redis.managed = None;
        s.redis.external = Some(crate::crd::ExternalDatastore {
            secret_name: "redis-url".into(),
            key: "url".into(),
        });
    });
    reconcile_once(&fake, &ctx).await.unwrap();
    let calls = fake.take_calls();
    let mut deleted = deletes(&calls);
    deleted.sort();
    assert_eq!(
        deleted,
        [
            format!("{SECRETS}/demo-redis"),
            format!("{SERVICES}/demo-redis"),
            "/apis/apps/v1/namespaces/default/statefulsets/demo-redis".to_string(),
            "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/demo-redis".to_string(),
        ]
    );
    // The user's Secret is not ours and stays.
    assert!(fake.get(&format!("{SECRETS}/redis-url")).is_some());
    // The connections Secret now points at the external Redis, and every pod rolls.
    assert!(applies(&calls).contains(&format!("{SECRETS}/demo-connections")));
    assert_eq!(
        applies(&calls)
            .iter()
            .filter(|p| p.starts_with(DEPLOY))
            .count(),
        5
    );
}

#[tokio::test]
async fn objects_not_controlled_by_the_plangen_are_left_alone() {
    let fake = new_fake(json!({}));
    let ctx = fake.context();
    converge(&fake, &ctx).await;
    let foreign = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "lookalike", "namespace": "default",
                     "labels": {"app.kubernetes.io/instance": "demo", "app.kubernetes.io/managed-by": "plangen-operator"},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "other", "controller": true}]}});
    fake.insert(&format!("{SERVICES}/lookalike"), foreign);
    reconcile_once(&fake, &ctx).await.unwrap();
    assert!(deletes(&fake.take_calls()).is_empty());
    assert!(fake.get(&format!("{SERVICES}/lookalike")).is_some());
}

#[tokio::test]
async fn paused_changes_no_child_and_reports_it() {
    let fake = new_fake(json!({}));
    let ctx = fake.context();
    converge(&fake, &ctx).await;
    fake.set_spec(|s| {
        s.paused = true;
        s.gateway.component.replicas = 4;
    });
    fake.remove(&format!("{SERVICES}/demo-plan"));

    reconcile_once(&fake, &ctx).await.unwrap();
    let calls = fake.take_calls();
    assert!(applies(&calls).is_empty() && deletes(&calls).is_empty());
    assert!(fake.get(&format!("{SERVICES}/demo-plan")).is_none());
    let p = fake.plangen();
    let paused = condition(&p, "ReconciliationPaused");
    assert_eq!(
        (paused.status.as_str(), paused.reason.as_str()),
        ("True", "Paused")
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.is_event() && c.method == Method::POST)
            .count(),
        1
    );

    // Paused again: no status rewrite, no new event.
    reconcile_once(&fake, &ctx).await.unwrap();
    assert!(fake.take_calls().iter().all(|c| !c.is_write()));

    // Unpaused: the backlog is applied.
    fake.set_spec(|s| s.paused = false);
    reconcile_once(&fake, &ctx).await.unwrap();
    let applied = applies(&fake.take_calls());
    assert!(applied.contains(&format!("{SERVICES}/demo-plan")));
    assert!(applied.contains(&format!("{DEPLOY}/demo-gateway")));
    assert!(
        fake.plangen()
            .status
            .unwrap()
            .conditions
            .iter()
            .all(|c| c.type_ != "ReconciliationPaused")
    );
}

#[tokio::test]
async fn deletion_removes_the_finalizer_even_when_paused() {
    let fake = new_fake(json!({"paused": true}));
    let ctx = fake.context();
    converge(&fake, &ctx).await;
    fake.update(PLANGEN_PATH, |o| {
        o["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z")
    });
    let action = reconcile_once(&fake, &ctx).await.unwrap();
    let calls = fake.take_calls();
    assert_eq!(action, Action::await_change());
    assert_eq!(fake.plangen().metadata.finalizers, Some(vec![]));
    assert!(
        deletes(&calls).is_empty(),
        "children go through garbage collection"
    );
    assert!(calls.iter().any(|c| c.is_event()));
}

#[tokio::test]
async fn a_failed_apply_is_reported_as_degraded_and_returned() {
    let fake = new_fake(json!({}));
    let ctx = fake.context();
    reconcile_once(&fake, &ctx).await.unwrap();
    fake.0
        .lock()
        .unwrap()
        .failing
        .push(format!("{DEPLOY}/demo-auth"));
    let err = reconcile_once(&fake, &ctx).await.unwrap_err();
    assert!(err.to_string().contains("finalizer"), "{err}");
    let p = fake.plangen();
    let degraded = condition(&p, "Degraded");
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "ApplyFailed")
    );
    // The error policy backs off exponentially and counts the failure.
    let a1 = error_policy(Arc::new(p.clone()), &err, ctx.clone());
    let a2 = error_policy(Arc::new(p), &err, ctx.clone());
    assert_eq!(
        (a1, a2),
        (Action::requeue(backoff(1)), Action::requeue(backoff(2)))
    );
    assert!(
        ctx.metrics
            .encode()
            .contains("reconciliation_errors_total{error=\"finalizer\"} 2")
    );

    // Once the API recovers, the failure clears.
    fake.0.lock().unwrap().failing.clear();
    reconcile_once(&fake, &ctx).await.unwrap();
    assert_eq!(condition(&fake.plangen(), "Degraded").status, "False");
}

#[test]
fn backoff_doubles_and_caps() {
    assert_eq!(backoff(1), Duration::from_secs(5));
    assert_eq!(backoff(2), Duration::from_secs(10));
    assert_eq!(backoff(4), Duration::from_secs(40));
    assert_eq!(backoff(30), Duration::from_secs(300));
}

#[test]
fn subset_ignores_extra_live_fields_but_not_changed_ones() {
    let desired = json!({"spec": {"replicas": 2, "ports": [{"port": 80}]}});
    assert!(is_subset(
        &desired,
        &json!({"spec": {"replicas": 2, "paused": false, "ports": [{"port": 80, "protocol": "TCP"}]}})
    ));
    assert!(!is_subset(
        &desired,
        &json!({"spec": {"replicas": 3, "ports": [{"port": 80}]}})
    ));
    assert!(!is_subset(
        &desired,
        &json!({"spec": {"replicas": 2, "ports": []}})
    ));
    assert!(!is_subset(&desired, &json!({})));
    // Zero values the API server omits are not drift.
    let zeros =
        json!({"spec": {"publishNotReadyAddresses": false, "replicas": 0, "env": [], "x": ""}});
    assert!(is_subset(&zeros, &json!({"spec": {}})));
    assert!(!is_subset(
        &json!({"spec": {"publishNotReadyAddresses": true}}),
        &json!({"spec": {}})
    ));
}

#[tokio::test]
async fn disabling_a_component_prunes_it_and_drops_it_from_status() {
    let fake = new_fake(json!({"gateway": {"ingress": {"host": "plan.example.com"}}}));
    let ctx = fake.context();
    converge(&fake, &ctx).await;
    let st = fake.plangen().status.unwrap();
    assert!(st.components.contains_key("frontend"));
    assert_eq!(st.url.as_deref(), Some("http://plan.example.com"));

    fake.set_spec(|s| {
        s.frontend.enabled = false;
        s.gateway.ingress = None;
    });
    reconcile_once(&fake, &ctx).await.unwrap();
    let mut deleted = deletes(&fake.take_calls());
    deleted.sort();
    assert_eq!(
        deleted,
        [
            format!("{SERVICES}/demo-frontend"),
            format!("{DEPLOY}/demo-frontend"),
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses/demo".to_string(),
        ]
    );
    let st = fake.plangen().status.unwrap();
    assert!(
        !st.components.contains_key("frontend"),
        "{:?}",
        st.components
    );
    assert_eq!(st.url, None);
    assert_eq!(st.observed_generation, Some(2));
}

/// Two electors against one API server: only one holds the Lease at a time.
#[tokio::test]
async fn leader_election_admits_one_holder_and_takes_over_an_expired_lease() {
    use crate::leader::Elector;
    use k8s_openapi::jiff::Timestamp;
    let fake = FakeApi::default();
    let ttl = Duration::from_secs(15);
    let a = Elector::new(fake.client(), "ops", "leader", "a", ttl);
    let b = Elector::new(fake.client(), "ops", "leader", "b", ttl);
    let path = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/leader";

    assert!(a.step().await.unwrap(), "a creates the Lease");
    assert!(!b.step().await.unwrap(), "b waits while a's Lease is live");
    assert!(a.step().await.unwrap(), "a renews");
    assert_eq!(fake.get(path).unwrap()["spec"]["holderIdentity"], "a");

    // a stops renewing: once the Lease expires b takes it and a has lost it.
    let old = Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(60);
    fake.update(path, |l| l["spec"]["renewTime"] = json!(old.to_string()));
    assert!(b.step().await.unwrap());
    assert!(!a.step().await.unwrap());
    let lease = fake.get(path).unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "b");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
}

#[tokio::test]
async fn a_rollout_in_progress_is_not_ready() {
    let fake = new_fake(json!({}));
    let ctx = fake.context();
    converge(&fake, &ctx).await;
    fake.make_workloads_ready();
    reconcile_once(&fake, &ctx).await.unwrap();
    assert_eq!(condition(&fake.plangen(), "Ready").status, "True");

    // The old pod is still ready, the new one is not yet: not Ready, still Progressing.
    fake.set_spec(|s| s.image.tag = "2.0.0".into());
    reconcile_once(&fake, &ctx).await.unwrap();
    fake.update(&format!("{DEPLOY}/demo-gateway"), |d| {
        d["status"] = json!({"readyReplicas": 1, "updatedReplicas": 0, "replicas": 2,
                             "observedGeneration": d["metadata"]["generation"]});
    });
    reconcile_once(&fake, &ctx).await.unwrap();
    let p = fake.plangen();
    assert_eq!(condition(&p, "Ready").status, "False");
    assert!(
        condition(&p, "Ready").message.contains("gateway 0/1"),
        "{}",
        condition(&p, "Ready").message
    );
    assert_eq!(condition(&p, "Progressing").reason, "RollingOut");
}

#[test]
fn a_secret_triggers_only_the_plangens_in_its_namespace_that_name_it() {
    let plangen = |ns: &str, name: &str, spec: Value| -> Arc<Plangen> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "plangen.io/v1alpha1", "kind": "Plangen",
                "metadata": {"name": name, "namespace": ns},
                "spec": spec,
            }))
            .unwrap(),
        )
    };
    let all = vec![
        plangen(
            "team-a",
            "pg-ext",
            json!({"postgres": {"external": {"secretName": "db-url"}}}),
        ),
        plangen(
            "team-a",
            "mongo-ext",
            json!({"mongodb": {"external": {"secretName": "db-url", "key": "uri"}}}),
        ),
        plangen("team-a", "managed", json!({})),
        plangen(
            "team-b",
            "pg-ext",
            json!({"postgres": {"external": {"secretName": "db-url"}}}),
        ),
    ];
    let names = |refs: Vec<ObjectRef<Plangen>>| {
        let mut v: Vec<String> = refs
            .iter()
            .map(|r| format!("{}/{}", r.namespace.clone().unwrap_or_default(), r.name))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(referencing_plangens(&all, Some("team-a"), "db-url")),
        ["team-a/mongo-ext", "team-a/pg-ext"]
    );
    assert_eq!(
        names(referencing_plangens(&all, Some("team-b"), "db-url")),
        ["team-b/pg-ext"]
    );
    assert!(referencing_plangens(&all, Some("team-a"), "other").is_empty());
    // The operator's own generated Secrets are named after the Plangen, not referenced here.
    assert!(referencing_plangens(&all, Some("team-a"), "managed-jwt").is_empty());
}
