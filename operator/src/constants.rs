//! Facts about the Plangen services that the operator encodes (ports, subcommands, env names).

/// The field manager of every server-side apply and the `managed-by` label value.
pub const MANAGER: &str = "plangen-operator";
/// Finalizer on every `Plangen`, so deletion is observed and reported.
pub const FINALIZER: &str = "plangen.io/cleanup";
/// Pod annotation with a hash of the config and secrets a pod uses; a change rolls the pods.
pub const CHECKSUM_ANNOTATION: &str = "plangen.io/config-checksum";

pub const LABEL_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
pub const APP_NAME: &str = "plangen";

/// The services of the `plangen` image: one image, one subcommand each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Gateway,
    Auth,
    Template,
    Plan,
    Frontend,
}

impl Service {
    pub const ALL: [Service; 5] = [
        Service::Gateway,
        Service::Auth,
        Service::Template,
        Service::Plan,
        Service::Frontend,
    ];

    /// Subcommand of the `plangen` binary, component label and name suffix.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Auth => "auth",
            Self::Template => "template",
            Self::Plan => "plan",
            Self::Frontend => "frontend",
        }
    }

    pub fn port(self) -> i32 {
        match self {
            Self::Gateway => 3000,
            Self::Auth => 3001,
            Self::Template => 3002,
            Self::Plan => 3003,
            Self::Frontend => 5173,
        }
    }

    /// Which datastores the service talks to (drives env, checksums and NetworkPolicies).
    pub fn uses(self, ds: Datastore) -> bool {
        match ds {
            Datastore::Redis => true,
            Datastore::Postgres => self == Self::Auth,
            Datastore::Mongodb => matches!(self, Self::Template | Self::Plan),
        }
    }
}

/// The datastores a platform needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Datastore {
    Postgres,
    Mongodb,
    Redis,
}

impl Datastore {
    pub const ALL: [Datastore; 3] = [Datastore::Postgres, Datastore::Mongodb, Datastore::Redis];

    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Mongodb => "mongodb",
            Self::Redis => "redis",
        }
    }

    pub fn port(self) -> i32 {
        match self {
            Self::Postgres => 5432,
            Self::Mongodb => 27017,
            Self::Redis => 6379,
        }
    }

    /// Pinned official images; overridable per Plangen.
    pub fn default_image(self) -> &'static str {
        match self {
            Self::Postgres => "docker.io/library/postgres:17.6-alpine",
            Self::Mongodb => "docker.io/library/mongo:8.0",
            Self::Redis => "docker.io/library/redis:8.2-alpine",
        }
    }

    /// The uid the official image runs its server as (for `runAsUser`/`fsGroup`).
    pub fn uid(self) -> i64 {
        match self {
            Self::Postgres => 70,
            Self::Mongodb => 999,
            Self::Redis => 999,
        }
    }

    /// Where the data volume is mounted.
    pub fn data_path(self) -> &'static str {
        match self {
            Self::Postgres => "/var/lib/postgresql/data",
            Self::Mongodb => "/data/db",
            Self::Redis => "/data",
        }
    }
}

/// Database user the operator creates in managed PostgreSQL and MongoDB.
pub const DB_USER: &str = "plangen";
/// Database name in PostgreSQL and MongoDB.
pub const DB_NAME: &str = "plangen";
/// Replica-set name the services' MongoDB URL requires.
pub const MONGO_REPLICA_SET: &str = "rs0";
