//! Representative workspaces, shared by the tests.

use cordium_kubernetes::KubernetesOptions;
use cordium_provisioner::VolumeSource;
use cordium_provisioner::plan::{Egress, EgressAction, EgressDefault, EgressRule, parse_cidr};
use cordium_provisioner::runtime::{
    ContainerSpec, Port, ResolvedValue, Resources, SecretValue, WorkspaceKey,
};
use std::path::{Path, PathBuf};

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The uid the mock API server gives owners, and the goldens carry.
pub(crate) const OWNER_UID: &str = "0b7d5d0e-5c1f-4c55-9a3e-5a1c2f0e7d11";

/// The secret values the workspaces carry: none may appear in a Pod.
pub(crate) const SECRET_VALUES: &[&str] = &["s3cr3t-t0ken-value", "hunter2-database-password"];

/// The installation the test runtime labels its objects with.
pub(crate) const INSTALLATION: &str = "5f0c2a9e7b614d3c8e21a0b4c6d8f013";

/// The runtime options the goldens use.
pub(crate) fn options() -> KubernetesOptions {
    KubernetesOptions {
        namespace: "cordium".to_owned(),
        storage_class: Some("fast-ssd".to_owned()),
        snapshot_class: Some("csi-snapclass".to_owned()),
        installation: Some(INSTALLATION.to_owned()),
        ..KubernetesOptions::default()
    }
}

fn literal(key: &str, value: &str) -> (String, ResolvedValue) {
    (key.to_owned(), ResolvedValue::Literal(value.to_owned()))
}

fn secret(key: &str, value: &str) -> (String, ResolvedValue) {
    (
        key.to_owned(),
        ResolvedValue::Secret(SecretValue::new(value)),
    )
}

/// A persistent workspace: limits, a capability, literal environment, a fresh volume, a
/// read-only root and a read-only Space Volume.
pub(crate) fn persistent() -> ContainerSpec {
    ContainerSpec {
        key: WorkspaceKey::new("team.alice", "k3x9"),
        image: "ghcr.io/cordium/devbox:1.4".to_owned(),
        entrypoint: None,
        cmd: None,
        env: vec![
            literal("EDITOR", "vim"),
            literal("GREETING", "it's \"quoted\""),
        ],
        resources: Resources {
            cpu_millis: Some(2000),
            memory_mib: Some(4096),
            storage_mib: Some(20480),
        },
        add_capabilities: vec!["CAP_SYS_PTRACE".to_owned()],
        drop_capabilities: vec!["NET_RAW".to_owned()],
        ports: Vec::new(),
        volume: VolumeSource::New,
        snapshot: None,
        read_only: true,
        mounts: vec![cordium_provisioner::Mount {
            volume: "datasets".to_owned(),
            path: "/data".to_owned(),
            read_only: true,
        }],
        egress: egress(),
        recipe: Default::default(),
    }
}

/// Egress rules: an internal registry allowed on 443, one host of it denied, public
/// destinations allowed (the default).
fn egress() -> Egress {
    let cidrs = |list: &[&str]| {
        list.iter()
            .map(|c| parse_cidr(c).expect("a CIDR"))
            .collect::<Vec<_>>()
    };
    Egress {
        rules: vec![
            EgressRule {
                cidrs: cidrs(&["10.20.0.0/16", "fd00:20::/32"]),
                action: EgressAction::Allow,
                ports: vec![443],
            },
            EgressRule {
                cidrs: cidrs(&["10.20.9.9"]),
                action: EgressAction::Deny,
                ports: Vec::new(),
            },
        ],
        default: EgressDefault::AllowPublic,
    }
}

/// An ephemeral workspace: no limits (the default storage), an entrypoint and a command.
pub(crate) fn ephemeral() -> ContainerSpec {
    ContainerSpec {
        key: WorkspaceKey::new("team.bob", "scratch"),
        image: "docker.io/library/alpine:3.20".to_owned(),
        entrypoint: Some("/sbin/tini --".to_owned()),
        cmd: Some("sleep infinity".to_owned()),
        env: Vec::new(),
        resources: Resources::default(),
        add_capabilities: Vec::new(),
        drop_capabilities: Vec::new(),
        ports: Vec::new(),
        volume: VolumeSource::New,
        snapshot: None,
        read_only: false,
        mounts: Vec::new(),
        egress: Default::default(),
        recipe: Default::default(),
    }
}

/// A workspace with secret-valued environment (one key not valid as a Secret key).
pub(crate) fn with_secrets() -> ContainerSpec {
    ContainerSpec {
        key: WorkspaceKey::new("team.alice", "secrets"),
        env: vec![
            literal("APP_ENV", "dev"),
            secret("API_TOKEN", SECRET_VALUES[0]),
            secret("DB PASSWORD", SECRET_VALUES[1]),
        ],
        ..persistent()
    }
}

/// A workspace with applications (two share a port; one name is not a DNS label).
pub(crate) fn with_applications() -> ContainerSpec {
    ContainerSpec {
        key: WorkspaceKey::new("team.alice", "apps"),
        cmd: Some("npm run dev".to_owned()),
        ports: vec![
            Port {
                name: "web".to_owned(),
                port: 8080,
            },
            Port {
                name: "API Docs".to_owned(),
                port: 3000,
            },
            Port {
                name: "web-again".to_owned(),
                port: 8080,
            },
        ],
        ..persistent()
    }
}

/// A workspace restored from a Template's pre-build.
pub(crate) fn prebuilt() -> ContainerSpec {
    ContainerSpec {
        key: WorkspaceKey::new("team.alice", "from-build"),
        volume: VolumeSource::FromSnapshot,
        snapshot: Some(PREBUILD.to_owned()),
        ..persistent()
    }
}

/// The pre-build snapshot the lifecycle names.
pub(crate) const PREBUILD: &str = "tmpl-7f3a-build-2";
