//! The `Plangen` custom resource (`plangen.io/v1alpha1`).
//!
//! The Rust types are the single source of truth: `crds/plangen.yaml` is generated from them
//! (`plangen-operator crd`) and a test fails when the committed file drifts.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, PodSecurityContext, ResourceRequirements, Toleration,
    TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of one Plangen platform.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "plangen.io",
    version = "v1alpha1",
    kind = "Plangen",
    plural = "plangens",
    shortname = "plg",
    namespaced,
    status = "PlangenStatus",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("self.metadata.name.size() <= 40").message("metadata.name must be at most 40 characters (children append suffixes)")
)]
#[serde(rename_all = "camelCase")]
pub struct PlangenSpec {
    /// The `plangen` image every service runs (one image, one subcommand per service).
    #[serde(default)]
    pub image: ImageSpec,
    /// The API gateway (`plangen gateway`, port 3000).
    #[serde(default)]
    pub gateway: GatewaySpec,
    /// The auth service (`plangen auth`, port 3001); runs `plangen migrate` before serving.
    #[serde(default)]
    pub auth: AuthSpec,
    /// The plan service (`plangen plan`, port 3003).
    #[serde(default)]
    pub plan: ComponentSpec,
    /// The template service (`plangen template`, port 3002).
    #[serde(default)]
    pub template: ComponentSpec,
    /// The single-page app (`plangen frontend`, port 5173).
    #[serde(default)]
    pub frontend: ComponentSpec,
    /// PostgreSQL, used by auth.
    #[serde(default)]
    pub postgres: DatastoreSpec,
    /// MongoDB replica set, used by plan and template.
    #[serde(default)]
    pub mongodb: MongoDatastoreSpec,
    /// Redis, used by every service (rate limits, token deny-list, shared state).
    #[serde(default)]
    pub redis: DatastoreSpec,
    /// `RUST_LOG` for every service.
    #[serde(default = "default_log_level")]
    #[schemars(length(min = 1, max = 256))]
    pub log_level: String,
    /// When true the operator makes no change to any child and reports `ReconciliationPaused`.
    /// Deletion still works.
    #[serde(default)]
    pub paused: bool,
}

fn default_log_level() -> String {
    "info".into()
}

/// The container image of the Plangen services.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    #[serde(default = "default_repository")]
    #[schemars(length(min = 1, max = 255))]
    pub repository: String,
    #[serde(default = "default_tag")]
    #[schemars(length(min = 1, max = 128))]
    pub tag: String,
    #[serde(default)]
    pub pull_policy: PullPolicy,
    /// Names of `kubernetes.io/dockerconfigjson` Secrets in the namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_secrets: Vec<String>,
}

fn default_repository() -> String {
    "ghcr.io/plangen/plangen".into()
}
fn default_tag() -> String {
    env!("CARGO_PKG_VERSION").into()
}

impl Default for ImageSpec {
    fn default() -> Self {
        Self {
            repository: default_repository(),
            tag: default_tag(),
            pull_policy: PullPolicy::default(),
            pull_secrets: Vec::new(),
        }
    }
}

impl ImageSpec {
    /// `repository:tag`, or `repository@sha256:…` when the tag is a digest.
    pub fn reference(&self) -> String {
        if self.tag.starts_with("sha256:") {
            format!("{}@{}", self.repository, self.tag)
        } else {
            format!("{}:{}", self.repository, self.tag)
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum PullPolicy {
    Always,
    #[default]
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// Settings shared by every Plangen service.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ComponentSpec {
    /// Switching a component off prunes its Deployment, Service, PDB and HPA.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Ignored while `autoscaling` is set (the HPA owns the replica count then).
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Extra environment variables; they override the operator's on a name clash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub pod_template: PodTemplateOverrides,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,
}

fn default_true() -> bool {
    true
}
fn default_replicas() -> i32 {
    1
}

impl Default for ComponentSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            replicas: default_replicas(),
            resources: None,
            env: Vec::new(),
            pod_template: PodTemplateOverrides::default(),
            autoscaling: None,
        }
    }
}

/// Overrides merged into the pod template of a component.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateOverrides {
    /// Added to the pod labels (the operator's own labels win on a clash).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Replaces the operator's default pod anti-affinity (a core/v1 `Affinity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub affinity: Option<Affinity>,
    /// Replaces the operator's default zone/host spread (core/v1 `TopologySpreadConstraint`s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "any_object_list")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Replaces the operator's restricted pod security context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
}

// Affinity and topology spread are left unexpanded in the CRD schema: expanded, they made the CRD
// over 600 kB (five components). The API server still validates them on the Deployment; a bad
// value surfaces as a `Degraded` condition, and the typed field rejects garbage on read.
fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "nullable": true, "x-kubernetes-preserve-unknown-fields": true})
}

fn any_object_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
    })
}

/// A HorizontalPodAutoscaler on CPU utilisation.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.minReplicas <= self.maxReplicas").message("autoscaling.minReplicas must not exceed maxReplicas"))]
pub struct AutoscalingSpec {
    #[schemars(range(min = 1, max = 100))]
    pub min_replicas: i32,
    #[schemars(range(min = 1, max = 100))]
    pub max_replicas: i32,
    #[serde(
        default = "default_cpu_target",
        rename = "targetCPUUtilizationPercentage"
    )]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percentage: i32,
}

fn default_cpu_target() -> i32 {
    75
}

/// The gateway: a component plus CORS, rate limiting and the public Ingress.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    #[serde(flatten)]
    pub component: ComponentSpec,
    /// `ALLOWED_ORIGINS`; defaults to the Ingress origin when an Ingress is set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub rate_limit: RateLimitSpec,
    /// When set, an Ingress routes `/api` to the gateway and `/` to the frontend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitSpec {
    #[serde(default = "default_max_requests")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub max_requests: i32,
    #[serde(default = "default_window_ms")]
    #[schemars(range(min = 100, max = 86_400_000))]
    pub window_ms: i64,
}

fn default_max_requests() -> i32 {
    100
}
fn default_window_ms() -> i64 {
    60_000
}

impl Default for RateLimitSpec {
    fn default() -> Self {
        Self {
            max_requests: default_max_requests(),
            window_ms: default_window_ms(),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Public host name, e.g. `plangen.example.com`.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub host: String,
    /// A `kubernetes.io/tls` Secret; when set the URL is https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The auth service: a component plus token lifetimes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    #[serde(flatten)]
    pub component: ComponentSpec,
    /// `ACCESS_TOKEN_EXP`, e.g. `15m`.
    #[serde(default = "default_access_ttl")]
    #[schemars(regex(pattern = r"^[1-9][0-9]{0,5}[smhd]$"))]
    pub access_token_ttl: String,
    /// `REFRESH_TOKEN_EXP`, e.g. `7d`.
    #[serde(default = "default_refresh_ttl")]
    #[schemars(regex(pattern = r"^[1-9][0-9]{0,5}[smhd]$"))]
    pub refresh_token_ttl: String,
    /// `REFRESH_TOKEN_REUSE_GRACE`: how long a rotated refresh token may be presented again
    /// while its replacement is unused (a client retrying after a lost answer keeps its
    /// session); `0` turns it off, at most `60s` (auth refuses more).
    #[serde(default = "default_refresh_reuse_grace")]
    #[schemars(regex(pattern = r"^(0s?|([1-9]|[1-5][0-9]|60)s|1m)$"))]
    pub refresh_token_reuse_grace: String,
}

fn default_access_ttl() -> String {
    "15m".into()
}
fn default_refresh_ttl() -> String {
    "7d".into()
}
fn default_refresh_reuse_grace() -> String {
    "30s".into()
}

impl Default for AuthSpec {
    fn default() -> Self {
        Self {
            component: ComponentSpec::default(),
            access_token_ttl: default_access_ttl(),
            refresh_token_ttl: default_refresh_ttl(),
            refresh_token_reuse_grace: default_refresh_reuse_grace(),
        }
    }
}

/// PostgreSQL or Redis: either run by the operator or provided from outside.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.managed) != has(self.external)").message("exactly one of managed or external must be set"))]
pub struct DatastoreSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<ManagedDatastore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalDatastore>,
}

impl Default for DatastoreSpec {
    fn default() -> Self {
        Self {
            managed: Some(ManagedDatastore::default()),
            external: None,
        }
    }
}

/// MongoDB: either a replica set run by the operator or provided from outside.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.managed) != has(self.external)").message("exactly one of managed or external must be set"))]
pub struct MongoDatastoreSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<ManagedMongo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalDatastore>,
}

impl Default for MongoDatastoreSpec {
    fn default() -> Self {
        Self {
            managed: Some(ManagedMongo::default()),
            external: None,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedDatastore {
    /// Defaults to a pinned official image of the datastore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default)]
    pub storage: StorageSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.members % 2 == 1").message("mongodb.managed.members must be odd so a majority exists"))]
pub struct ManagedMongo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default)]
    pub storage: StorageSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Replica-set members (StatefulSet replicas).
    #[serde(default = "default_members")]
    #[schemars(range(min = 1, max = 7))]
    pub members: i32,
}

fn default_members() -> i32 {
    3
}

impl Default for ManagedMongo {
    fn default() -> Self {
        Self {
            image: None,
            storage: StorageSpec::default(),
            resources: None,
            members: default_members(),
        }
    }
}

/// A StatefulSet's volume claim; StatefulSets cannot change it later, so neither can the spec.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)").message("storageClassName is immutable"))]
#[x_kube(validation = Rule::new("self.size == oldSelf.size").message("storage size is immutable (StatefulSet volume claims cannot change)"))]
pub struct StorageSpec {
    /// A Kubernetes quantity, e.g. `10Gi`.
    #[serde(default = "default_storage_size")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"))]
    pub size: String,
    /// Immutable once set; unset means the cluster's default StorageClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

fn default_storage_size() -> String {
    "1Gi".into()
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            size: default_storage_size(),
            storage_class_name: None,
        }
    }
}

/// A datastore outside the platform: the operator reads its connection URL from a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalDatastore {
    /// Name of a Secret in the Plangen's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Key of the connection URL in that Secret.
    #[serde(default = "default_url_key")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

fn default_url_key() -> String {
    "url".into()
}

/// Observed state, written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlangenStatus {
    /// The `metadata.generation` the operator last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing`, `Degraded` and, while paused, `ReconciliationPaused`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Desired and ready replicas per component and datastore.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, ComponentStatus>,
    /// Where users reach the platform (from the Ingress), if it is exposed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    pub desired_replicas: i32,
    pub ready_replicas: i32,
}

/// The generated CRD as YAML, exactly as committed in `crds/plangen.yaml`.
pub fn crd_yaml() -> Result<String, crate::Error> {
    let crd = Plangen::crd();
    let value = serde_json::to_value(&crd).map_err(crate::Error::Serialize)?;
    crate::yaml::to_yaml(&value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::cel::Validator;
    use serde_json::{Value, json};

    fn root() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn schema() -> Value {
        let crd = Plangen::crd();
        serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema
                .as_ref()
                .unwrap(),
        )
        .unwrap()
    }

    fn object(spec: Value) -> Value {
        json!({"apiVersion": "plangen.io/v1alpha1", "kind": "Plangen",
               "metadata": {"name": "demo", "namespace": "default"}, "spec": spec})
    }

    fn errors(obj: &Value, old: Option<&Value>) -> Vec<String> {
        match Validator::new().validate(&schema(), obj, old) {
            Ok(()) => Vec::new(),
            Err(e) => e.into_vec().into_iter().map(|e| e.message).collect(),
        }
    }

    #[test]
    fn committed_crd_matches_the_rust_types() {
        let path = root().join("crds/plangen.yaml");
        let committed = std::fs::read_to_string(&path).unwrap();
        let generated = crd_yaml().unwrap();
        assert!(
            committed == generated,
            "{} is stale: regenerate it with `cargo run -p plangen-operator -- crd > crds/plangen.yaml` and copy it to charts/plangen-operator/crds/",
            path.display()
        );
        // The chart ships the same file.
        let chart =
            std::fs::read_to_string(root().join("charts/plangen-operator/crds/plangen.yaml"))
                .unwrap();
        assert!(
            chart == generated,
            "charts/plangen-operator/crds/plangen.yaml differs from the generated CRD: `cp crds/plangen.yaml charts/plangen-operator/crds/`"
        );
    }

    #[test]
    fn crd_identity_and_columns() {
        let crd = Plangen::crd();
        assert_eq!(crd.metadata.name.as_deref(), Some("plangens.plangen.io"));
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.short_names, Some(vec!["plg".to_string()]));
        let v = &crd.spec.versions[0];
        assert_eq!(v.name, "v1alpha1");
        assert!(v.subresources.as_ref().unwrap().status.is_some());
        assert!(v.subresources.as_ref().unwrap().scale.is_none());
        let cols: Vec<_> = v
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(cols, ["Ready", "URL", "Age"]);
    }

    #[test]
    fn defaults_are_a_complete_managed_platform() {
        let p: PlangenSpec = serde_json::from_value(json!({})).unwrap();
        assert!(p.postgres.managed.is_some() && p.postgres.external.is_none());
        assert_eq!(p.mongodb.managed.as_ref().unwrap().members, 3);
        assert_eq!(p.gateway.component.replicas, 1);
        assert!(p.frontend.enabled);
        assert_eq!(p.auth.access_token_ttl, "15m");
        assert_eq!(p.image.pull_policy, PullPolicy::IfNotPresent);
        assert!(!p.paused);
    }

    #[test]
    fn cel_accepts_valid_specs() {
        assert_eq!(errors(&object(json!({})), None), Vec::<String>::new());
        let external = object(json!({"postgres": {"external": {"secretName": "pg"}}}));
        assert_eq!(errors(&external, None), Vec::<String>::new());
        let autoscaled =
            object(json!({"gateway": {"autoscaling": {"minReplicas": 2, "maxReplicas": 2}}}));
        assert_eq!(errors(&autoscaled, None), Vec::<String>::new());
    }

    #[test]
    fn cel_requires_exactly_one_of_managed_and_external() {
        let both = object(json!({"redis": {"managed": {}, "external": {"secretName": "r"}}}));
        assert_eq!(
            errors(&both, None),
            ["exactly one of managed or external must be set"]
        );
        let neither = object(json!({"mongodb": {}}));
        assert_eq!(
            errors(&neither, None),
            ["exactly one of managed or external must be set"]
        );
    }

    #[test]
    fn cel_rejects_bad_autoscaling_and_even_mongo_members() {
        let bad = object(json!({"plan": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}}));
        assert_eq!(
            errors(&bad, None),
            ["autoscaling.minReplicas must not exceed maxReplicas"]
        );
        let even = object(json!({"mongodb": {"managed": {"members": 2}}}));
        assert_eq!(
            errors(&even, None),
            ["mongodb.managed.members must be odd so a majority exists"]
        );
    }

    #[test]
    fn cel_makes_storage_immutable() {
        let old = object(
            json!({"postgres": {"managed": {"storage": {"size": "1Gi", "storageClassName": "fast"}}}}),
        );
        assert_eq!(errors(&old, Some(&old)), Vec::<String>::new());
        let class = object(
            json!({"postgres": {"managed": {"storage": {"size": "1Gi", "storageClassName": "slow"}}}}),
        );
        assert_eq!(
            errors(&class, Some(&old)),
            ["storageClassName is immutable"]
        );
        let unset = object(json!({"postgres": {"managed": {"storage": {"size": "1Gi"}}}}));
        assert_eq!(
            errors(&unset, Some(&old)),
            ["storageClassName is immutable"]
        );
        let size = object(
            json!({"postgres": {"managed": {"storage": {"size": "2Gi", "storageClassName": "fast"}}}}),
        );
        assert_eq!(
            errors(&size, Some(&old)),
            ["storage size is immutable (StatefulSet volume claims cannot change)"]
        );
    }

    #[test]
    fn cel_limits_the_name_length() {
        let mut long = object(json!({}));
        long["metadata"]["name"] = json!("x".repeat(41));
        assert_eq!(
            errors(&long, None),
            ["metadata.name must be at most 40 characters (children append suffixes)"]
        );
    }

    /// Every field an example sets must survive a typed round trip (no misspelled or unknown
    /// field silently pruned by the API server) and the example must pass the CEL rules.
    #[test]
    fn examples_are_valid_plangens() {
        let dir = root().join("examples");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
            for doc in docs {
                let typed: Plangen = serde_json::from_value(doc.clone())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let back = serde_json::to_value(&typed).unwrap();
                assert!(
                    crate::controller::is_subset(&doc["spec"], &back["spec"]),
                    "{}: a field is unknown to the CRD",
                    path.display()
                );
                assert_eq!(
                    errors(&doc, None),
                    Vec::<String>::new(),
                    "{}",
                    path.display()
                );
                seen += 1;
            }
        }
        assert!(seen >= 2, "expected the minimal and production examples");
    }

    #[test]
    fn the_subset_check_catches_unknown_fields() {
        let doc = json!({"gateway": {"replcias": 3}});
        let typed: PlangenSpec = serde_json::from_value(doc.clone()).unwrap();
        assert!(!crate::controller::is_subset(
            &doc,
            &serde_json::to_value(typed).unwrap()
        ));
    }
}
