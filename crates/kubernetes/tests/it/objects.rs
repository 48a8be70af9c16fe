//! Golden files of the generated objects (`fixtures/kubernetes/<case>/objects.yaml`), checked
//! three ways: against the golden text, through the k8s-openapi types (every field survives a
//! round trip), and strictly against the real Kubernetes 1.33 JSON Schemas
//! (`kubernetes-validate --strict -k 1.33.0`) or, for the VolumeSnapshot, the CSI
//! external-snapshotter CRD's schema (`check-jsonschema`). The validators come from
//! `scripts/install-test-tools.sh`; a missing one fails the test.
//!
//! To (re)write the goldens: `CORDIUM_BLESS=1 cargo test -p cordium-kubernetes --test it
//! objects`, then read every changed file.

use crate::support::{self, OWNER_UID, PREBUILD, SECRET_VALUES, options, repo};
use base64::Engine as _;
use cordium_kubernetes::objects::{owner, pull_secret, volume_snapshot};
use cordium_kubernetes::{ObjectsInput, VolumeSnapshot, objects};
use cordium_provisioner::runtime::{ContainerSpec, Login, SecretValue};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn json<T: Serialize>(object: &T) -> Value {
    serde_json::to_value(object).expect("serialize")
}

/// Every object of `spec`, in apply order: owner, Secret, PVC, NetworkPolicy, Pod.
fn documents(spec: &ContainerSpec) -> Vec<Value> {
    let options = options();
    let objects = objects(&ObjectsInput {
        spec,
        options: &options,
        owner_uid: OWNER_UID,
    });
    let mut docs = vec![json(&owner(&spec.key, &options))];
    docs.extend(objects.secret.as_ref().map(json));
    docs.push(json(&objects.volume));
    docs.push(json(&objects.network_policy));
    docs.push(json(&objects.pod));
    docs
}

/// Every golden case: its directory name and its documents.
fn cases() -> Vec<(&'static str, Vec<Value>)> {
    let options = options();
    let login = Login {
        username: "robot".to_owned(),
        password: SecretValue::new(SECRET_VALUES[0]),
    };
    let secrets = support::with_secrets();
    let mut with_secrets = documents(&secrets);
    with_secrets.push(json(&pull_secret(
        &secrets.key,
        &secrets.image,
        &login,
        &options,
        OWNER_UID,
    )));
    vec![
        ("persistent", documents(&support::persistent())),
        ("ephemeral", documents(&support::ephemeral())),
        ("with-secrets", with_secrets),
        (
            "with-applications",
            documents(&support::with_applications()),
        ),
        ("prebuilt-restore", documents(&support::prebuilt())),
        (
            "prebuild-snapshot",
            vec![json(&volume_snapshot(
                &support::persistent().key,
                PREBUILD,
                &options,
            ))],
        ),
    ]
}

fn golden(case: &str) -> PathBuf {
    repo()
        .join("fixtures/kubernetes")
        .join(case)
        .join("objects.yaml")
}

fn yaml(docs: &[Value]) -> String {
    docs.iter()
        .map(|doc| serde_saphyr::to_string(doc).expect("yaml"))
        .collect::<Vec<_>>()
        .join("---\n")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (CORDIUM_BLESS=1 writes the goldens)",
            path.display()
        )
    })
}

#[test]
fn generated_objects_match_their_goldens() {
    let bless = std::env::var_os("CORDIUM_BLESS").is_some();
    let mut differ = Vec::new();
    for (case, docs) in cases() {
        let path = golden(case);
        let text = yaml(&docs);
        if bless {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, &text).expect("write golden");
        } else if read(&path) != text {
            differ.push(format!("{case}:\n{text}"));
        }
    }
    assert!(
        differ.is_empty(),
        "objects differ from their goldens (CORDIUM_BLESS=1 rewrites them; review them):\n{}",
        differ.join("\n")
    );
}

/// `doc` deserialized into `T` and serialized again is `doc`: no field is unknown to the
/// k8s-openapi types or mistyped.
fn round_trip<T: Serialize + DeserializeOwned>(doc: &Value) {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{e}: {doc:#}"));
    assert_eq!(
        &json(&typed),
        doc,
        "round trip through {}",
        std::any::type_name::<T>()
    );
}

#[test]
fn goldens_round_trip_through_the_k8s_openapi_types() {
    for (case, _) in cases() {
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&read(&golden(case))).expect("parse golden");
        assert!(!docs.is_empty(), "{case}");
        for doc in &docs {
            match doc["kind"].as_str() {
                Some("ConfigMap") => round_trip::<ConfigMap>(doc),
                Some("Secret") => round_trip::<Secret>(doc),
                Some("PersistentVolumeClaim") => round_trip::<PersistentVolumeClaim>(doc),
                Some("Pod") => round_trip::<Pod>(doc),
                Some("NetworkPolicy") => round_trip::<NetworkPolicy>(doc),
                Some("VolumeSnapshot") => round_trip::<VolumeSnapshot>(doc),
                other => panic!("{case}: unexpected kind {other:?}"),
            }
        }
    }
}

/// Nothing can connect into a workspace's Pod but Cordium (through portforward and exec,
/// which no NetworkPolicy filters): every Pod's policy lists `Ingress` with no rule, and no
/// case, not even one with applications, has a Service that would name its ports.
#[test]
fn nothing_connects_into_a_workspace_but_cordium() {
    let mut pods = 0;
    for (case, docs) in cases() {
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        assert!(!kinds.contains(&"Service"), "{case}: {kinds:?}");
        let Some(pod) = docs.iter().find(|d| d["kind"] == "Pod") else {
            continue;
        };
        pods += 1;
        let policy = docs
            .iter()
            .find(|d| d["kind"] == "NetworkPolicy")
            .unwrap_or_else(|| panic!("{case}: no NetworkPolicy"));
        assert_eq!(
            policy["spec"]["podSelector"]["matchLabels"]
                [cordium_kubernetes::objects::WORKSPACE_LABEL],
            pod["metadata"]["labels"][cordium_kubernetes::objects::WORKSPACE_LABEL],
            "{case}: the policy selects the Pod"
        );
        assert_eq!(
            policy["spec"]["policyTypes"],
            serde_json::json!(["Ingress", "Egress"]),
            "{case}"
        );
        assert_eq!(policy["spec"]["ingress"], serde_json::json!([]), "{case}");
    }
    assert_eq!(pods, 5, "every case with a Pod was checked");
}

#[test]
fn secret_values_appear_only_in_secrets() {
    for (case, docs) in cases() {
        for doc in &docs {
            let text = doc.to_string();
            let kind = doc["kind"].as_str().unwrap_or_default();
            for value in SECRET_VALUES {
                let encoded = base64::engine::general_purpose::STANDARD.encode(value);
                if kind != "Secret" {
                    assert!(
                        !text.contains(value) && !text.contains(&encoded),
                        "{case}: a secret value appears in a {kind}"
                    );
                }
            }
        }
    }
    let options = options();
    let spec = support::with_secrets();
    let objects = objects(&ObjectsInput {
        spec: &spec,
        options: &options,
        owner_uid: OWNER_UID,
    });
    let secret = objects.secret.expect("a Secret");
    let data = secret.data.expect("data");
    assert_eq!(data["API_TOKEN"].0, SECRET_VALUES[0].as_bytes());
    // `DB PASSWORD` is not a valid Secret key: it is stored by position.
    assert_eq!(data["env-2"].0, SECRET_VALUES[1].as_bytes());
    let pod = json(&objects.pod);
    let env = &pod["spec"]["containers"][0]["env"];
    assert_eq!(
        env[0],
        serde_json::json!({"name": "APP_ENV", "value": "dev"})
    );
    assert_eq!(
        env[2],
        serde_json::json!({"name": "DB PASSWORD", "valueFrom": {"secretKeyRef": {
            "key": "env-2", "name": "cdm-secrets-env", "optional": false}}})
    );
}

#[test]
fn secret_keys_never_collide() {
    let mut spec = support::with_secrets();
    spec.env = vec![
        (
            "env-1".to_owned(),
            cordium_provisioner::runtime::ResolvedValue::Secret(SecretValue::new("a")),
        ),
        (
            "not a key".to_owned(),
            cordium_provisioner::runtime::ResolvedValue::Secret(SecretValue::new("b")),
        ),
        (
            "env-1".to_owned(),
            cordium_provisioner::runtime::ResolvedValue::Secret(SecretValue::new("c")),
        ),
    ];
    let options = options();
    let objects = objects(&ObjectsInput {
        spec: &spec,
        options: &options,
        owner_uid: OWNER_UID,
    });
    let data = objects.secret.expect("a Secret").data.expect("data");
    let values: Vec<(&str, &[u8])> = data
        .iter()
        .map(|(k, v)| (k.as_str(), v.0.as_slice()))
        .collect();
    assert_eq!(
        values,
        [
            ("env-1", b"a".as_slice()),
            ("env-1-1", b"b"),
            ("env-2", b"c")
        ]
    );
}

#[test]
fn owned_objects_reference_the_owner_and_snapshots_do_not() {
    for (case, docs) in cases() {
        for doc in &docs {
            let kind = doc["kind"].as_str().unwrap_or_default();
            let refs = &doc["metadata"]["ownerReferences"];
            match kind {
                "ConfigMap" | "VolumeSnapshot" => assert!(refs.is_null(), "{case} {kind}"),
                _ => {
                    assert_eq!(refs[0]["kind"], "ConfigMap", "{case} {kind}");
                    assert_eq!(refs[0]["uid"], OWNER_UID, "{case} {kind}");
                }
            }
        }
    }
}

/// A tool under `.tools/venv/bin`, or a failure saying how to install it.
fn tool(name: &str) -> PathBuf {
    let path = repo().join(".tools/venv/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `scripts/install-test-tools.sh` (installs kubernetes-validate and \
         check-jsonschema into .tools/venv from tests/tools/requirements.txt)",
        path.display()
    );
    path
}

fn output(command: &mut Command) -> (bool, String) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn kubernetes_validate(files: &[PathBuf]) -> (bool, String) {
    output(
        Command::new(tool("kubernetes-validate"))
            .args(["--strict", "-k", "1.33.0"])
            .args(files),
    )
}

#[test]
fn goldens_are_valid_kubernetes_1_33_objects_in_strict_mode() {
    let files: Vec<PathBuf> = cases()
        .iter()
        .filter(|(case, _)| *case != "prebuild-snapshot")
        .map(|(case, _)| golden(case))
        .collect();
    let (ok, text) = kubernetes_validate(&files);
    assert!(ok, "kubernetes-validate rejected the goldens:\n{text}");
    assert!(!text.contains("WARN"), "{text}");
    // Every object was checked against a schema, not skipped.
    let docs: usize = cases()
        .iter()
        .filter(|(case, _)| *case != "prebuild-snapshot")
        .map(|(_, docs)| docs.len())
        .sum();
    assert_eq!(
        text.matches(" passed for resource ").count(),
        docs,
        "{text}"
    );
}

#[test]
fn the_strict_schemas_reject_an_unknown_field() {
    let mut pod = documents(&support::persistent())
        .into_iter()
        .find(|doc| doc["kind"] == "Pod")
        .expect("a Pod");
    pod["spec"]["containers"][0]["imagee"] = Value::from("typo");
    let dir = tempdir();
    let file = dir.join("pod.yaml");
    std::fs::write(&file, yaml(&[pod])).expect("write");
    let (ok, text) = kubernetes_validate(&[file]);
    assert!(!ok && text.contains("imagee"), "{text}");
}

#[test]
fn the_volume_snapshot_is_valid_against_its_crd_schema() {
    let schema = repo().join("fixtures/kubernetes/volumesnapshot-v1.schema.json");
    let check = |file: &Path| {
        output(
            Command::new(tool("check-jsonschema"))
                .arg("--schemafile")
                .arg(&schema)
                .arg(file),
        )
    };
    let (ok, text) = check(&golden("prebuild-snapshot"));
    assert!(ok, "check-jsonschema rejected the VolumeSnapshot:\n{text}");
    // And the schema is strict: an unknown field fails.
    let mut snapshot = cases()
        .into_iter()
        .find(|(case, _)| *case == "prebuild-snapshot")
        .expect("case")
        .1
        .remove(0);
    snapshot["spec"]["source"]["pvc"] = Value::from("typo");
    let dir = tempdir();
    let file = dir.join("snapshot.yaml");
    std::fs::write(&file, yaml(&[snapshot])).expect("write");
    let (ok, text) = check(&file);
    assert!(!ok, "{text}");
}

/// A fresh directory under the target directory's tmp.
fn tempdir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "kubernetes-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}
