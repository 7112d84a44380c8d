use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Secret, Service as KubeService};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::json;

use super::*;
use crate::crd::{AutoscalingSpec, ExternalDatastore, IngressSpec, PlangenSpec};
use crate::secrets;

fn plangen(spec: PlangenSpec) -> Plangen {
    let mut p = Plangen::new("demo", spec);
    p.metadata.namespace = Some("team".into());
    p.metadata.uid = Some("uid-1".into());
    p
}

fn inputs(p: &Plangen) -> Inputs {
    Inputs {
        secrets: secrets::ensure(p, "demo", &SecretData::new()),
        external: ExternalValues::default(),
    }
}

fn render_ok(p: &Plangen) -> Vec<Child> {
    render(p, &inputs(p)).unwrap()
}

fn find<T: serde::de::DeserializeOwned>(children: &[Child], kind: Kind, name: &str) -> T {
    children
        .iter()
        .find(|c| c.kind == kind && c.name == name)
        .unwrap_or_else(|| panic!("{kind:?} {name} not rendered"))
        .typed()
        .unwrap()
}

fn names(children: &[Child]) -> Vec<(Kind, &str)> {
    children.iter().map(|c| (c.kind, c.name.as_str())).collect()
}

fn env_of(d: &Deployment) -> BTreeMap<String, Value> {
    d.spec.template.spec.as_ref().unwrap().containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), serde_json::to_value(e).unwrap()))
        .collect()
}

#[test]
fn default_spec_renders_the_whole_platform() {
    let c = render_ok(&plangen(PlangenSpec::default()));
    use Kind::*;
    assert_eq!(
        names(&c),
        [
            (Secret, "demo-mongodb"),
            (Secret, "demo-postgres"),
            (Secret, "demo-redis"),
            (Secret, "demo-tokens"),
            (Secret, "demo-connections"),
            (Service, "demo-postgres"),
            (Service, "demo-mongodb"),
            (Service, "demo-redis"),
            (Service, "demo-gateway"),
            (Service, "demo-auth"),
            (Service, "demo-template"),
            (Service, "demo-plan"),
            (Service, "demo-frontend"),
            (StatefulSet, "demo-postgres"),
            (StatefulSet, "demo-mongodb"),
            (StatefulSet, "demo-redis"),
            (Deployment, "demo-gateway"),
            (Deployment, "demo-auth"),
            (Deployment, "demo-template"),
            (Deployment, "demo-plan"),
            (Deployment, "demo-frontend"),
            (NetworkPolicy, "demo-postgres"),
            (NetworkPolicy, "demo-mongodb"),
            (NetworkPolicy, "demo-redis"),
        ]
    );
}

#[test]
fn every_child_has_labels_namespace_and_a_controller_owner_reference() {
    for c in render_ok(&plangen(PlangenSpec::default())) {
        let m = &c.object["metadata"];
        assert_eq!(m["namespace"], "team", "{}", c.name);
        assert_eq!(m["labels"][LABEL_INSTANCE], "demo");
        assert_eq!(m["labels"][LABEL_MANAGED_BY], "plangen-operator");
        assert_eq!(
            m["ownerReferences"],
            json!([{"apiVersion": "plangen.io/v1alpha1", "kind": "Plangen", "name": "demo",
                    "uid": "uid-1", "controller": true, "blockOwnerDeletion": true}])
        );
    }
}

#[test]
fn without_a_uid_there_is_no_owner_reference() {
    let mut p = plangen(PlangenSpec::default());
    p.metadata.uid = None;
    assert!(
        render_ok(&p)
            .iter()
            .all(|c| c.object["metadata"].get("ownerReferences").is_none())
    );
}

/// Every manifest survives a round trip through its typed k8s-openapi struct: no misspelled
/// or misplaced field (which the API server would reject or silently drop).
#[test]
fn every_manifest_round_trips_through_its_typed_struct() {
    let mut spec = PlangenSpec::default();
    spec.gateway.ingress = Some(IngressSpec {
        class_name: Some("nginx".into()),
        host: "plan.example.com".into(),
        tls_secret_name: Some("tls".into()),
        annotations: BTreeMap::from([("a".into(), "b".into())]),
    });
    spec.gateway.component.autoscaling = Some(AutoscalingSpec {
        min_replicas: 2,
        max_replicas: 5,
        target_cpu_utilization_percentage: 70,
    });
    spec.auth.component.replicas = 3;
    for c in render_ok(&plangen(spec)) {
        let back = match c.kind {
            Kind::Secret => serde_json::to_value(c.typed::<Secret>().unwrap()),
            Kind::Service => serde_json::to_value(c.typed::<KubeService>().unwrap()),
            Kind::StatefulSet => serde_json::to_value(c.typed::<StatefulSet>().unwrap()),
            Kind::Deployment => serde_json::to_value(c.typed::<Deployment>().unwrap()),
            Kind::PodDisruptionBudget => {
                serde_json::to_value(c.typed::<PodDisruptionBudget>().unwrap())
            }
            Kind::HorizontalPodAutoscaler => {
                serde_json::to_value(c.typed::<HorizontalPodAutoscaler>().unwrap())
            }
            Kind::Ingress => serde_json::to_value(c.typed::<Ingress>().unwrap()),
            Kind::NetworkPolicy => serde_json::to_value(c.typed::<NetworkPolicy>().unwrap()),
        }
        .unwrap();
        assert!(
            crate::controller::is_subset(&c.object, &back),
            "{:?} {} has a field its type does not know",
            c.kind,
            c.name
        );
    }
}

#[test]
fn gateway_deployment_is_exact() {
    let c = render_ok(&plangen(PlangenSpec::default()));
    let d: Deployment = find(&c, Kind::Deployment, "demo-gateway");
    let spec = &d.spec;
    assert_eq!(spec.replicas, Some(1));
    let sel = spec.selector.match_labels.clone().unwrap();
    assert_eq!(
        sel,
        BTreeMap::from([
            (LABEL_NAME.to_string(), "plangen".to_string()),
            (LABEL_INSTANCE.to_string(), "demo".to_string()),
            (LABEL_COMPONENT.to_string(), "gateway".to_string()),
        ])
    );
    let strategy = spec
        .strategy
        .as_ref()
        .unwrap()
        .rolling_update
        .as_ref()
        .unwrap();
    assert_eq!(
        serde_json::to_value(&strategy.max_unavailable).unwrap(),
        json!(0)
    );
    let tmpl_labels = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    assert!(
        sel.iter().all(|(k, v)| tmpl_labels.get(k) == Some(v)),
        "selector matches the pods"
    );
    let pod = spec.template.spec.as_ref().unwrap();
    let ctr = &pod.containers[0];
    assert_eq!(
        ctr.image.as_deref(),
        Some(format!("ghcr.io/plangen/plangen:{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(ctr.args, Some(vec!["gateway".to_string()]));
    assert_eq!(ctr.ports.as_ref().unwrap()[0].container_port, 3000);
    let probe_path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .path
            .clone()
            .unwrap()
    };
    assert_eq!(probe_path(&ctr.liveness_probe), "/healthz");
    assert_eq!(probe_path(&ctr.readiness_probe), "/readyz");
    assert_eq!(probe_path(&ctr.startup_probe), "/healthz");
    let sc = ctr.security_context.as_ref().unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop,
        Some(vec!["ALL".to_string()])
    );
    assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(pod.automount_service_account_token, Some(false));
    // One replica: nothing to spread, nothing to budget.
    assert!(pod.affinity.is_none() && pod.topology_spread_constraints.is_none());
    assert!(!c.iter().any(|c| c.kind == Kind::PodDisruptionBudget));
    let ann = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .clone()
        .unwrap();
    assert_eq!(ann[CHECKSUM_ANNOTATION].len(), 64);

    let env = env_of(&d);
    assert_eq!(
        env.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "ACCESS_TOKEN_SECRET",
            "ALLOWED_ORIGINS",
            "AUTH",
            "PLAN",
            "PORT",
            "RATE_LIMIT_MAX_REQUESTS",
            "RATE_LIMIT_WINDOW_MS",
            "REDIS_HOST",
            "REDIS_PASSWORD",
            "REDIS_PORT",
            "RUST_LOG",
            "TEMPLATE",
            "TRUST_FORWARDED_FOR",
        ]
    );
    assert_eq!(env["PORT"]["value"], "3000");
    assert_eq!(env["AUTH"]["value"], "http://demo-auth:3001");
    assert_eq!(env["PLAN"]["value"], "http://demo-plan:3003");
    assert_eq!(env["TEMPLATE"]["value"], "http://demo-template:3002");
    assert_eq!(env["RATE_LIMIT_MAX_REQUESTS"]["value"], "100");
    assert_eq!(env["RATE_LIMIT_WINDOW_MS"]["value"], "60000");
    // No Ingress: the gateway's peer is the client; auth has the gateway in front.
    assert_eq!(env["TRUST_FORWARDED_FOR"]["value"], "0");
    assert_eq!(
        env["ACCESS_TOKEN_SECRET"]["valueFrom"],
        json!({"secretKeyRef": {"name": "demo-tokens", "key": "access-token-secret"}})
    );
    assert_eq!(
        env["REDIS_PASSWORD"]["valueFrom"],
        json!({"secretKeyRef": {"name": "demo-connections", "key": "redis-password"}})
    );

    let svc: KubeService = find(&c, Kind::Service, "demo-gateway");
    let s = svc.spec.unwrap();
    assert_eq!(s.selector.unwrap(), sel);
    assert_eq!(s.ports.as_ref().unwrap()[0].port, 3000);
}

#[test]
fn each_service_gets_its_subcommand_port_and_environment() {
    let c = render_ok(&plangen(PlangenSpec::default()));
    for (svc, port) in [
        ("auth", 3001),
        ("template", 3002),
        ("plan", 3003),
        ("frontend", 5173),
    ] {
        let d: Deployment = find(&c, Kind::Deployment, &format!("demo-{svc}"));
        let ctr = &d.spec.template.spec.as_ref().unwrap().containers[0];
        assert_eq!(ctr.args, Some(vec![svc.to_string()]));
        assert_eq!(ctr.ports.as_ref().unwrap()[0].container_port, port);
        assert_eq!(env_of(&d)["PORT"]["value"], json!(port.to_string()));
    }
    let auth: Deployment = find(&c, Kind::Deployment, "demo-auth");
    let env = env_of(&auth);
    assert_eq!(env["ACCESS_TOKEN_EXP"]["value"], "15m");
    assert_eq!(env["REFRESH_TOKEN_EXP"]["value"], "7d");
    assert_eq!(env["REFRESH_TOKEN_REUSE_GRACE"]["value"], "30s");
    assert_eq!(env["TRUST_FORWARDED_FOR"]["value"], "1");
    assert_eq!(
        env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"],
        "auth-database-url"
    );
    assert_eq!(
        env["REFRESH_TOKEN_SECRET"]["valueFrom"]["secretKeyRef"]["name"],
        "demo-tokens"
    );
    let init = auth
        .spec
        .template
        .spec
        .as_ref()
        .unwrap()
        .init_containers
        .clone()
        .unwrap();
    assert_eq!(init[0].name, "migrate");
    assert_eq!(init[0].args, Some(vec!["migrate".to_string()]));
    assert_eq!(
        init[0].env,
        auth.spec.template.spec.as_ref().unwrap().containers[0].env
    );

    let plan = env_of(&find(&c, Kind::Deployment, "demo-plan"));
    assert_eq!(plan["DATABASE_COLLECTION"]["value"], "plans");
    assert_eq!(plan["DATABASE_NAME"]["value"], "plangen");
    assert_eq!(plan["TEMPLATE"]["value"], "http://demo-template:3002");
    assert_eq!(
        plan["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"],
        "mongodb-url"
    );
    let template = env_of(&find(&c, Kind::Deployment, "demo-template"));
    assert_eq!(template["DATABASE_COLLECTION"]["value"], "templates");
    assert!(!template.contains_key("TEMPLATE"));
    let frontend = env_of(&find(&c, Kind::Deployment, "demo-frontend"));
    assert!(!frontend.contains_key("DATABASE_URL"));
}

#[test]
fn user_env_overrides_and_extends() {
    let mut spec = PlangenSpec::default();
    spec.plan.env = vec![
        serde_json::from_value(json!({"name": "RUST_LOG", "value": "debug"})).unwrap(),
        serde_json::from_value(json!({"name": "EXTRA", "value": "1"})).unwrap(),
    ];
    let env = env_of(&find(
        &render_ok(&plangen(spec)),
        Kind::Deployment,
        "demo-plan",
    ));
    assert_eq!(env["RUST_LOG"]["value"], "debug");
    assert_eq!(env["EXTRA"]["value"], "1");
}

#[test]
fn connection_secret_holds_ready_made_urls() {
    let p = plangen(PlangenSpec::default());
    let i = inputs(&p);
    let c = render(&p, &i).unwrap();
    let s: Secret = find(&c, Kind::Secret, "demo-connections");
    let data: BTreeMap<String, String> = s
        .data
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8(v.0).unwrap()))
        .collect();
    let pg = &i.secrets["demo-postgres"]["password"];
    assert_eq!(
        data["auth-database-url"],
        format!("postgres://plangen:{pg}@demo-postgres.team.svc.cluster.local:5432/plangen")
    );
    let mongo_pw = &i.secrets["demo-mongodb"]["password"];
    assert_eq!(
        data["mongodb-url"],
        format!(
            "mongodb://plangen:{mongo_pw}@demo-mongodb-0.demo-mongodb.team.svc.cluster.local:27017,\
             demo-mongodb-1.demo-mongodb.team.svc.cluster.local:27017,\
             demo-mongodb-2.demo-mongodb.team.svc.cluster.local:27017/plangen?replicaSet=rs0&authSource=admin&w=majority"
        )
    );
    assert_eq!(data["redis-host"], "demo-redis.team.svc.cluster.local");
    assert_eq!(data["redis-port"], "6379");
    assert_eq!(
        &data["redis-password"],
        &i.secrets["demo-redis"]["password"]
    );
}

#[test]
fn a_secret_change_rolls_only_the_pods_that_use_it() {
    let p = plangen(PlangenSpec::default());
    let mut i = inputs(&p);
    let checksum = |c: &[Child], svc: &str| {
        let d: Deployment = find(c, Kind::Deployment, &format!("demo-{svc}"));
        d.spec.template.metadata.unwrap().annotations.unwrap()[CHECKSUM_ANNOTATION].clone()
    };
    let before = render(&p, &i).unwrap();
    assert_eq!(before, render(&p, &i).unwrap(), "render is deterministic");
    i.secrets
        .get_mut("demo-postgres")
        .unwrap()
        .insert("password".into(), "rotated".into());
    let after = render(&p, &i).unwrap();
    assert_ne!(checksum(&before, "auth"), checksum(&after, "auth"));
    assert_eq!(checksum(&before, "plan"), checksum(&after, "plan"));
    assert_eq!(checksum(&before, "gateway"), checksum(&after, "gateway"));
}

#[test]
fn replicas_above_one_add_a_pdb_and_spread() {
    let mut spec = PlangenSpec::default();
    spec.template.replicas = 3;
    let c = render_ok(&plangen(spec));
    let d: Deployment = find(&c, Kind::Deployment, "demo-template");
    let pod = d.spec.template.spec.unwrap();
    let anti = pod.affinity.unwrap().pod_anti_affinity.unwrap();
    assert_eq!(
        anti.preferred_during_scheduling_ignored_during_execution
            .unwrap()[0]
            .pod_affinity_term
            .topology_key,
        "kubernetes.io/hostname"
    );
    assert_eq!(
        pod.topology_spread_constraints.unwrap()[0].topology_key,
        "topology.kubernetes.io/zone"
    );
    let pdb: PodDisruptionBudget = find(&c, Kind::PodDisruptionBudget, "demo-template");
    let pdb = pdb.spec.unwrap();
    assert_eq!(serde_json::to_value(pdb.max_unavailable).unwrap(), json!(1));
    assert_eq!(
        pdb.selector.unwrap().match_labels.unwrap()[LABEL_COMPONENT],
        "template"
    );
    assert_eq!(
        c.iter()
            .filter(|c| c.kind == Kind::PodDisruptionBudget)
            .count(),
        1
    );
}

#[test]
fn autoscaling_adds_an_hpa_and_leaves_replicas_to_it() {
    let mut spec = PlangenSpec::default();
    spec.gateway.component.autoscaling = Some(AutoscalingSpec {
        min_replicas: 2,
        max_replicas: 6,
        target_cpu_utilization_percentage: 60,
    });
    let c = render_ok(&plangen(spec));
    let d: Deployment = find(&c, Kind::Deployment, "demo-gateway");
    assert_eq!(d.spec.replicas, None);
    let hpa: HorizontalPodAutoscaler = find(&c, Kind::HorizontalPodAutoscaler, "demo-gateway");
    let s = hpa.spec;
    assert_eq!((s.min_replicas, s.max_replicas), (Some(2), 6));
    assert_eq!(s.scale_target_ref.name, "demo-gateway");
    assert_eq!(
        s.metrics.unwrap()[0]
            .resource
            .as_ref()
            .unwrap()
            .target
            .average_utilization,
        Some(60)
    );
    assert!(
        c.iter()
            .any(|c| c.kind == Kind::PodDisruptionBudget && c.name == "demo-gateway")
    );
}

#[test]
fn switched_off_components_and_external_datastores_are_not_rendered() {
    let mut spec = PlangenSpec::default();
    spec.frontend.enabled = false;
    spec.postgres.managed = None;
    spec.postgres.external = Some(ExternalDatastore {
        secret_name: "pg".into(),
        key: "url".into(),
    });
    spec.gateway.ingress = Some(IngressSpec {
        class_name: None,
        host: "plan.example.com".into(),
        tls_secret_name: None,
        annotations: BTreeMap::new(),
    });
    let p = plangen(spec);
    let mut i = inputs(&p);
    assert_eq!(
        render(&p, &i),
        Err(RenderError::MissingExternal("postgres"))
    );
    i.external.postgres_url = Some("postgres://u:p@db:5432/x".into());
    let c = render(&p, &i).unwrap();
    assert!(
        !c.iter()
            .any(|c| c.name.contains("frontend") || c.name == "demo-postgres")
    );
    let ing: Ingress = find(&c, Kind::Ingress, "demo");
    let paths = ing.spec.unwrap().rules.unwrap()[0]
        .http
        .clone()
        .unwrap()
        .paths;
    assert_eq!(paths.len(), 1);
    assert_eq!(paths[0].path.as_deref(), Some("/api"));
    let s: Secret = find(&c, Kind::Secret, "demo-connections");
    assert_eq!(
        s.data.unwrap()["auth-database-url"].0,
        b"postgres://u:p@db:5432/x"
    );
    // With an Ingress and no explicit origins, CORS allows the public origin.
    let env = env_of(&find(&c, Kind::Deployment, "demo-gateway"));
    assert_eq!(env["ALLOWED_ORIGINS"]["value"], "http://plan.example.com");
    assert_eq!(public_url(&p).as_deref(), Some("http://plan.example.com"));
}

#[test]
fn behind_an_ingress_the_gateway_trusts_one_proxy_and_auth_two() {
    let mut spec = PlangenSpec::default();
    spec.gateway.ingress = Some(IngressSpec {
        class_name: None,
        host: "plan.example.com".into(),
        tls_secret_name: None,
        annotations: BTreeMap::new(),
    });
    let c = render_ok(&plangen(spec));
    for (svc, hops) in [("gateway", "1"), ("auth", "2")] {
        let d: Deployment = find(&c, Kind::Deployment, &format!("demo-{svc}"));
        assert_eq!(env_of(&d)["TRUST_FORWARDED_FOR"]["value"], hops, "{svc}");
    }
}

#[test]
fn ingress_routes_api_to_gateway_and_the_rest_to_the_spa() {
    let mut spec = PlangenSpec::default();
    spec.gateway.ingress = Some(IngressSpec {
        class_name: Some("nginx".into()),
        host: "plan.example.com".into(),
        tls_secret_name: Some("plan-tls".into()),
        annotations: BTreeMap::from([("cert-manager.io/cluster-issuer".into(), "le".into())]),
    });
    let p = plangen(spec);
    let c = render_ok(&p);
    let ing: Ingress = find(&c, Kind::Ingress, "demo");
    assert_eq!(
        ing.metadata.annotations.unwrap()["cert-manager.io/cluster-issuer"],
        "le"
    );
    let s = ing.spec.unwrap();
    assert_eq!(s.ingress_class_name.as_deref(), Some("nginx"));
    assert_eq!(s.tls.unwrap()[0].secret_name.as_deref(), Some("plan-tls"));
    let paths = s.rules.unwrap()[0].http.clone().unwrap().paths;
    let routes: Vec<(String, String, i32)> = paths
        .iter()
        .map(|p| {
            let svc = p.backend.service.clone().unwrap();
            (p.path.clone().unwrap(), svc.name, 0)
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("/api".into(), "demo-gateway".into(), 0),
            ("/".into(), "demo-frontend".into(), 0)
        ]
    );
    assert_eq!(public_url(&p).as_deref(), Some("https://plan.example.com"));
}

#[test]
fn network_policies_admit_only_the_users_of_each_datastore() {
    let c = render_ok(&plangen(PlangenSpec::default()));
    let peers = |name: &str| -> Vec<String> {
        let np: NetworkPolicy = find(&c, Kind::NetworkPolicy, name);
        let spec = np.spec.unwrap();
        assert_eq!(spec.policy_types, Some(vec!["Ingress".to_string()]));
        spec.ingress.unwrap()[0]
            .from
            .iter()
            .flatten()
            .map(|p| p.pod_selector.clone().unwrap().match_labels.unwrap()[LABEL_COMPONENT].clone())
            .collect()
    };
    assert_eq!(peers("demo-postgres"), ["auth"]);
    assert_eq!(peers("demo-mongodb"), ["template", "plan", "mongodb"]);
    assert_eq!(
        peers("demo-redis"),
        ["gateway", "auth", "template", "plan", "frontend"]
    );
}

#[test]
fn mongodb_is_a_replica_set_with_stable_dns() {
    let c = render_ok(&plangen(PlangenSpec::default()));
    let sts: StatefulSet = find(&c, Kind::StatefulSet, "demo-mongodb");
    let s = sts.spec;
    assert_eq!(s.replicas, Some(3));
    assert_eq!(s.service_name.as_deref(), Some("demo-mongodb"));
    let pod = s.template.spec.unwrap();
    let mongod = &pod.containers[0];
    assert_eq!(
        mongod.command.as_ref().unwrap()[..3],
        ["mongod", "--replSet", "rs0"]
    );
    assert_eq!(pod.containers[1].name, "rs-init");
    let script = pod.containers[1].command.as_ref().unwrap()[2].clone();
    assert!(
        !script.contains("$MONGO_PASSWORD"),
        "the password is read from process.env, never expanded into argv"
    );
    let members = pod.containers[1]
        .env
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.name == "RS_MEMBERS")
        .unwrap();
    assert_eq!(members.value.as_deref().unwrap().split(',').count(), 3);
    assert_eq!(
        s.volume_claim_templates.unwrap()[0]
            .spec
            .as_ref()
            .unwrap()
            .resources
            .as_ref()
            .unwrap()
            .requests
            .as_ref()
            .unwrap()["storage"]
            .0,
        "1Gi"
    );
    let svc: KubeService = find(&c, Kind::Service, "demo-mongodb");
    let svc = svc.spec.unwrap();
    assert_eq!(svc.cluster_ip.as_deref(), Some("None"));
    assert_eq!(svc.publish_not_ready_addresses, Some(true));
    // No password on any command line.
    let text = serde_json::to_string(
        &c.iter()
            .find(|c| c.kind == Kind::StatefulSet && c.name == "demo-mongodb")
            .unwrap()
            .object,
    )
    .unwrap();
    let i = inputs(&plangen(PlangenSpec::default()));
    assert!(!text.contains(&i.secrets["demo-mongodb"]["password"]));
}

#[test]
fn storage_class_and_pvc_retention_are_set() {
    let mut spec = PlangenSpec::default();
    spec.postgres
        .managed
        .as_mut()
        .unwrap()
        .storage
        .storage_class_name = Some("fast".into());
    let c = render_ok(&plangen(spec));
    let sts: StatefulSet = find(&c, Kind::StatefulSet, "demo-postgres");
    let s = sts.spec;
    assert_eq!(s.replicas, Some(1));
    assert_eq!(
        s.volume_claim_templates.unwrap()[0]
            .spec
            .as_ref()
            .unwrap()
            .storage_class_name
            .as_deref(),
        Some("fast")
    );
    assert_eq!(
        s.persistent_volume_claim_retention_policy
            .unwrap()
            .when_deleted
            .as_deref(),
        Some("Delete")
    );
    let pod = s.template.spec.unwrap();
    assert_eq!(pod.security_context.unwrap().run_as_user, Some(70));
    assert_eq!(
        pod.containers[0].image.as_deref(),
        Some(Datastore::Postgres.default_image())
    );
}

#[test]
fn secret_data_is_base64_of_the_values() {
    let p = plangen(PlangenSpec::default());
    let i = inputs(&p);
    let c = render(&p, &i).unwrap();
    let s = c.iter().find(|c| c.name == "demo-tokens").unwrap();
    let encoded = s.object["data"]["access-token-secret"].as_str().unwrap();
    let decoded: k8s_openapi::ByteString = serde_json::from_value(json!(encoded)).unwrap();
    assert_eq!(
        decoded.0,
        i.secrets["demo-tokens"]["access-token-secret"].as_bytes()
    );
}

#[test]
fn pod_template_overrides_are_applied() {
    let mut spec = PlangenSpec::default();
    spec.frontend.pod_template = serde_json::from_value(json!({
        "labels": {"team": "web", LABEL_COMPONENT: "hijack"},
        "annotations": {"a": "b"},
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "k", "operator": "Exists"}],
        "affinity": {"nodeAffinity": {}},
        "securityContext": {"runAsUser": 1234, "runAsNonRoot": true},
    }))
    .unwrap();
    spec.frontend.replicas = 0;
    let d: Deployment = find(
        &render_ok(&plangen(spec)),
        Kind::Deployment,
        "demo-frontend",
    );
    assert_eq!(d.spec.replicas, Some(0));
    let meta = d.spec.template.metadata.unwrap();
    let labels = meta.labels.unwrap();
    assert_eq!(labels["team"], "web");
    assert_eq!(
        labels[LABEL_COMPONENT], "frontend",
        "the operator's labels win"
    );
    assert_eq!(meta.annotations.unwrap()["a"], "b");
    let pod = d.spec.template.spec.unwrap();
    assert_eq!(pod.node_selector.unwrap()["disk"], "ssd");
    assert_eq!(pod.tolerations.unwrap()[0].key.as_deref(), Some("k"));
    assert!(pod.affinity.unwrap().node_affinity.is_some());
    assert_eq!(pod.security_context.unwrap().run_as_user, Some(1234));
}

#[test]
fn image_pull_settings_apply_to_every_service() {
    let mut spec = PlangenSpec::default();
    spec.image.repository = "registry.local/plangen".into();
    spec.image.tag = "sha256:abc".into();
    spec.image.pull_policy = crate::crd::PullPolicy::Always;
    spec.image.pull_secrets = vec!["creds".into()];
    for c in render_ok(&plangen(spec))
        .iter()
        .filter(|c| c.kind == Kind::Deployment)
    {
        let d: Deployment = c.typed().unwrap();
        let pod = d.spec.template.spec.unwrap();
        assert_eq!(
            pod.containers[0].image.as_deref(),
            Some("registry.local/plangen@sha256:abc")
        );
        assert_eq!(
            pod.containers[0].image_pull_policy.as_deref(),
            Some("Always")
        );
        assert_eq!(pod.image_pull_secrets.unwrap()[0].name, "creds");
    }
}

/// The MongoDB membership step, run in Node.js (the same JavaScript mongosh runs): one change
/// per call, existing members keep their ids and settings, removals before additions.
#[test]
fn mongo_membership_moves_one_member_at_a_time_towards_the_wanted_hosts() {
    let cases = r#"
const h = (i) => `demo-mongodb-${i}.demo-mongodb.ns.svc.cluster.local:27017`;
const m = (id, i, extra) => Object.assign({ _id: id, host: h(i) }, extra || {});
const out = [];
// In line: nothing to do.
out.push(nextMembers([m(0, 0), m(1, 1), m(2, 2)], [h(0), h(1), h(2)]));
// 3 -> 5: one member at a time, next free id.
let step = nextMembers([m(0, 0), m(1, 1, { priority: 2 }), m(2, 2)], [h(0), h(1), h(2), h(3), h(4)]);
out.push(step);
out.push(nextMembers(step, [h(0), h(1), h(2), h(3), h(4)]));
// 5 -> 3: one removal at a time; ids and settings of the others kept.
out.push(nextMembers([m(0, 0), m(1, 1), m(2, 2), m(7, 3), m(8, 4)], [h(0), h(1), h(2)]));
console.log(JSON.stringify(out));
"#;
    let script = format!("{}\n{cases}", crate::render::MONGO_NEXT_MEMBERS_JS);
    let output = std::process::Command::new("node")
        .args(["-e", &script])
        .output()
        .expect("Node.js runs the replica-set membership script (it is on every machine that builds the SPA)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    let host = |i: u32| format!("demo-mongodb-{i}.demo-mongodb.ns.svc.cluster.local:27017");
    let hosts = |v: &Value| -> Vec<(i64, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["_id"].as_i64().unwrap(),
                    m["host"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(out[0], Value::Null, "nothing to change");
    assert_eq!(
        hosts(&out[1]),
        [(0, host(0)), (1, host(1)), (2, host(2)), (3, host(3))]
    );
    assert_eq!(out[1][1]["priority"], 2, "existing settings kept");
    assert_eq!(hosts(&out[2]).len(), 5);
    assert_eq!(hosts(&out[2])[4], (4, host(4)));
    assert_eq!(
        hosts(&out[3]),
        [(0, host(0)), (1, host(1)), (2, host(2)), (8, host(4))],
        "the first member no longer wanted goes, the rest keep their ids"
    );
}

#[test]
fn the_mongodb_sidecar_gets_the_membership_script_and_the_wanted_hosts() {
    let mut spec = PlangenSpec::default();
    spec.mongodb.managed.as_mut().unwrap().members = 5;
    let c = render_ok(&plangen(spec));
    let sts: StatefulSet = find(&c, Kind::StatefulSet, "demo-mongodb");
    let pod = sts.spec.template.spec.unwrap();
    let sidecar = &pod.containers[1];
    assert_eq!(sidecar.name, "rs-init");
    let value = |name: &str| {
        sidecar
            .env
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.value.clone())
            .unwrap_or_default()
    };
    assert_eq!(value("RS_MEMBERS").split(',').count(), 5);
    assert!(value("RS_SYNC").starts_with(crate::render::MONGO_NEXT_MEMBERS_JS));
    assert!(value("RS_SYNC").contains("rs.reconfig(cfg)"));
    let script = sidecar.command.as_ref().unwrap()[2].clone();
    assert!(script.contains(r#"--eval "$RS_SYNC""#), "{script}");
}
