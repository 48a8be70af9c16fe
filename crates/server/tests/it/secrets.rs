//! Secrets are write-only: a value put in appears in no response, no error and no database
//! column in clear; an SSH_KEY UserSecret shows only its OpenSSH public key.

use crate::{Backend, Env, contains_bytes, fails, hex, meta, ok, r, space};
use base64::Engine as _;
use cordium_server::crypto::SecretBox;
use cordium_server::pb;
use cordium_spec::Kind;
use prost::Message as _;
use sqlx::Row as _;
use tonic::Code;

crate::on_both_backends!(
    secret_values_never_come_back,
    ssh_keys_show_only_the_public_key
);

fn text(value: &str) -> Option<pb::SecretData> {
    Some(pb::SecretData {
        value: Some(pb::secret_data::Value::Text(value.into())),
    })
}

fn bytes(value: &[u8]) -> Option<pb::SecretData> {
    Some(pb::SecretData {
        value: Some(pb::secret_data::Value::Bytes(value.to_vec())),
    })
}

/// Asserts that no value of `values` occurs in `bytes`.
#[track_caller]
fn clean(what: &str, bytes: &[u8], values: &[Vec<u8>]) {
    for v in values {
        assert!(
            !contains_bytes(bytes, v),
            "{what} contains the secret value {:?}",
            String::from_utf8_lossy(v)
        );
    }
}

#[track_caller]
fn clean_status(what: &str, status: &tonic::Status, values: &[Vec<u8>]) {
    clean(
        &format!("{what}: the error message"),
        status.message().as_bytes(),
        values,
    );
    clean(
        &format!("{what}: the error details"),
        status.details(),
        values,
    );
    clean(
        &format!("{what}: the error metadata"),
        format!("{:?}", status.metadata()).as_bytes(),
        values,
    );
}

async fn secret_values_never_come_back(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let tag = crate::random_suffix();
    let values: Vec<Vec<u8>> = vec![
        format!("pw-one-{tag}").into_bytes(),
        format!("pw-two-{tag}").into_bytes(),
        format!("user-three-{tag}").into_bytes(),
        format!("user-four-{tag}").into_bytes(),
        format!("\u{0}binary-five-{tag}\u{ff}").into_bytes(),
        format!("rejected-six-{tag}").into_bytes(),
    ];
    let text_of = |i: usize| String::from_utf8(values[i].clone()).expect("utf-8");
    ok(
        "CreateSpace",
        alice.create_space(space("vault.alice", None)).await,
    );

    let mut responses: Vec<(String, Vec<u8>)> = Vec::new();
    let created = ok(
        "CreateSecret",
        alice
            .create_secret(pb::Secret {
                data: text(&text_of(0)),
                ..crate::secret("vault.alice", "db", "")
            })
            .await,
    );
    assert!(created.data.is_none(), "CreateSecret returns no data");
    responses.push(("CreateSecret".into(), created.encode_to_vec()));
    let updated = ok(
        "UpdateSecret",
        alice
            .update_secret(pb::Secret {
                data: text(&text_of(1)),
                ..created.clone()
            })
            .await,
    );
    assert!(updated.data.is_none());
    responses.push(("UpdateSecret".into(), updated.encode_to_vec()));
    let bin = ok(
        "CreateSecret bytes",
        alice
            .create_secret(pb::Secret {
                data: bytes(&values[4]),
                ..crate::secret("vault.alice", "bin", "")
            })
            .await,
    );
    responses.push(("CreateSecret bytes".into(), bin.encode_to_vec()));
    let got = ok("GetSecret", alice.get_secret(r("vault.alice", "db")).await);
    assert!(got.data.is_none());
    responses.push(("GetSecret".into(), got.encode_to_vec()));
    for req in [
        pb::ListRequest::default(),
        pb::ListRequest {
            space: "vault.alice".into(),
            template: String::new(),
            ..Default::default()
        },
    ] {
        let list = ok("ListSecret", alice.list_secret(req).await);
        assert_eq!(list.items.len(), 2);
        assert!(list.items.iter().all(|s| s.data.is_none()));
        responses.push(("ListSecret".into(), list.encode_to_vec()));
    }
    let user = ok(
        "CreateUserSecret",
        alice
            .create_user_secret(pb::UserSecret {
                metadata: meta("npm"),
                r#type: pb::UserSecretType::Default as i32,
                data: text(&text_of(2)),
                status: None,
            })
            .await,
    );
    assert!(user.data.is_none());
    responses.push(("CreateUserSecret".into(), user.encode_to_vec()));
    let user2 = ok(
        "UpdateUserSecret",
        alice
            .update_user_secret(pb::UserSecret {
                data: text(&text_of(3)),
                ..user.clone()
            })
            .await,
    );
    assert!(user2.data.is_none());
    responses.push(("UpdateUserSecret".into(), user2.encode_to_vec()));
    responses.push((
        "GetUserSecret".into(),
        ok("GetUserSecret", alice.get_user_secret(r("", "npm")).await).encode_to_vec(),
    ));
    responses.push((
        "ListUserSecret".into(),
        ok(
            "ListUserSecret",
            alice.list_user_secret(pb::ListRequest::default()).await,
        )
        .encode_to_vec(),
    ));
    // A workspace that uses the secret, compiled: the reference, not the value.
    let ws = ok("CreateWorkspace", alice.create_workspace(crate::workspace("vault.alice", "", Some(serde_json::json!({"runtime": {"envVars": [{"key": "DB", "fromSecret": "db"}]}})))).await);
    let compiled = ok(
        "CompileWorkspace",
        alice
            .compile_workspace(pb::CompileWorkspaceRequest {
                target: Some(pb::compile_workspace_request::Target::Name(crate::name_of(
                    &ws.metadata,
                ))),
                ..Default::default()
            })
            .await,
    );
    assert!(compiled.encode_to_vec().windows(2).any(|w| w == b"db"));
    responses.push(("CompileWorkspace".into(), compiled.encode_to_vec()));
    for (what, bytes) in &responses {
        clean(what, bytes, &values);
    }

    // Errors around secret values do not echo them.
    let errors = [
        (
            "CreateSecret again",
            alice
                .create_secret(pb::Secret {
                    data: text(&text_of(5)),
                    ..crate::secret("vault.alice", "db", "")
                })
                .await
                .map(|_| ()),
        ),
        (
            "CreateSecret bad name",
            alice
                .create_secret(pb::Secret {
                    data: text(&text_of(5)),
                    ..crate::secret("vault.alice", "Bad Name", "")
                })
                .await
                .map(|_| ()),
        ),
        (
            "CreateSecret no Space",
            alice
                .create_secret(pb::Secret {
                    data: text(&text_of(5)),
                    ..crate::secret("nope.alice", "db", "")
                })
                .await
                .map(|_| ()),
        ),
        (
            "UpdateSecret stale",
            alice
                .update_secret(pb::Secret {
                    data: text(&text_of(5)),
                    ..created.clone()
                })
                .await
                .map(|_| ()),
        ),
        (
            "UpdateSecret missing",
            alice
                .update_secret(pb::Secret {
                    data: text(&text_of(5)),
                    ..crate::secret("vault.alice", "gone", "")
                })
                .await
                .map(|_| ()),
        ),
        (
            "CreateUserSecret SSH_KEY with data",
            alice
                .create_user_secret(pb::UserSecret {
                    metadata: meta("k"),
                    r#type: pb::UserSecretType::SshKey as i32,
                    data: text(&text_of(5)),
                    status: None,
                })
                .await
                .map(|_| ()),
        ),
        (
            "CreateUserSecret again",
            alice
                .create_user_secret(pb::UserSecret {
                    metadata: meta("npm"),
                    r#type: pb::UserSecretType::Default as i32,
                    data: text(&text_of(5)),
                    status: None,
                })
                .await
                .map(|_| ()),
        ),
        (
            "UpdateUserSecret stale",
            alice
                .update_user_secret(pb::UserSecret {
                    data: text(&text_of(5)),
                    ..user.clone()
                })
                .await
                .map(|_| ()),
        ),
        (
            "CreateSecret as bob",
            env.bob
                .clone()
                .create_secret(pb::Secret {
                    data: text(&text_of(5)),
                    ..crate::secret("vault.alice", "db2", "")
                })
                .await
                .map(|_| ()),
        ),
    ];
    for (what, result) in errors {
        let status = result.expect_err(what);
        assert_ne!(
            status.code(),
            Code::Internal,
            "{what}: {}",
            status.message()
        );
        clean_status(what, &status, &values);
    }

    // At rest: the values are sealed, under the data dir's key, bound to their identity.
    let key = SecretBox::load_or_create(&env.data.dir.path().join("secret.key")).expect("key");
    let store = &env.server.store;
    let sealed = store
        .secret_ciphertext(Kind::Secret, "vault.alice", "db")
        .await
        .expect("ct")
        .expect("stored");
    assert_eq!(
        key.open(&sealed, "Secret/vault.alice/db").expect("opens"),
        values[1],
        "the latest value is stored"
    );
    assert!(
        key.open(&sealed, "Secret/vault.alice/bin").is_err(),
        "bound to its identity"
    );
    let sealed = store
        .secret_ciphertext(Kind::UserSecret, "alice", "npm")
        .await
        .expect("ct")
        .expect("stored");
    assert_eq!(
        key.open(&sealed, "UserSecret/alice/npm").expect("opens"),
        values[3]
    );

    // No column of any table holds a value in clear.
    let pool = env.data.raw_pool().await;
    match backend {
        Backend::Sqlite => {
            // Checkpoint nothing: the WAL and the main file are both read as they are.
            let dir = env.data.dir.path();
            let mut scanned = 0;
            for file in [
                "cordium.db",
                "cordium.db-wal",
                "cordium.db-shm",
                "cordium.db-journal",
            ] {
                if let Ok(bytes) = std::fs::read(dir.join(file)) {
                    scanned += bytes.len();
                    clean(file, &bytes, &values);
                }
            }
            assert!(scanned > 0, "the SQLite files were read");
            // Every table, every column, through SQLite too (as text and as hex).
            let tables = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&pool)
                .await
                .expect("tables");
            for t in tables {
                let table: String = t.try_get(0).expect("name");
                let columns = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{table}')"
                )))
                .fetch_all(&pool)
                .await
                .expect("columns");
                for c in columns {
                    let column: String = c.try_get(0).expect("column");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT hex(\"{column}\") FROM \"{table}\""
                    )))
                    .fetch_all(&pool)
                    .await
                    .expect("rows");
                    for row in rows {
                        let cell: Option<String> = row.try_get(0).expect("cell");
                        let cell = cell.unwrap_or_default().to_lowercase();
                        for v in &values {
                            assert!(
                                !cell.contains(&hex(v)),
                                "{table}.{column} holds a secret value in clear"
                            );
                        }
                    }
                }
            }
        }
        Backend::Postgres => {
            let tables = sqlx::query("SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")
                .fetch_all(&pool)
                .await
                .expect("tables");
            assert!(tables.len() >= 4, "the store's tables are there");
            for t in tables {
                let table: String = t.try_get(0).expect("name");
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT t::text FROM {table} t"
                )))
                .fetch_all(&pool)
                .await
                .expect("rows");
                for row in rows {
                    let text: String = row.try_get(0).expect("row as text");
                    for v in &values {
                        // bytea prints as hex; text columns print as themselves.
                        assert!(
                            !text.contains(&hex(v)),
                            "{table} holds a secret value in clear (as bytea)"
                        );
                        assert!(
                            !contains_bytes(text.as_bytes(), v),
                            "{table} holds a secret value in clear (as text)"
                        );
                    }
                }
            }
        }
    }

    // Deleting the secrets deletes the sealed values.
    ok(
        "DeleteSecret",
        alice.delete_secret(r("vault.alice", "db")).await,
    );
    ok(
        "DeleteUserSecret",
        alice.delete_user_secret(r("", "npm")).await,
    );
    assert!(
        store
            .secret_ciphertext(Kind::Secret, "vault.alice", "db")
            .await
            .expect("ct")
            .is_none()
    );
    assert!(
        store
            .secret_ciphertext(Kind::UserSecret, "alice", "npm")
            .await
            .expect("ct")
            .is_none()
    );
    fails(
        "GetSecret after delete",
        alice.get_secret(r("vault.alice", "db")).await,
        &[Code::NotFound],
    );
}

async fn ssh_keys_show_only_the_public_key(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let created = ok(
        "CreateUserSecret SSH_KEY",
        alice
            .create_user_secret(pb::UserSecret {
                metadata: meta("git-key"),
                r#type: pb::UserSecretType::SshKey as i32,
                data: None,
                status: None,
            })
            .await,
    );
    assert_eq!(created.r#type(), pb::UserSecretType::SshKey);
    assert!(created.data.is_none());
    let status = created.status.clone().expect("status");
    assert_eq!(status.owner, "alice");

    // `ecdsa-sha2-nistp256 <base64 blob> alice@cordium`, the blob in SSH wire format.
    let parts: Vec<&str> = status.ssh_public_key.split(' ').collect();
    assert_eq!(parts.len(), 3, "{}", status.ssh_public_key);
    assert_eq!(
        (parts[0], parts[2]),
        ("ecdsa-sha2-nistp256", "alice@cordium")
    );
    let blob = base64::engine::general_purpose::STANDARD
        .decode(parts[1])
        .expect("base64");
    let mut fields = Vec::new();
    let mut rest = blob.as_slice();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().expect("length")) as usize;
        fields.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
    }
    assert_eq!(fields.len(), 3);
    assert_eq!(fields[0], b"ecdsa-sha2-nistp256");
    assert_eq!(fields[1], b"nistp256");
    assert_eq!(
        (fields[2].len(), fields[2][0]),
        (65, 4),
        "an uncompressed P-256 point"
    );

    // The sealed private key matches the public key, and appears in no response.
    let private = unsealed(&env.server, env.data.dir.path(), "alice", "git-key").await;
    let secret = p256::SecretKey::from_slice(&private).expect("a P-256 scalar");
    assert_eq!(
        secret.public_key().to_sec1_bytes().as_ref(),
        fields[2].as_slice(),
        "the public key is the sealed key's"
    );
    let got = ok(
        "GetUserSecret",
        alice.get_user_secret(r("", "git-key")).await,
    );
    assert_eq!(
        got.status.as_ref().expect("status").ssh_public_key,
        status.ssh_public_key
    );
    let listed = ok(
        "ListUserSecret",
        alice.list_user_secret(pb::ListRequest::default()).await,
    );
    let updated = ok(
        "UpdateUserSecret (metadata only)",
        alice
            .update_user_secret(pb::UserSecret {
                data: None,
                ..got.clone()
            })
            .await,
    );
    assert_eq!(
        updated.status.as_ref().expect("status").ssh_public_key,
        status.ssh_public_key,
        "an update keeps the key"
    );
    for (what, bytes) in [
        ("Create", created.encode_to_vec()),
        ("Get", got.encode_to_vec()),
        ("List", listed.encode_to_vec()),
        ("Update", updated.encode_to_vec()),
    ] {
        assert!(
            !contains_bytes(&bytes, &private),
            "{what} holds the private key"
        );
    }
    // Two keys are two keys.
    let other = ok(
        "CreateUserSecret SSH_KEY 2",
        alice
            .create_user_secret(pb::UserSecret {
                metadata: meta("other-key"),
                r#type: pb::UserSecretType::SshKey as i32,
                data: None,
                status: None,
            })
            .await,
    );
    assert_ne!(
        other.status.expect("status").ssh_public_key,
        status.ssh_public_key
    );
}

/// The value of `owner`'s UserSecret `name`, read from the store and opened with the data
/// directory's key, as the server does.
pub(super) async fn unsealed(
    server: &crate::Server,
    data_dir: &std::path::Path,
    owner: &str,
    name: &str,
) -> Vec<u8> {
    let key = SecretBox::load_or_create(&data_dir.join("secret.key")).expect("key");
    let sealed = server
        .store
        .secret_ciphertext(Kind::UserSecret, owner, name)
        .await
        .expect("ct")
        .expect("stored");
    key.open(
        &sealed,
        &cordium_server::crypto::sealing_identity(Kind::UserSecret, owner, name),
    )
    .expect("opens")
}
