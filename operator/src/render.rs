//! `render`: a pure function from a `Plangen` (plus its secret material) to every object the
//! operator applies. The controller and `plangen-operator render` share it, so what is reviewed
//! is what is applied.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{EnvVar, Secret, Service as KubeService};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Resource;
use kube::core::ApiResource;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::constants::*;
use crate::crd::{ComponentSpec, Plangen};
use crate::secrets::{self, ExternalValues, SecretData};

/// The kinds of children, in the order they are applied (dependencies first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Secret,
    Service,
    StatefulSet,
    Deployment,
    PodDisruptionBudget,
    HorizontalPodAutoscaler,
    Ingress,
    NetworkPolicy,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Secret,
        Kind::Service,
        Kind::StatefulSet,
        Kind::Deployment,
        Kind::PodDisruptionBudget,
        Kind::HorizontalPodAutoscaler,
        Kind::Ingress,
        Kind::NetworkPolicy,
    ];

    pub fn api_resource(self) -> ApiResource {
        match self {
            Kind::Secret => ApiResource::erase::<Secret>(&()),
            Kind::Service => ApiResource::erase::<KubeService>(&()),
            Kind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
            Kind::Deployment => ApiResource::erase::<Deployment>(&()),
            Kind::PodDisruptionBudget => ApiResource::erase::<PodDisruptionBudget>(&()),
            Kind::HorizontalPodAutoscaler => ApiResource::erase::<HorizontalPodAutoscaler>(&()),
            Kind::Ingress => ApiResource::erase::<Ingress>(&()),
            Kind::NetworkPolicy => ApiResource::erase::<NetworkPolicy>(&()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Secret => "Secret",
            Kind::Service => "Service",
            Kind::StatefulSet => "StatefulSet",
            Kind::Deployment => "Deployment",
            Kind::PodDisruptionBudget => "PodDisruptionBudget",
            Kind::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            Kind::Ingress => "Ingress",
            Kind::NetworkPolicy => "NetworkPolicy",
        }
    }
}

/// One object to apply.
#[derive(Clone, Debug, PartialEq)]
pub struct Child {
    pub kind: Kind,
    pub name: String,
    /// The full manifest, with `apiVersion` and `kind`.
    pub object: Value,
}

impl Child {
    /// The manifest as its typed k8s-openapi struct (used by tests and status code).
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.object.clone())
    }
}

/// What `render` needs besides the spec: secret material the reconciler read or generated.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// Generated Secrets (see [`secrets::ensure`]).
    pub secrets: SecretData,
    /// Connection URLs of external datastores.
    pub external: ExternalValues,
}

/// Labels every child carries; the `instance` + `managed-by` pair is how children are found.
pub fn common_labels(name: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_string(), APP_NAME.to_string()),
        (LABEL_INSTANCE.to_string(), name.to_string()),
        (LABEL_COMPONENT.to_string(), component.to_string()),
        (LABEL_MANAGED_BY.to_string(), MANAGER.to_string()),
        (LABEL_PART_OF.to_string(), APP_NAME.to_string()),
    ])
}

/// The label selector for every child of one Plangen.
pub fn children_selector(name: &str) -> String {
    format!("{LABEL_INSTANCE}={name},{LABEL_MANAGED_BY}={MANAGER}")
}

fn selector_labels(name: &str, component: &str) -> Value {
    json!({ LABEL_NAME: APP_NAME, LABEL_INSTANCE: name, LABEL_COMPONENT: component })
}

/// Why a Plangen cannot be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("metadata.name is missing")]
    NoName,
    #[error("{0}")]
    Spec(String),
    #[error("the Secret holding the {0} connection URL has not been read")]
    MissingExternal(&'static str),
}

/// A view of the component spec that every service shares.
fn component(p: &Plangen, svc: Service) -> &ComponentSpec {
    match svc {
        Service::Gateway => &p.spec.gateway.component,
        Service::Auth => &p.spec.auth.component,
        Service::Template => &p.spec.template,
        Service::Plan => &p.spec.plan,
        Service::Frontend => &p.spec.frontend,
    }
}

/// The public URL (from the Ingress), if the platform is exposed.
pub fn public_url(p: &Plangen) -> Option<String> {
    p.spec.gateway.ingress.as_ref().map(|i| {
        let scheme = if i.tls_secret_name.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", i.host)
    })
}

/// Render every child of `p`. Pure: same input, same output.
pub fn render(p: &Plangen, inputs: &Inputs) -> Result<Vec<Child>, RenderError> {
    let name = p.metadata.name.clone().ok_or(RenderError::NoName)?;
    let ns = p
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let r = Renderer {
        p,
        name: &name,
        ns: &ns,
        owner: owner_reference(p),
        inputs,
    };
    let conn = r.connections()?;
    let mut out = Vec::new();

    // Secrets: generated ones, then the ready-made connection values.
    for (secret, data) in &inputs.secrets {
        let component = secret.strip_prefix(&format!("{name}-")).unwrap_or("tokens");
        out.push(r.secret(secret, component, data));
    }
    out.push(r.secret(
        &secrets::connections_secret_name(&name),
        "connections",
        &conn,
    ));

    for ds in Datastore::ALL {
        if r.managed(ds) {
            out.extend(r.datastore(ds)?);
        }
    }
    for svc in Service::ALL {
        let c = component(p, svc);
        if !c.enabled {
            continue;
        }
        out.push(r.service(svc));
        out.push(r.deployment(svc, c, &conn));
        if max_replicas(c) > 1 && min_replicas(c) > 1 {
            out.push(r.pdb(svc));
        }
        if let Some(a) = &c.autoscaling {
            out.push(r.hpa(svc, a));
        }
    }
    if let Some(ing) = r.ingress() {
        out.push(ing);
    }
    out.sort_by_key(|c| c.kind);
    Ok(out)
}

/// The controller owner reference; absent when rendering an object that was never stored.
pub fn owner_reference(p: &Plangen) -> Option<Value> {
    let uid = p.metadata.uid.clone()?;
    Some(json!({
        "apiVersion": Plangen::api_version(&()),
        "kind": Plangen::kind(&()),
        "name": p.metadata.name,
        "uid": uid,
        "controller": true,
        "blockOwnerDeletion": true,
    }))
}

fn min_replicas(c: &ComponentSpec) -> i32 {
    c.autoscaling
        .as_ref()
        .map_or(c.replicas, |a| a.min_replicas)
}
fn max_replicas(c: &ComponentSpec) -> i32 {
    c.autoscaling
        .as_ref()
        .map_or(c.replicas, |a| a.max_replicas)
}

struct Renderer<'a> {
    p: &'a Plangen,
    name: &'a str,
    ns: &'a str,
    owner: Option<Value>,
    inputs: &'a Inputs,
}

impl Renderer<'_> {
    fn managed(&self, ds: Datastore) -> bool {
        match ds {
            Datastore::Postgres => self.p.spec.postgres.managed.is_some(),
            Datastore::Mongodb => self.p.spec.mongodb.managed.is_some(),
            Datastore::Redis => self.p.spec.redis.managed.is_some(),
        }
    }

    fn metadata(&self, name: &str, component: &str) -> Value {
        let mut m = json!({
            "name": name,
            "namespace": self.ns,
            "labels": common_labels(self.name, component),
        });
        if let Some(o) = &self.owner {
            m["ownerReferences"] = json!([o]);
        }
        m
    }

    fn child(&self, kind: Kind, name: String, mut object: Value) -> Child {
        let ar = kind.api_resource();
        object["apiVersion"] = json!(ar.api_version);
        object["kind"] = json!(ar.kind);
        Child { kind, name, object }
    }

    fn secret_value(&self, secret: &str, key: &str) -> Result<String, RenderError> {
        self.inputs
            .secrets
            .get(secret)
            .and_then(|d| d.get(key))
            .cloned()
            .ok_or_else(|| RenderError::Spec(format!("secret material {secret}/{key} is missing")))
    }

    fn host(&self, svc: &str) -> String {
        format!("{}-{svc}.{}.svc.cluster.local", self.name, self.ns)
    }

    /// The ready-made connection values every service reads from one Secret.
    fn connections(&self) -> Result<BTreeMap<String, String>, RenderError> {
        let mut c = BTreeMap::new();
        let ext = &self.inputs.external;
        let pg = if self.managed(Datastore::Postgres) {
            let pw = self.secret_value(
                &secrets::datastore_secret_name(self.name, Datastore::Postgres),
                secrets::KEY_PASSWORD,
            )?;
            format!(
                "postgres://{DB_USER}:{pw}@{}:{}/{DB_NAME}",
                self.host("postgres"),
                Datastore::Postgres.port()
            )
        } else {
            ext.postgres_url
                .clone()
                .ok_or(RenderError::MissingExternal("postgres"))?
        };
        c.insert(secrets::CONN_AUTH_DATABASE_URL.into(), pg);

        let mongo = if let Some(m) = &self.p.spec.mongodb.managed {
            let pw = self.secret_value(
                &secrets::datastore_secret_name(self.name, Datastore::Mongodb),
                secrets::KEY_PASSWORD,
            )?;
            let hosts: Vec<String> = (0..m.members)
                .map(|i| {
                    format!(
                        "{n}-mongodb-{i}.{n}-mongodb.{ns}.svc.cluster.local:{port}",
                        n = self.name,
                        ns = self.ns,
                        port = Datastore::Mongodb.port()
                    )
                })
                .collect();
            format!(
                "mongodb://{DB_USER}:{pw}@{}/{DB_NAME}?replicaSet={MONGO_REPLICA_SET}&authSource=admin&w=majority",
                hosts.join(",")
            )
        } else {
            ext.mongodb_url
                .clone()
                .ok_or(RenderError::MissingExternal("mongodb"))?
        };
        c.insert(secrets::CONN_MONGODB_URL.into(), mongo);

        let redis = if self.managed(Datastore::Redis) {
            secrets::RedisEndpoint {
                host: self.host("redis"),
                port: Datastore::Redis.port() as u16,
                password: self.secret_value(
                    &secrets::datastore_secret_name(self.name, Datastore::Redis),
                    secrets::KEY_PASSWORD,
                )?,
            }
        } else {
            let url = ext
                .redis_url
                .as_deref()
                .ok_or(RenderError::MissingExternal("redis"))?;
            secrets::parse_redis_url(url).map_err(RenderError::Spec)?
        };
        c.insert(secrets::CONN_REDIS_HOST.into(), redis.host);
        c.insert(secrets::CONN_REDIS_PORT.into(), redis.port.to_string());
        c.insert(secrets::CONN_REDIS_PASSWORD.into(), redis.password);
        Ok(c)
    }

    fn secret(&self, name: &str, component: &str, data: &BTreeMap<String, String>) -> Child {
        // `stringData` would never read back equal from the API; `data` (base64) does, which is
        // what drift detection compares.
        let data: BTreeMap<&str, String> = data
            .iter()
            .map(|(k, v)| (k.as_str(), base64_encode(v.as_bytes())))
            .collect();
        self.child(
            Kind::Secret,
            name.to_string(),
            json!({
                "metadata": self.metadata(name, component),
                "type": "Opaque",
                "data": data,
            }),
        )
    }

    fn service(&self, svc: Service) -> Child {
        let name = format!("{}-{}", self.name, svc.name());
        self.child(
            Kind::Service,
            name.clone(),
            json!({
                "metadata": self.metadata(&name, svc.name()),
                "spec": {
                    "type": "ClusterIP",
                    "selector": selector_labels(self.name, svc.name()),
                    "ports": [{"name": "http", "port": svc.port(), "targetPort": "http", "protocol": "TCP"}],
                },
            }),
        )
    }

    fn service_url(&self, svc: Service) -> String {
        format!("http://{}-{}:{}", self.name, svc.name(), svc.port())
    }

    fn allowed_origins(&self) -> String {
        let g = &self.p.spec.gateway;
        if !g.allowed_origins.is_empty() {
            return g.allowed_origins.join(",");
        }
        // Without an explicit list, the only browser origin is the one the Ingress serves.
        public_url(self.p).unwrap_or_else(|| self.service_url(Service::Frontend))
    }

    /// The proxies in front of `svc` that append to `X-Forwarded-For` (its
    /// `TRUST_FORWARDED_FOR`): the Ingress when there is one, and the gateway in front of
    /// auth. Without an Ingress the gateway's peer is the client, and an `X-Forwarded-For`
    /// reaching it was written by the client, so it is not believed.
    fn proxies_in_front(&self, svc: Service) -> u8 {
        let ingress = u8::from(self.p.spec.gateway.ingress.is_some());
        match svc {
            Service::Gateway => ingress,
            Service::Auth => ingress + 1,
            _ => 0,
        }
    }

    /// The environment of a service, in a stable order; user additions override by name.
    fn env(&self, svc: Service, c: &ComponentSpec) -> Vec<Value> {
        let tokens = secrets::tokens_secret_name(self.name);
        let conn = secrets::connections_secret_name(self.name);
        let plain = |n: &str, v: String| json!({"name": n, "value": v});
        let from = |n: &str, s: &str, k: &str| json!({"name": n, "valueFrom": {"secretKeyRef": {"name": s, "key": k}}});
        let mut env = vec![
            plain("PORT", svc.port().to_string()),
            from("ACCESS_TOKEN_SECRET", &tokens, secrets::KEY_ACCESS_TOKEN),
            from("REDIS_HOST", &conn, secrets::CONN_REDIS_HOST),
            from("REDIS_PORT", &conn, secrets::CONN_REDIS_PORT),
            from("REDIS_PASSWORD", &conn, secrets::CONN_REDIS_PASSWORD),
            plain("ALLOWED_ORIGINS", self.allowed_origins()),
            plain("RUST_LOG", self.p.spec.log_level.clone()),
        ];
        match svc {
            Service::Gateway => {
                let rl = &self.p.spec.gateway.rate_limit;
                env.extend([
                    plain("AUTH", self.service_url(Service::Auth)),
                    plain("PLAN", self.service_url(Service::Plan)),
                    plain("TEMPLATE", self.service_url(Service::Template)),
                    plain("RATE_LIMIT_MAX_REQUESTS", rl.max_requests.to_string()),
                    plain("RATE_LIMIT_WINDOW_MS", rl.window_ms.to_string()),
                    plain(
                        "TRUST_FORWARDED_FOR",
                        self.proxies_in_front(svc).to_string(),
                    ),
                ]);
            }
            Service::Auth => {
                let a = &self.p.spec.auth;
                env.extend([
                    from("DATABASE_URL", &conn, secrets::CONN_AUTH_DATABASE_URL),
                    from("REFRESH_TOKEN_SECRET", &tokens, secrets::KEY_REFRESH_TOKEN),
                    plain("ACCESS_TOKEN_EXP", a.access_token_ttl.clone()),
                    plain("REFRESH_TOKEN_EXP", a.refresh_token_ttl.clone()),
                    plain(
                        "REFRESH_TOKEN_REUSE_GRACE",
                        a.refresh_token_reuse_grace.clone(),
                    ),
                    plain(
                        "TRUST_FORWARDED_FOR",
                        self.proxies_in_front(svc).to_string(),
                    ),
                ]);
            }
            Service::Template | Service::Plan => {
                let collection = if svc == Service::Plan {
                    "plans"
                } else {
                    "templates"
                };
                env.extend([
                    from("DATABASE_URL", &conn, secrets::CONN_MONGODB_URL),
                    plain("DATABASE_NAME", DB_NAME.into()),
                    plain("DATABASE_COLLECTION", collection.into()),
                ]);
                if svc == Service::Plan {
                    env.push(plain("TEMPLATE", self.service_url(Service::Template)));
                }
            }
            Service::Frontend => {}
        }
        for extra in &c.env {
            let v = serde_json::to_value(extra).unwrap_or(Value::Null);
            match env.iter_mut().find(|e| e["name"] == json!(extra.name)) {
                Some(e) => *e = v,
                None => env.push(v),
            }
        }
        env
    }

    /// A hash of every value a service reads (plain env and the Secret values behind its
    /// references), so that a change of any of them rolls its pods.
    fn checksum(&self, env: &[Value], conn: &BTreeMap<String, String>) -> String {
        let mut h = Sha256::new();
        for e in env {
            h.update(e.to_string().as_bytes());
            if let Some(r) = e.pointer("/valueFrom/secretKeyRef") {
                let (s, k) = (
                    r["name"].as_str().unwrap_or(""),
                    r["key"].as_str().unwrap_or(""),
                );
                let v = if s == secrets::connections_secret_name(self.name) {
                    conn.get(k)
                } else {
                    self.inputs.secrets.get(s).and_then(|d| d.get(k))
                };
                h.update([0]);
                h.update(v.map(String::as_bytes).unwrap_or_default());
            }
            h.update([0xff]);
        }
        hex::encode(h.finalize())
    }

    fn container_security(&self) -> Value {
        json!({
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        })
    }

    fn pod_security(&self, uid: i64) -> Value {
        json!({
            "runAsNonRoot": true,
            "runAsUser": uid,
            "runAsGroup": uid,
            "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"},
        })
    }

    fn deployment(
        &self,
        svc: Service,
        c: &ComponentSpec,
        conn: &BTreeMap<String, String>,
    ) -> Child {
        let name = format!("{}-{}", self.name, svc.name());
        let env = self.env(svc, c);
        let image = self.p.spec.image.reference();
        let pull = self.p.spec.image.pull_policy.as_str();
        let probe = |path: &str, period: i32, failures: i32| {
            json!({
                "httpGet": {"path": path, "port": "http"},
                "periodSeconds": period,
                "timeoutSeconds": 2,
                "failureThreshold": failures,
            })
        };
        let mut container = json!({
            "name": svc.name(),
            "image": image,
            "imagePullPolicy": pull,
            "args": [svc.name()],
            "ports": [{"name": "http", "containerPort": svc.port(), "protocol": "TCP"}],
            "env": env,
            // Startup gets a generous budget so liveness never kills a slow first start.
            "startupProbe": probe("/healthz", 2, 60),
            "livenessProbe": probe("/healthz", 10, 3),
            "readinessProbe": probe("/readyz", 5, 3),
            "securityContext": self.container_security(),
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        });
        if let Some(r) = &c.resources {
            container["resources"] = serde_json::to_value(r).unwrap_or(Value::Null);
        }
        let pt = &c.pod_template;
        let mut labels = pt.labels.clone();
        labels.extend(common_labels(self.name, svc.name()));
        let mut annotations = pt.annotations.clone();
        annotations.insert(CHECKSUM_ANNOTATION.into(), self.checksum(&env, conn));
        let mut pod = json!({
            "automountServiceAccountToken": false,
            "enableServiceLinks": false,
            "terminationGracePeriodSeconds": 30,
            "securityContext": pt.security_context.as_ref()
                .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
                .unwrap_or_else(|| self.pod_security(65532)),
            "containers": [container],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        });
        if svc == Service::Auth {
            // Migrations run to completion before the server container starts.
            pod["initContainers"] = json!([{
                "name": "migrate",
                "image": image,
                "imagePullPolicy": pull,
                "args": ["migrate"],
                "env": env,
                "securityContext": self.container_security(),
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }]);
        }
        if !self.p.spec.image.pull_secrets.is_empty() {
            pod["imagePullSecrets"] = json!(
                self.p
                    .spec
                    .image
                    .pull_secrets
                    .iter()
                    .map(|s| json!({"name": s}))
                    .collect::<Vec<_>>()
            );
        }
        if !pt.node_selector.is_empty() {
            pod["nodeSelector"] = json!(pt.node_selector);
        }
        if !pt.tolerations.is_empty() {
            pod["tolerations"] = serde_json::to_value(&pt.tolerations).unwrap_or(Value::Null);
        }
        let spread = max_replicas(c) > 1;
        if let Some(a) = &pt.affinity {
            pod["affinity"] = serde_json::to_value(a).unwrap_or(Value::Null);
        } else if spread {
            pod["affinity"] = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {
                    "topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": selector_labels(self.name, svc.name())},
                },
            }]}});
        }
        if !pt.topology_spread_constraints.is_empty() {
            pod["topologySpreadConstraints"] =
                serde_json::to_value(&pt.topology_spread_constraints).unwrap_or(Value::Null);
        } else if spread {
            pod["topologySpreadConstraints"] = json!([{
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector_labels(self.name, svc.name())},
            }]);
        }
        let mut spec = json!({
            "selector": {"matchLabels": selector_labels(self.name, svc.name())},
            "revisionHistoryLimit": 5,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod},
        });
        // With an HPA the replica count is the HPA's: not setting it keeps the two from fighting.
        if c.autoscaling.is_none() {
            spec["replicas"] = json!(c.replicas);
        }
        self.child(
            Kind::Deployment,
            name.clone(),
            json!({"metadata": self.metadata(&name, svc.name()), "spec": spec}),
        )
    }

    fn pdb(&self, svc: Service) -> Child {
        let name = format!("{}-{}", self.name, svc.name());
        self.child(
            Kind::PodDisruptionBudget,
            name.clone(),
            json!({
                "metadata": self.metadata(&name, svc.name()),
                "spec": {
                    "maxUnavailable": 1,
                    "selector": {"matchLabels": selector_labels(self.name, svc.name())},
                },
            }),
        )
    }

    fn hpa(&self, svc: Service, a: &crate::crd::AutoscalingSpec) -> Child {
        let name = format!("{}-{}", self.name, svc.name());
        self.child(
            Kind::HorizontalPodAutoscaler,
            name.clone(),
            json!({
                "metadata": self.metadata(&name, svc.name()),
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": a.min_replicas,
                    "maxReplicas": a.max_replicas,
                    "metrics": [{"type": "Resource", "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": a.target_cpu_utilization_percentage},
                    }}],
                },
            }),
        )
    }

    fn ingress(&self) -> Option<Child> {
        let ing = self.p.spec.gateway.ingress.as_ref()?;
        let backend = |svc: Service| json!({"service": {"name": format!("{}-{}", self.name, svc.name()), "port": {"name": "http"}}});
        let mut paths = Vec::new();
        if self.p.spec.gateway.component.enabled {
            // The SPA calls `/api/v1/...` on its own origin.
            paths.push(
                json!({"path": "/api", "pathType": "Prefix", "backend": backend(Service::Gateway)}),
            );
        }
        if self.p.spec.frontend.enabled {
            paths.push(
                json!({"path": "/", "pathType": "Prefix", "backend": backend(Service::Frontend)}),
            );
        }
        if paths.is_empty() {
            return None;
        }
        let mut meta = self.metadata(self.name, "ingress");
        if !ing.annotations.is_empty() {
            meta["annotations"] = json!(ing.annotations);
        }
        let mut spec = json!({"rules": [{"host": ing.host, "http": {"paths": paths}}]});
        if let Some(class) = &ing.class_name {
            spec["ingressClassName"] = json!(class);
        }
        if let Some(tls) = &ing.tls_secret_name {
            spec["tls"] = json!([{"hosts": [ing.host], "secretName": tls}]);
        }
        Some(self.child(
            Kind::Ingress,
            self.name.to_string(),
            json!({"metadata": meta, "spec": spec}),
        ))
    }

    /// StatefulSet, headless Service and NetworkPolicy of a managed datastore.
    fn datastore(&self, ds: Datastore) -> Result<Vec<Child>, RenderError> {
        let name = format!("{}-{}", self.name, ds.name());
        let component = ds.name();
        let secret = secrets::datastore_secret_name(self.name, ds);
        let (image, storage, resources, replicas) = match ds {
            Datastore::Postgres | Datastore::Redis => {
                let m = if ds == Datastore::Postgres {
                    self.p.spec.postgres.managed.as_ref()
                } else {
                    self.p.spec.redis.managed.as_ref()
                }
                .ok_or_else(|| RenderError::Spec(format!("{component} is not managed")))?;
                (m.image.clone(), m.storage.clone(), m.resources.clone(), 1)
            }
            Datastore::Mongodb => {
                let m = self
                    .p
                    .spec
                    .mongodb
                    .managed
                    .as_ref()
                    .ok_or_else(|| RenderError::Spec("mongodb is not managed".into()))?;
                (
                    m.image.clone(),
                    m.storage.clone(),
                    m.resources.clone(),
                    m.members,
                )
            }
        };
        let image = image.unwrap_or_else(|| ds.default_image().to_string());
        let secret_env = |n: &str, k: &str| json!({"name": n, "valueFrom": {"secretKeyRef": {"name": secret, "key": k}}});
        let exec = |cmd: Vec<&str>, period: i32, failures: i32| json!({"exec": {"command": cmd}, "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failures});
        let port = json!([{"name": component, "containerPort": ds.port(), "protocol": "TCP"}]);
        let mut volume_mounts = vec![
            json!({"name": "data", "mountPath": ds.data_path()}),
            json!({"name": "tmp", "mountPath": "/tmp"}),
        ];
        let mut volumes = vec![json!({"name": "tmp", "emptyDir": {}})];
        let mut init_containers = Vec::new();
        let mut containers = Vec::new();
        let mut main = match ds {
            Datastore::Postgres => {
                volume_mounts.push(json!({"name": "run", "mountPath": "/var/run/postgresql"}));
                volumes.push(json!({"name": "run", "emptyDir": {}}));
                let ready = exec(
                    vec![
                        "pg_isready",
                        "-h",
                        "127.0.0.1",
                        "-U",
                        DB_USER,
                        "-d",
                        DB_NAME,
                    ],
                    10,
                    6,
                );
                json!({
                    "env": [
                        {"name": "POSTGRES_USER", "value": DB_USER},
                        {"name": "POSTGRES_DB", "value": DB_NAME},
                        secret_env("POSTGRES_PASSWORD", secrets::KEY_PASSWORD),
                        // A subdirectory: the volume root may hold lost+found, which initdb refuses.
                        {"name": "PGDATA", "value": format!("{}/pgdata", ds.data_path())},
                    ],
                    "readinessProbe": ready,
                    "livenessProbe": exec(vec!["pg_isready", "-h", "127.0.0.1", "-U", DB_USER, "-d", DB_NAME], 20, 6),
                })
            }
            Datastore::Redis => json!({
                "args": ["--requirepass", "$(REDIS_PASSWORD)", "--appendonly", "yes", "--dir", ds.data_path()],
                "env": [
                    secret_env("REDIS_PASSWORD", secrets::KEY_PASSWORD),
                    // redis-cli reads the password from here, so probes do not put it in argv.
                    secret_env("REDISCLI_AUTH", secrets::KEY_PASSWORD),
                ],
                "readinessProbe": exec(vec!["redis-cli", "ping"], 10, 3),
                "livenessProbe": exec(vec!["redis-cli", "ping"], 20, 6),
            }),
            Datastore::Mongodb => {
                volume_mounts
                    .push(json!({"name": "keyfile", "mountPath": "/keyfile", "readOnly": true}));
                volumes.push(json!({"name": "keyfile", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}));
                volumes.push(json!({"name": "keyfile-src", "secret": {
                    "secretName": secret, "defaultMode": 0o440,
                    "items": [{"key": secrets::KEY_MONGO_KEYFILE, "path": "keyfile"}],
                }}));
                // mongod refuses a keyfile readable by others and secret volumes are root-owned:
                // copy it into a memory volume owned by the mongod user, mode 0400.
                init_containers.push(json!({
                    "name": "keyfile",
                    "image": image,
                    "command": ["sh", "-c", "cp /keyfile-src/keyfile /keyfile/keyfile && chmod 0400 /keyfile/keyfile"],
                    "securityContext": self.container_security(),
                    "volumeMounts": [
                        {"name": "keyfile", "mountPath": "/keyfile"},
                        {"name": "keyfile-src", "mountPath": "/keyfile-src", "readOnly": true},
                    ],
                }));
                containers.push(json!({
                    "name": "rs-init",
                    "image": image,
                    "command": ["sh", "-c", MONGO_RS_INIT],
                    "env": [
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "RS_MEMBERS", "value": self.mongo_members(replicas)},
                        {"name": "RS_SYNC", "value": MONGO_RS_SYNC},
                        {"name": "MONGO_USER", "value": DB_USER},
                        secret_env("MONGO_PASSWORD", secrets::KEY_PASSWORD),
                        {"name": "HOME", "value": "/tmp"},
                    ],
                    "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                    "securityContext": self.container_security(),
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }));
                let ping = vec![
                    "mongosh",
                    "--quiet",
                    "--eval",
                    "db.adminCommand({ping: 1}).ok",
                ];
                json!({
                    "command": ["mongod", "--replSet", MONGO_REPLICA_SET, "--bind_ip_all",
                                "--keyFile", "/keyfile/keyfile", "--dbpath", ds.data_path()],
                    "env": [{"name": "HOME", "value": "/tmp"}],
                    "readinessProbe": exec(ping.clone(), 10, 6),
                    "livenessProbe": exec(ping, 20, 6),
                })
            }
        };
        main["name"] = json!(component);
        main["image"] = json!(image);
        main["ports"] = port;
        main["securityContext"] = self.container_security();
        main["volumeMounts"] = json!(volume_mounts);
        if let Some(r) = &resources {
            main["resources"] = serde_json::to_value(r).unwrap_or(Value::Null);
        }
        containers.insert(0, main);

        let mut pvc_spec = json!({
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": storage.size}},
        });
        if let Some(class) = &storage.storage_class_name {
            pvc_spec["storageClassName"] = json!(class);
        }
        let mut pod = json!({
            "automountServiceAccountToken": false,
            "enableServiceLinks": false,
            "securityContext": self.pod_security(ds.uid()),
            "containers": containers,
            "volumes": volumes,
        });
        if !init_containers.is_empty() {
            pod["initContainers"] = json!(init_containers);
        }
        if replicas > 1 {
            pod["affinity"] = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {
                    "topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": selector_labels(self.name, component)},
                },
            }]}});
        }
        let sts = self.child(
            Kind::StatefulSet,
            name.clone(),
            json!({
                "metadata": self.metadata(&name, component),
                "spec": {
                    "serviceName": name,
                    "replicas": replicas,
                    "podManagementPolicy": "Parallel",
                    "selector": {"matchLabels": selector_labels(self.name, component)},
                    // Deleting the Plangen deletes the data too; scaling down keeps it.
                    "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
                    "template": {
                        "metadata": {"labels": common_labels(self.name, component)},
                        "spec": pod,
                    },
                    "volumeClaimTemplates": [{
                        "metadata": {"name": "data", "labels": common_labels(self.name, component)},
                        "spec": pvc_spec,
                    }],
                },
            }),
        );
        let svc = self.child(
            Kind::Service,
            name.clone(),
            json!({
                "metadata": self.metadata(&name, component),
                "spec": {
                    // Headless: stable per-pod DNS names (`<pod>.<service>`).
                    "clusterIP": "None",
                    // Replica-set members must resolve each other before they are ready.
                    "publishNotReadyAddresses": ds == Datastore::Mongodb,
                    "selector": selector_labels(self.name, component),
                    "ports": [{"name": component, "port": ds.port(), "targetPort": component, "protocol": "TCP"}],
                },
            }),
        );
        // Only the services that use this datastore (and, for MongoDB, its own members) get in.
        let mut from: Vec<Value> = Service::ALL
            .into_iter()
            .filter(|s| s.uses(ds))
            .map(|s| json!({"podSelector": {"matchLabels": selector_labels(self.name, s.name())}}))
            .collect();
        if ds == Datastore::Mongodb {
            from.push(
                json!({"podSelector": {"matchLabels": selector_labels(self.name, component)}}),
            );
        }
        let np = self.child(
            Kind::NetworkPolicy,
            name.clone(),
            json!({
                "metadata": self.metadata(&name, component),
                "spec": {
                    "podSelector": {"matchLabels": selector_labels(self.name, component)},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": from, "ports": [{"protocol": "TCP", "port": ds.port()}]}],
                },
            }),
        );
        Ok(vec![sts, svc, np])
    }

    fn mongo_members(&self, replicas: i32) -> String {
        (0..replicas)
            .map(|i| {
                format!(
                    "{n}-mongodb-{i}.{n}-mongodb.{ns}.svc.cluster.local:{p}",
                    n = self.name,
                    ns = self.ns,
                    p = Datastore::Mongodb.port()
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Sidecar of every MongoDB member: on member 0 it initiates the replica set once and creates
/// the `plangen` user through the localhost exception; then, on every member, whichever is
/// primary brings the set's membership in line with `RS_MEMBERS` (after `members` changed)
/// every 15 s. Passwords come from the environment (`process.env`), never from argv.
const MONGO_RS_INIT: &str = r#"set -eu
until mongosh --quiet --host 127.0.0.1 --eval 'db.adminCommand({ping: 1}).ok' >/dev/null 2>&1; do sleep 2; done
if [ "${POD_NAME##*-}" = "0" ]; then
  if mongosh --quiet --host 127.0.0.1 --eval '
       db.getSiblingDB("admin").auth(process.env.MONGO_USER, process.env.MONGO_PASSWORD);
       quit(rs.status().ok ? 0 : 1)' >/dev/null 2>&1; then
    echo "replica set already initialised"
  else
    mongosh --quiet --host 127.0.0.1 --eval '
      const hosts = process.env.RS_MEMBERS.split(",");
      try {
        rs.initiate({_id: "rs0", members: hosts.map((h, i) => ({_id: i, host: h}))});
      } catch (e) { print("rs.initiate: " + e.message); }
      while (!db.hello().isWritablePrimary) { sleep(1000); }
      db.getSiblingDB("admin").createUser({user: process.env.MONGO_USER,
        pwd: process.env.MONGO_PASSWORD, roles: [{role: "root", db: "admin"}]});
      print("replica set initialised");'
  fi
fi
while true; do
  mongosh --quiet --host 127.0.0.1 --eval "$RS_SYNC" 2>&1 | grep -v '^$' || true
  sleep 15
done
"#;

/// The membership step: `nextMembers` (pure, tested with Node.js in this crate's tests) gives
/// the member list one change closer to the wanted hosts — MongoDB accepts at most one voting
/// member added or removed per reconfig — and the primary applies it (the `rs.reconfig` helper
/// bumps the config version). Existing members keep their `_id`s and settings.
macro_rules! next_members_js {
    () => {
        r#"function nextMembers(members, hosts) {
  const gone = members.find((m) => !hosts.includes(m.host));
  if (gone) return members.filter((m) => m !== gone);
  const known = members.map((m) => m.host);
  const added = hosts.find((h) => !known.includes(h));
  if (added === undefined) return null;
  const id = members.reduce((max, m) => Math.max(max, m._id), -1) + 1;
  return members.concat([{ _id: id, host: added }]);
}"#
    };
}
pub const MONGO_NEXT_MEMBERS_JS: &str = next_members_js!();

const MONGO_RS_SYNC: &str = concat!(
    next_members_js!(),
    r#"
try {
  db.getSiblingDB("admin").auth(process.env.MONGO_USER, process.env.MONGO_PASSWORD);
  if (db.hello().isWritablePrimary) {
    const cfg = rs.conf();
    const next = nextMembers(cfg.members, process.env.RS_MEMBERS.split(","));
    if (next) {
      cfg.members = next;
      rs.reconfig(cfg);
      print("replica set members now: " + next.map((m) => m.host).join(","));
    }
  }
} catch (e) { print("membership sync: " + e.message); }
"#
);

fn base64_encode(bytes: &[u8]) -> String {
    use k8s_openapi::ByteString;
    // ByteString serialises as standard base64, exactly what the API server stores.
    serde_json::to_value(ByteString(bytes.to_vec()))
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Environment variable names a service receives (for docs and tests).
pub fn env_names(children: &[Child], deployment: &str) -> Vec<String> {
    children
        .iter()
        .filter(|c| c.kind == Kind::Deployment && c.name == deployment)
        .filter_map(|c| c.typed::<Deployment>().ok())
        .flat_map(|d| {
            d.spec
                .template
                .spec
                .map(|s| s.containers)
                .unwrap_or_default()
        })
        .flat_map(|c| c.env.unwrap_or_default())
        .map(|e: EnvVar| e.name)
        .collect()
}

#[cfg(test)]
mod tests;
