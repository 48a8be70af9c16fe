//! The Kubernetes objects of a workspace, as a pure function of what the lifecycle compiled
//! from its EffectiveWorkspace (a [`ContainerSpec`]) and the runtime's [`KubernetesOptions`].
//!
//! Every workspace has an *owner*: a ConfigMap `<name>-owner` applied first. Every other
//! object of the workspace (Secret, PersistentVolumeClaim, Pod, NetworkPolicy, the image
//! pull Secret) names it in `ownerReferences`, so deleting the owner lets the garbage collector
//! remove the rest. A ConfigMap rather than one of the objects themselves, because none of
//! them lives as long as the workspace: the Pod goes on every stop, the volume on an
//! ephemeral workspace's stop. Pre-build VolumeSnapshots are *not* owned: they belong to
//! the Template and outlive the build workspace that wrote them.
//!
//! There is no Service: a workspace's applications are reached only through Cordium, which
//! connects by the Pod's portforward subresource behind its own credential, and the
//! NetworkPolicy refuses every other connection into the Pod (`network`). A Service would
//! have given every Pod of the cluster a name to reach them by, without a credential. (The
//! podman backend likewise publishes no port.)
//!
//! Nothing here performs input or output; [`crate::KubernetesRuntime`] applies the result.

use crate::options::KubernetesOptions;
use crate::snapshot::{VolumeSnapshot, VolumeSnapshotSource, VolumeSnapshotSpec};
use base64::Engine as _;
use cordium_provisioner::VolumeSource;
use cordium_provisioner::runtime::{
    ContainerSpec, KEEP_ALIVE, Login, ResolvedValue, WorkspaceKey, object_name, registry_host,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, Container, ContainerPort, EnvVar, EnvVarSource, LocalObjectReference,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, Pod,
    PodSecurityContext, PodSpec, ResourceRequirements, SeccompProfile, Secret, SecretKeySelector,
    SecurityContext, TypedLocalObjectReference, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::collections::{BTreeMap, BTreeSet};

/// Where the workspace volume is mounted.
pub const WORKSPACE_DIR: &str = cordium_provisioner::WORKSPACE_DIR;
/// The name of the workspace's container in its Pod.
pub const CONTAINER: &str = "workspace";
/// The user (and group) the container runs as.
pub const USER_ID: i64 = 1000;
/// The workspace user's HOME, on the workspace's volume (sub-path `.home`, so `/workspace/.home`) next to
/// `/workspace`, so it persists as `/workspace` does.
pub const HOME_DIR: &str = "/home/cordium";
/// The label every workspace object carries, valued with the workspace's object name.
pub const WORKSPACE_LABEL: &str = "cordium.dev/workspace";
/// The label naming the installation that made an object ([`KubernetesOptions::installation`]).
pub const INSTALLATION_LABEL: &str = "cordium.dev/installation";

/// The names of one workspace's objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The owner ConfigMap.
    pub owner: String,
    /// The Secret holding the secret-valued environment.
    pub secret: String,
    /// The Secret holding the registry login (`kubernetes.io/dockerconfigjson`).
    pub pull_secret: String,
    /// The PersistentVolumeClaim mounted at `/workspace`.
    pub volume: String,
    /// The Pod.
    pub pod: String,
    /// The Service earlier versions made of the applications. Cordium makes none now
    /// (applications are reached through portforward only, see the [module](self)); starting
    /// or deleting a workspace removes one left behind.
    pub service: String,
}

impl Names {
    /// The names of `key`'s objects: its [object name](WorkspaceKey::object_name), suffixed
    /// for the owner and the Secrets (which allow 253 characters; the Pod, volume, NetworkPolicy
    /// and former Service take the 63-character label itself).
    pub fn of(key: &WorkspaceKey) -> Self {
        let name = key.object_name();
        Self {
            owner: format!("{name}-owner"),
            secret: format!("{name}-env"),
            pull_secret: format!("{name}-pull"),
            volume: name.clone(),
            pod: name.clone(),
            service: name,
        }
    }
}

/// The name of the VolumeSnapshot that holds the lifecycle's snapshot `snapshot`.
pub fn snapshot_name(snapshot: &str) -> String {
    object_name("cdm-snap", snapshot)
}

/// What [`objects`] is built from.
#[derive(Debug, Clone, Copy)]
pub struct ObjectsInput<'a> {
    /// The container the lifecycle compiled from the EffectiveWorkspace.
    pub spec: &'a ContainerSpec,
    /// The runtime's options (namespace, storage class, default size).
    pub options: &'a KubernetesOptions,
    /// The `metadata.uid` of the applied [`owner`], which every object references.
    pub owner_uid: &'a str,
}

/// A workspace's objects, in the order they are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Objects {
    /// The secret-valued environment, when there is any.
    pub secret: Option<Secret>,
    /// The workspace volume.
    pub volume: PersistentVolumeClaim,
    /// The workspace's Pod.
    pub pod: Pod,
    /// The egress policy of the Pod (named as the Pod), applied before it.
    pub network_policy: NetworkPolicy,
}

/// The labels of `key`'s objects: the workspace's, and the installation's when the options
/// name one.
pub fn labels(key: &WorkspaceKey, options: &KubernetesOptions) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "cordium".to_owned(),
        ),
        (
            "app.kubernetes.io/name".to_owned(),
            "cordium-workspace".to_owned(),
        ),
        (WORKSPACE_LABEL.to_owned(), key.object_name()),
    ]);
    if let Some(installation) = &options.installation {
        labels.insert(INSTALLATION_LABEL.to_owned(), installation.clone());
    }
    labels
}

fn metadata(key: &WorkspaceKey, options: &KubernetesOptions, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(options.namespace.clone()),
        labels: Some(labels(key, options)),
        annotations: Some(BTreeMap::from([
            ("cordium.dev/space".to_owned(), key.space.clone()),
            ("cordium.dev/name".to_owned(), key.name.clone()),
        ])),
        ..ObjectMeta::default()
    }
}

fn owned(
    key: &WorkspaceKey,
    options: &KubernetesOptions,
    name: &str,
    owner_uid: &str,
) -> ObjectMeta {
    ObjectMeta {
        owner_references: Some(vec![OwnerReference {
            api_version: "v1".to_owned(),
            kind: "ConfigMap".to_owned(),
            name: Names::of(key).owner,
            uid: owner_uid.to_owned(),
            controller: Some(true),
            block_owner_deletion: None,
        }]),
        ..metadata(key, options, name)
    }
}

/// The owner ConfigMap of `key`'s objects (see the [module docs](self)).
pub fn owner(key: &WorkspaceKey, options: &KubernetesOptions) -> ConfigMap {
    ConfigMap {
        metadata: metadata(key, options, &Names::of(key).owner),
        data: Some(BTreeMap::from([
            ("space".to_owned(), key.space.clone()),
            ("workspace".to_owned(), key.name.clone()),
        ])),
        ..ConfigMap::default()
    }
}

/// The workspace's objects. See the [module docs](self).
pub fn objects(input: &ObjectsInput<'_>) -> Objects {
    let ObjectsInput {
        spec,
        options,
        owner_uid,
    } = *input;
    let names = Names::of(&spec.key);
    let keys = secret_keys(spec);
    let secret = (!keys.is_empty()).then(|| Secret {
        metadata: owned(&spec.key, options, &names.secret, owner_uid),
        type_: Some("Opaque".to_owned()),
        data: Some(
            keys.iter()
                .filter_map(|(&i, key)| match spec.env.get(i) {
                    Some((_, ResolvedValue::Secret(value))) => {
                        Some((key.clone(), ByteString(value.expose().as_bytes().to_vec())))
                    }
                    _ => None,
                })
                .collect(),
        ),
        ..Secret::default()
    });
    Objects {
        secret,
        volume: volume(input, &names),
        pod: pod(input, &names, &keys),
        network_policy: crate::network::network_policy(
            owned(&spec.key, options, &names.pod, owner_uid),
            BTreeMap::from([(WORKSPACE_LABEL.to_owned(), spec.key.object_name())]),
            &spec.egress,
        ),
    }
}

/// The Secret key of each secret-valued variable, by its index in `spec.env`: the variable's
/// name when it is a valid Secret key (`[-._a-zA-Z0-9]+`, not `.` or `..`) not taken yet, else
/// `env-<index>` (suffixed until unique).
fn secret_keys(spec: &ContainerSpec) -> BTreeMap<usize, String> {
    let valid = |name: &str| {
        !name.is_empty()
            && name.len() <= 253
            && name != "."
            && name != ".."
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let mut taken = BTreeSet::new();
    let mut keys = BTreeMap::new();
    for (i, (name, value)) in spec.env.iter().enumerate() {
        if !matches!(value, ResolvedValue::Secret(_)) {
            continue;
        }
        let mut key = if valid(name) && !taken.contains(name) {
            name.clone()
        } else {
            format!("env-{i}")
        };
        let mut n = 0;
        while taken.contains(&key) {
            n += 1;
            key = format!("env-{i}-{n}");
        }
        taken.insert(key.clone());
        keys.insert(i, key);
    }
    keys
}

fn volume(input: &ObjectsInput<'_>, names: &Names) -> PersistentVolumeClaim {
    let ObjectsInput {
        spec,
        options,
        owner_uid,
    } = *input;
    let mib = spec
        .resources
        .storage_mib
        .unwrap_or(options.default_storage_mib);
    let data_source = match (spec.volume, &spec.snapshot) {
        (VolumeSource::FromSnapshot, Some(snapshot)) => Some(TypedLocalObjectReference {
            api_group: Some(VolumeSnapshot::GROUP.to_owned()),
            kind: VolumeSnapshot::KIND.to_owned(),
            name: snapshot_name(snapshot),
        }),
        _ => None,
    };
    PersistentVolumeClaim {
        metadata: owned(&spec.key, options, &names.volume, owner_uid),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            data_source,
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(format!("{mib}Mi")),
                )])),
                limits: None,
            }),
            storage_class_name: options.storage_class.clone(),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}

fn pod(input: &ObjectsInput<'_>, names: &Names, keys: &BTreeMap<usize, String>) -> Pod {
    let ObjectsInput {
        spec,
        options,
        owner_uid,
    } = *input;
    let env = spec
        .env
        .iter()
        .enumerate()
        .map(|(i, (name, value))| match value {
            ResolvedValue::Literal(value) => EnvVar {
                name: name.clone(),
                value: Some(value.clone()),
                value_from: None,
            },
            ResolvedValue::Secret(_) => EnvVar {
                name: name.clone(),
                value: None,
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: names.secret.clone(),
                        key: keys.get(&i).cloned().unwrap_or_default(),
                        optional: Some(false),
                    }),
                    ..EnvVarSource::default()
                }),
            },
        })
        .collect::<Vec<_>>();
    let mut quantities = BTreeMap::new();
    if let Some(millis) = spec.resources.cpu_millis {
        quantities.insert("cpu".to_owned(), Quantity(format!("{millis}m")));
    }
    if let Some(mib) = spec.resources.memory_mib {
        quantities.insert("memory".to_owned(), Quantity(format!("{mib}Mi")));
    }
    let resources = (!quantities.is_empty()).then(|| ResourceRequirements {
        limits: Some(quantities.clone()),
        requests: Some(quantities),
        ..ResourceRequirements::default()
    });
    let ports = unique_ports(spec)
        .map(|port| ContainerPort {
            container_port: i32::from(port),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        })
        .collect::<Vec<_>>();
    // Exactly the compiled set, as with podman.
    let (add, drop) =
        match cordium_provisioner::capabilities(&spec.add_capabilities, &spec.drop_capabilities) {
            cordium_provisioner::Capabilities::Exactly(set) => (set, vec!["ALL".to_owned()]),
            cordium_provisioner::Capabilities::AllBut(dropped) => {
                (vec!["ALL".to_owned()], capabilities(&dropped))
            }
        };
    let mut env = env;
    if !env.iter().any(|e| e.name == "HOME") {
        env.push(EnvVar {
            name: "HOME".to_owned(),
            value: Some(HOME_DIR.to_owned()),
            value_from: None,
        });
    }
    let (mounts, volumes) = mounts_and_volumes(spec, names);
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(spec.image.clone()),
        command: Some(command(spec)),
        env: (!env.is_empty()).then_some(env),
        ports: (!ports.is_empty()).then_some(ports),
        resources,
        working_dir: Some(WORKSPACE_DIR.to_owned()),
        volume_mounts: Some(mounts),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            read_only_root_filesystem: spec.read_only.then_some(true),
            capabilities: Some(Capabilities {
                add: (!add.is_empty()).then_some(add),
                drop: (!drop.is_empty()).then_some(drop),
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    Pod {
        metadata: owned(&spec.key, options, &names.pod, owner_uid),
        spec: Some(PodSpec {
            containers: vec![container],
            restart_policy: Some("Never".to_owned()),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            image_pull_secrets: Some(vec![LocalObjectReference {
                name: names.pull_secret.clone(),
            }]),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(USER_ID),
                run_as_group: Some(USER_ID),
                fs_group: Some(USER_ID),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".to_owned(),
                    localhost_profile: None,
                }),
                ..PodSecurityContext::default()
            }),
            volumes: Some(volumes),
            ..PodSpec::default()
        }),
        status: None,
    }
}

/// The container's mounts and the Pod's volumes: `/workspace` and HOME (sub-path `.home`) on
/// the workspace's claim; with a read-only root, `/tmp` and `/run` as empty directories; each
/// Space Volume (`volumeMounts`) as its claim (`space_volume_name`), `readOnly` honoured.
fn mounts_and_volumes(spec: &ContainerSpec, names: &Names) -> (Vec<VolumeMount>, Vec<Volume>) {
    let mount = |name: &str, path: &str, sub_path: Option<&str>, read_only: bool| VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        sub_path: sub_path.map(str::to_owned),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    };
    let claim = |name: String, claim_name: String| Volume {
        name,
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name,
            read_only: None,
        }),
        ..Volume::default()
    };
    let mut mounts = vec![
        mount("workspace", WORKSPACE_DIR, None, false),
        mount("workspace", HOME_DIR, Some(".home"), false),
    ];
    let mut volumes = vec![claim("workspace".to_owned(), names.volume.clone())];
    if spec.read_only {
        for (name, path) in [("tmp", "/tmp"), ("run", "/run")] {
            mounts.push(mount(name, path, None, false));
            volumes.push(Volume {
                name: name.to_owned(),
                empty_dir: Some(Default::default()),
                ..Volume::default()
            });
        }
    }
    for (i, m) in spec.mounts.iter().enumerate() {
        let name = format!("space-volume-{i}");
        mounts.push(mount(&name, &m.path, None, m.read_only));
        let claim_name =
            cordium_provisioner::runtime::space_volume_name(&spec.key.space, &m.volume);
        volumes.push(claim(name, claim_name));
    }
    (mounts, volumes)
}

/// The container's `command`: `/bin/sh -c` of the entrypoint and the command joined (both are
/// shell commands), of the one that is set, or of [`KEEP_ALIVE`] when neither is. As with
/// podman, the image's own entrypoint does not run: `/bin/sh` replaces it.
pub fn command(spec: &ContainerSpec) -> Vec<String> {
    let script = spec.main_command().unwrap_or_else(|| KEEP_ALIVE.to_owned());
    vec!["/bin/sh".to_owned(), "-c".to_owned(), script]
}

/// Capability names as Kubernetes spells them: upper case, without `CAP_`, each once.
fn capabilities(names: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    names
        .iter()
        .map(|name| {
            let upper = name.trim().to_ascii_uppercase();
            upper.strip_prefix("CAP_").unwrap_or(&upper).to_owned()
        })
        .filter(|name| !name.is_empty() && seen.insert(name.clone()))
        .collect()
}

fn unique_ports(spec: &ContainerSpec) -> impl Iterator<Item = u16> + '_ {
    let mut seen = BTreeSet::new();
    spec.ports
        .iter()
        .map(|port| port.port)
        .filter(move |port| seen.insert(*port))
}

/// The VolumeSnapshot of `key`'s volume that records the lifecycle's snapshot `snapshot`
/// (not owned: it outlives the workspace).
pub fn volume_snapshot(
    key: &WorkspaceKey,
    snapshot: &str,
    options: &KubernetesOptions,
) -> VolumeSnapshot {
    VolumeSnapshot {
        api_version: format!("{}/{}", VolumeSnapshot::GROUP, VolumeSnapshot::VERSION),
        kind: VolumeSnapshot::KIND.to_owned(),
        metadata: metadata(key, options, &snapshot_name(snapshot)),
        spec: VolumeSnapshotSpec {
            source: VolumeSnapshotSource {
                persistent_volume_claim_name: Some(Names::of(key).volume),
                volume_snapshot_content_name: None,
            },
            volume_snapshot_class_name: options.snapshot_class.clone(),
        },
        status: None,
    }
}

/// The registry an image reference is pulled from, as a docker config names it.
pub fn registry_of(image: &str) -> String {
    match registry_host(image) {
        "docker.io" => "https://index.docker.io/v1/".to_owned(),
        host => host.to_owned(),
    }
}

/// The `kubernetes.io/dockerconfigjson` Secret that lets the kubelet pull `image` with
/// `login`; the Pod always names it in `imagePullSecrets` (the kubelet ignores a missing one).
pub fn pull_secret(
    key: &WorkspaceKey,
    image: &str,
    login: &Login,
    options: &KubernetesOptions,
    owner_uid: &str,
) -> Secret {
    let password = login.password.expose();
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{password}", login.username));
    let config = serde_json::json!({
        "auths": {
            registry_of(image): {
                "username": login.username,
                "password": password,
                "auth": auth,
            }
        }
    });
    Secret {
        metadata: owned(key, options, &Names::of(key).pull_secret, owner_uid),
        type_: Some("kubernetes.io/dockerconfigjson".to_owned()),
        data: Some(BTreeMap::from([(
            ".dockerconfigjson".to_owned(),
            ByteString(config.to_string().into_bytes()),
        )])),
        ..Secret::default()
    }
}
