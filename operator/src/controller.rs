//! The reconciler: observe the children, apply what drifted with server-side apply, prune what is
//! no longer wanted, and report honest status.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ObjectReference, Secret, Service as KubeService};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Value, json};
use tracing::{Instrument, field, info, instrument, warn};

use crate::constants::{Datastore, FINALIZER, MANAGER, Service};
use crate::crd::{ComponentStatus, ExternalDatastore, Plangen, PlangenStatus};
use crate::metrics::Metrics;
use crate::render::{self, Child, Inputs, Kind};
use crate::secrets::{self, ExternalValues, SecretData};
use crate::status::{self, Desired};
use crate::{Error, Result};

/// Requeue while something is still rolling out.
const REQUEUE_PROGRESSING: Duration = Duration::from_secs(15);
/// Periodic resync once everything is ready (watches catch most changes earlier).
const REQUEUE_READY: Duration = Duration::from_secs(300);
/// Retry when a referenced external Secret is missing.
const REQUEUE_MISSING_SECRET: Duration = Duration::from_secs(30);

/// Shared by every reconcile.
#[derive(Clone)]
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: Metrics,
    /// Consecutive failures per object, for the error policy's exponential backoff.
    failures: Arc<Mutex<HashMap<ObjectRef<Plangen>, u32>>>,
}

impl Context {
    pub fn new(client: Client, metrics: Metrics, instance: Option<String>) -> Self {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance,
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            failures: Arc::default(),
        }
    }

    fn reset_failures(&self, p: &Plangen) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(&ObjectRef::from_obj(p));
        }
    }

    async fn event(&self, p: &Plangen, type_: EventType, reason: &str, note: String) {
        self.event_about(p, type_, reason, note, None).await;
    }

    /// An event on the Plangen; `related` names the child it concerns, which also keeps the
    /// recorder from folding events about different children into one series.
    async fn event_about(
        &self,
        p: &Plangen,
        type_: EventType,
        reason: &str,
        note: String,
        related: Option<ObjectReference>,
    ) {
        let ev = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: reason.into(),
            secondary: related,
        };
        let reference: ObjectReference = p.object_ref(&());
        if let Err(e) = self.recorder.publish(&ev, &reference).await {
            warn!(error = %e, reason, "publishing an event failed");
        }
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

/// Entry point of one reconcile: the finalizer splits it into apply and cleanup.
#[instrument(skip(ctx, p), fields(name = %p.name_any(), namespace = field::Empty, generation = p.metadata.generation))]
pub async fn reconcile(p: Arc<Plangen>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile_started();
    let ns = p
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    tracing::Span::current().record("namespace", field::display(&ns));
    let api: Api<Plangen> = Api::namespaced(ctx.client.clone(), &ns);
    let action = finalizer(&api, FINALIZER, p, |event| async {
        match event {
            Finalizer::Apply(p) => apply(&p, &ctx).await,
            Finalizer::Cleanup(p) => cleanup(&p, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))?;
    Ok(action)
}

/// Requeue failed objects with exponential backoff (5 s doubling up to 5 min).
pub fn error_policy(p: Arc<Plangen>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(name = %p.name_any(), error = %error, "reconcile failed");
    ctx.metrics.reconcile_failed(error);
    let n = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(ObjectRef::from_obj(&*p)).or_insert(0);
            *n = n.saturating_add(1);
            *n
        })
        .unwrap_or(1);
    Action::requeue(backoff(n))
}

/// 5 s · 2^(n-1), capped at 5 minutes.
pub fn backoff(failures: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << failures.saturating_sub(1).min(6));
    Duration::from_secs(secs.min(300))
}

/// Children of one Plangen as observed, per kind (only those it controls).
type Live = BTreeMap<Kind, Vec<DynamicObject>>;

fn is_controlled_by(o: &DynamicObject, uid: &str) -> bool {
    o.owner_references()
        .iter()
        .any(|r| r.controller == Some(true) && r.uid == uid)
}

async fn observe(ctx: &Context, ns: &str, name: &str, uid: &str) -> Result<Live> {
    let lp = ListParams::default().labels(&render::children_selector(name));
    let mut live = Live::new();
    for kind in Kind::ALL {
        let api: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), ns, &kind.api_resource());
        let items = api.list(&lp).await?.items;
        live.insert(
            kind,
            items
                .into_iter()
                .filter(|o| is_controlled_by(o, uid))
                .collect(),
        );
    }
    Ok(live)
}

/// Values of the generated Secrets that exist already (so they are never regenerated).
fn existing_secrets(live: &Live) -> SecretData {
    live.get(&Kind::Secret)
        .into_iter()
        .flatten()
        .filter_map(|o| {
            let data = o.data.get("data")?.as_object()?;
            let decoded = data
                .iter()
                .filter_map(|(k, v)| {
                    let b: k8s_openapi::ByteString = serde_json::from_value(v.clone()).ok()?;
                    Some((k.clone(), String::from_utf8(b.0).ok()?))
                })
                .collect();
            Some((o.name_any(), decoded))
        })
        .collect()
}

/// Read the connection URLs of external datastores; the error lists every missing one.
async fn read_external(
    p: &Plangen,
    ctx: &Context,
    ns: &str,
) -> Result<Result<ExternalValues, Vec<String>>> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let mut values = ExternalValues::default();
    let mut missing = Vec::new();
    let wanted: [(&str, Option<&ExternalDatastore>); 3] = [
        ("postgres", p.spec.postgres.external.as_ref()),
        ("mongodb", p.spec.mongodb.external.as_ref()),
        ("redis", p.spec.redis.external.as_ref()),
    ];
    for (ds, ext) in wanted {
        let Some(ext) = ext else { continue };
        let value = match api.get_opt(&ext.secret_name).await? {
            None => {
                missing.push(format!(
                    "Secret {ns}/{} (external {ds}) not found",
                    ext.secret_name
                ));
                continue;
            }
            Some(s) => s
                .data
                .unwrap_or_default()
                .remove(&ext.key)
                .and_then(|b| String::from_utf8(b.0).ok()),
        };
        match value.filter(|v| !v.is_empty()) {
            None => missing.push(format!(
                "Secret {ns}/{} (external {ds}) has no non-empty key {:?}",
                ext.secret_name, ext.key
            )),
            Some(v) => match ds {
                "postgres" => values.postgres_url = Some(v),
                "mongodb" => values.mongodb_url = Some(v),
                _ => values.redis_url = Some(v),
            },
        }
    }
    Ok(if missing.is_empty() {
        Ok(values)
    } else {
        Err(missing)
    })
}

/// Whether every field of `desired` is present with the same value in `live` (server defaults
/// and other managers' fields are ignored). A hand-edit of a field we own shows up here.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => is_subset(dv, lv),
            // The API server omits zero values (Go `omitempty`): absent equals empty.
            None => is_zero(dv),
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(a, b)| is_subset(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

#[instrument(skip(p, ctx), fields(name = %p.name_any()))]
async fn apply(p: &Plangen, ctx: &Context) -> Result<Action> {
    let name = p
        .metadata
        .name
        .clone()
        .ok_or(Error::MissingField("metadata.name"))?;
    let ns = p
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let uid = p
        .metadata
        .uid
        .clone()
        .ok_or(Error::MissingField("metadata.uid"))?;
    let live = observe(ctx, &ns, &name, &uid).await?;

    if p.spec.paused {
        let conditions = vec![Desired::new(
            status::PAUSED,
            true,
            "Paused",
            "spec.paused is true: no child is changed",
        )];
        let was_paused = p
            .status
            .as_ref()
            .is_some_and(|s| status::is_true(&s.conditions, status::PAUSED));
        let mut desired_status = observed_status(p, &live, None);
        desired_status.conditions = conditions_for(p, conditions);
        patch_status(p, ctx, &ns, desired_status).await?;
        if !was_paused {
            ctx.event(
                p,
                EventType::Normal,
                "ReconciliationPaused",
                "spec.paused is true".into(),
            )
            .await;
        }
        ctx.reset_failures(p);
        return Ok(Action::requeue(REQUEUE_READY));
    }

    let generated = secrets::ensure(p, &name, &existing_secrets(&live));
    let external = match read_external(p, ctx, &ns).await? {
        Ok(v) => v,
        Err(missing) => {
            let message = missing.join("; ");
            let mut st = observed_status(p, &live, None);
            st.conditions = conditions_for(
                p,
                vec![
                    Desired::new(status::READY, false, "ExternalSecretMissing", &message),
                    Desired::new(
                        status::PROGRESSING,
                        false,
                        "ExternalSecretMissing",
                        &message,
                    ),
                    Desired::new(status::DEGRADED, true, "ExternalSecretMissing", &message),
                ],
            );
            let changed = patch_status(p, ctx, &ns, st).await?;
            if changed {
                ctx.event(p, EventType::Warning, "ExternalSecretMissing", message)
                    .await;
            }
            ctx.reset_failures(p);
            return Ok(Action::requeue(REQUEUE_MISSING_SECRET));
        }
    };
    let desired = render::render(
        p,
        &Inputs {
            secrets: generated,
            external,
        },
    )
    .map_err(|e| Error::Invalid(name.clone(), e.to_string()))?;

    match sync_children(p, ctx, &ns, &desired, &live).await {
        Ok((applied, now_live)) => {
            let st = observed_status(p, &now_live, Some(&desired));
            let conds = readiness_conditions(&st, applied);
            let ready = conds.iter().any(|c| c.type_ == status::READY && c.status);
            let mut st = st;
            st.conditions = conditions_for(p, conds);
            patch_status(p, ctx, &ns, st).await?;
            ctx.reset_failures(p);
            Ok(Action::requeue(if ready {
                REQUEUE_READY
            } else {
                REQUEUE_PROGRESSING
            }))
        }
        Err(e) => {
            let message = e.to_string();
            let mut st = observed_status(p, &live, Some(&desired));
            st.conditions = conditions_for(
                p,
                vec![
                    Desired::new(status::READY, false, "ApplyFailed", &message),
                    Desired::new(status::PROGRESSING, false, "ApplyFailed", &message),
                    Desired::new(status::DEGRADED, true, "ApplyFailed", &message),
                ],
            );
            // The apply error is what matters; a failing status write must not hide it.
            if let Err(se) = patch_status(p, ctx, &ns, st).await {
                warn!(error = %se, "writing the Degraded status failed");
            }
            ctx.event(p, EventType::Warning, "ApplyFailed", message)
                .await;
            Err(e)
        }
    }
}

/// Apply missing or drifted children, delete unwanted ones. Returns how many objects were
/// written and the children as they are now.
async fn sync_children(
    p: &Plangen,
    ctx: &Context,
    ns: &str,
    desired: &[Child],
    live: &Live,
) -> Result<(usize, Live)> {
    let pp = PatchParams::apply(MANAGER).force();
    let mut now_live = live.clone();
    let mut writes = 0;
    for child in desired {
        let api: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), ns, &child.kind.api_resource());
        let current = live
            .get(&child.kind)
            .and_then(|objs| objs.iter().find(|o| o.name_any() == child.name));
        let current_json = current.map(|c| serde_json::to_value(c).unwrap_or(Value::Null));
        if current_json
            .as_ref()
            .is_some_and(|c| is_subset(&child.object, c))
        {
            continue;
        }
        let span = tracing::info_span!("apply", kind = child.kind.as_str(), child = %child.name);
        let applied = api
            .patch(&child.name, &pp, &Patch::Apply(&child.object))
            .instrument(span)
            .await?;
        writes += 1;
        let (reason, verb) = if current.is_some() {
            ("Updated", "updated")
        } else {
            ("Created", "created")
        };
        info!(kind = child.kind.as_str(), child = %child.name, "{verb}");
        let related = child_ref(child.kind, &applied);
        ctx.event_about(
            p,
            EventType::Normal,
            reason,
            format!("{} {} {verb}", child.kind.as_str(), child.name),
            Some(related),
        )
        .await;
        let list = now_live.entry(child.kind).or_default();
        list.retain(|o| o.name_any() != child.name);
        list.push(applied);
    }
    for kind in Kind::ALL {
        let api: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), ns, &kind.api_resource());
        for o in live.get(&kind).into_iter().flatten() {
            let n = o.name_any();
            if desired.iter().any(|c| c.kind == kind && c.name == n) {
                continue;
            }
            match api.delete(&n, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
            writes += 1;
            info!(kind = kind.as_str(), child = %n, "pruned");
            ctx.event_about(
                p,
                EventType::Normal,
                "Pruned",
                format!("{} {n} deleted: no longer wanted", kind.as_str()),
                Some(child_ref(kind, o)),
            )
            .await;
            if let Some(list) = now_live.get_mut(&kind) {
                list.retain(|o| o.name_any() != n);
            }
        }
    }
    Ok((writes, now_live))
}

fn child_ref(kind: Kind, o: &DynamicObject) -> ObjectReference {
    let ar = kind.api_resource();
    ObjectReference {
        api_version: Some(ar.api_version),
        kind: Some(ar.kind),
        name: o.metadata.name.clone(),
        namespace: o.metadata.namespace.clone(),
        uid: o.metadata.uid.clone(),
        ..Default::default()
    }
}

/// Replica counts per component from the observed Deployments and StatefulSets.
fn observed_status(p: &Plangen, live: &Live, desired: Option<&[Child]>) -> PlangenStatus {
    let mut components = BTreeMap::new();
    let name = p.name_any();
    let find = |kind: Kind, n: &str| {
        live.get(&kind)
            .and_then(|l| l.iter().find(|o| o.name_any() == n))
            .and_then(|o| serde_json::to_value(o).ok())
    };
    for svc in Service::ALL {
        let n = format!("{name}-{}", svc.name());
        let wanted =
            desired.is_none_or(|d| d.iter().any(|c| c.kind == Kind::Deployment && c.name == n));
        if !wanted {
            continue;
        }
        if let Some(d) =
            find(Kind::Deployment, &n).and_then(|v| serde_json::from_value::<Deployment>(v).ok())
        {
            let spec_replicas = d.spec.replicas.unwrap_or(1);
            // Ready pods of the current template only: during a rollout the old pods are
            // ready but not what the spec asks for.
            let ready = d
                .status
                .as_ref()
                .map(|s| {
                    s.ready_replicas
                        .unwrap_or(0)
                        .min(s.updated_replicas.unwrap_or(0))
                })
                .unwrap_or(0);
            let current = d
                .status
                .as_ref()
                .is_some_and(|s| s.observed_generation >= d.metadata.generation);
            components.insert(
                svc.name().to_string(),
                ComponentStatus {
                    desired_replicas: spec_replicas,
                    ready_replicas: if current { ready } else { 0 },
                },
            );
        } else if let Some(d) = desired {
            // Not created yet (e.g. the apply failed): report what is wanted.
            let wanted = d
                .iter()
                .find(|c| c.kind == Kind::Deployment && c.name == n)
                .and_then(|c| c.object["spec"]["replicas"].as_i64())
                .and_then(|r| i32::try_from(r).ok())
                .unwrap_or(1);
            components.insert(
                svc.name().to_string(),
                ComponentStatus {
                    desired_replicas: wanted,
                    ready_replicas: 0,
                },
            );
        }
    }
    for ds in Datastore::ALL {
        let n = format!("{name}-{}", ds.name());
        if let Some(s) =
            find(Kind::StatefulSet, &n).and_then(|v| serde_json::from_value::<StatefulSet>(v).ok())
        {
            components.insert(
                ds.name().to_string(),
                ComponentStatus {
                    desired_replicas: s.spec.replicas.unwrap_or(1),
                    ready_replicas: s
                        .status
                        .as_ref()
                        .map(|s| {
                            s.ready_replicas
                                .unwrap_or(0)
                                .min(s.updated_replicas.unwrap_or(0))
                        })
                        .unwrap_or(0),
                },
            );
        }
    }
    PlangenStatus {
        observed_generation: p.metadata.generation,
        conditions: Vec::new(),
        components,
        url: render::public_url(p),
    }
}

/// Ready / Progressing / Degraded from the component counts.
fn readiness_conditions(st: &PlangenStatus, writes: usize) -> Vec<Desired> {
    let waiting: Vec<String> = st
        .components
        .iter()
        .filter(|(_, c)| c.ready_replicas < c.desired_replicas)
        .map(|(n, c)| format!("{n} {}/{}", c.ready_replicas, c.desired_replicas))
        .collect();
    let ready = waiting.is_empty();
    let progressing = !ready || writes > 0;
    let (p_reason, p_msg) = if !ready {
        ("RollingOut", format!("waiting for: {}", waiting.join(", ")))
    } else if writes > 0 {
        ("Applied", format!("{writes} object(s) written"))
    } else {
        ("UpToDate", "all children match the spec".to_string())
    };
    vec![
        if ready {
            Desired::new(
                status::READY,
                true,
                "AllComponentsReady",
                "every component is ready",
            )
        } else {
            Desired::new(
                status::READY,
                false,
                "ComponentsNotReady",
                format!("waiting for: {}", waiting.join(", ")),
            )
        },
        Desired::new(status::PROGRESSING, progressing, p_reason, p_msg),
        Desired::new(status::DEGRADED, false, "AsExpected", "no failure"),
    ]
}

fn conditions_for(
    p: &Plangen,
    desired: Vec<Desired>,
) -> Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    let current = p
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    status::merge(current, &desired, p.metadata.generation, Timestamp::now())
}

/// Write the status only when it changed (steady state makes no writes). Returns whether it did.
async fn patch_status(p: &Plangen, ctx: &Context, ns: &str, st: PlangenStatus) -> Result<bool> {
    if p.status.as_ref() == Some(&st) {
        return Ok(false);
    }
    let api: Api<Plangen> = Api::namespaced(ctx.client.clone(), ns);
    // Server-side apply under the same field manager as the children: fields of the status that
    // are no longer sent (a disabled component, a removed URL) are removed, unlike a merge patch.
    let patch = json!({
        "apiVersion": Plangen::api_version(&()),
        "kind": Plangen::kind(&()),
        "status": st,
    });
    api.patch_status(
        &p.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(true)
}

/// Deletion: children go with the Plangen through their owner references (and the datastores'
/// volume claims through their retention policy); this only reports it.
async fn cleanup(p: &Plangen, ctx: &Context) -> Result<Action> {
    ctx.event(
        p,
        EventType::Normal,
        "Deleting",
        "children are garbage-collected with the Plangen".into(),
    )
    .await;
    ctx.reset_failures(p);
    Ok(Action::await_change())
}

/// The Plangens (among `plangens`) whose external datastores read the Secret `ns`/`name`.
pub fn referencing_plangens(
    plangens: &[Arc<Plangen>],
    ns: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<Plangen>> {
    plangens
        .iter()
        .filter(|p| p.namespace().as_deref() == ns)
        .filter(|p| {
            [
                p.spec.postgres.external.as_ref(),
                p.spec.mongodb.external.as_ref(),
                p.spec.redis.external.as_ref(),
            ]
            .into_iter()
            .flatten()
            .any(|ext| ext.secret_name == name)
        })
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// Run the controller until `shutdown` resolves. `namespace: None` watches every namespace.
pub async fn run(
    client: Client,
    namespace: Option<String>,
    metrics: Metrics,
    instance: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> anyhow::Result<()> {
    let plangens: Api<Plangen> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    plangens
        .list(&ListParams::default().limit(1))
        .await
        .map_err(|e| anyhow::anyhow!("the Plangen CRD is not installed or not readable ({e}); install it with `plangen-operator crd | kubectl apply -f -`"))?;
    let ctx = Arc::new(Context::new(client.clone(), metrics, instance));
    let children = watcher::Config::default()
        .labels(&format!("{}={MANAGER}", crate::constants::LABEL_MANAGED_BY));
    macro_rules! api {
        ($t:ty) => {
            match &namespace {
                Some(ns) => Api::<$t>::namespaced(client.clone(), ns),
                None => Api::<$t>::all(client.clone()),
            }
        };
    }
    let controller = Controller::new(plangens, watcher::Config::default().any_semantic());
    let known = controller.store();
    controller
        .owns(api!(Secret), children.clone())
        // External datastores' Secrets are not ours (no owner reference, no label): a Secret
        // that appears, changes or goes away triggers the Plangens that name it, so a missing
        // Secret is picked up at once and a changed URL rolls the pods that use it.
        .watches(
            api!(Secret),
            watcher::Config::default(),
            move |secret: Secret| {
                referencing_plangens(
                    &known.state(),
                    secret.namespace().as_deref(),
                    &secret.name_any(),
                )
            },
        )
        .owns(api!(KubeService), children.clone())
        .owns(api!(StatefulSet), children.clone())
        .owns(api!(Deployment), children.clone())
        .owns(api!(PodDisruptionBudget), children.clone())
        .owns(api!(HorizontalPodAutoscaler), children.clone())
        .owns(api!(Ingress), children.clone())
        .owns(api!(NetworkPolicy), children)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => tracing::debug!(object = %obj, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile error"),
            }
        })
        .await;
    info!("controller stopped");
    Ok(())
}

#[cfg(test)]
mod tests;
