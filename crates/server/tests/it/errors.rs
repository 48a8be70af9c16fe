//! Errors: bad input is `InvalidArgument` with a `google.rpc.BadRequest` naming the field, never
//! `Internal`; calls without a valid token are `Unauthenticated`.

use crate::{Auth, Backend, Env, meta, ok, r, space, spec, template, workspace};
use cordium_server::pb;
use cordium_server::pb::main_service_client::MainServiceClient;
use cordium_server::pb::management_service_client::ManagementServiceClient;
use cordium_spec::Kind;
use serde_json::json;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

crate::on_both_backends!(
    bad_input_names_the_field,
    odd_specs_are_never_internal,
    undecodable_requests_are_invalid_argument,
    non_finite_numbers_are_refused,
    thousands_of_mistakes_make_a_short_answer,
    calls_without_a_valid_token_are_unauthenticated,
    substitution_and_run_variables_are_bounded,
    long_names_make_short_answers,
    exec_requests_are_checked_before_they_run,
    small_mistakes_are_invalid_argument_or_not_found
);

/// Expects `InvalidArgument` with a BadRequest field violation on `field`.
#[track_caller]
fn bad_field<T: std::fmt::Debug>(
    what: &str,
    result: Result<tonic::Response<T>, Status>,
    field: &str,
) {
    let status = match result {
        Ok(r) => panic!(
            "{what}: expected InvalidArgument on `{field}`, got success: {:?}",
            r.into_inner()
        ),
        Err(s) => s,
    };
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{what}: {}",
        status.message()
    );
    let details = status.get_error_details();
    let Some(bad_request) = details.bad_request() else {
        panic!(
            "{what}: no google.rpc.BadRequest in the status ({})",
            status.message()
        );
    };
    let fields: Vec<&str> = bad_request
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert!(
        fields.contains(&field),
        "{what}: expected a violation on `{field}`, got {fields:?} ({})",
        status.message()
    );
    assert!(
        bad_request
            .field_violations
            .iter()
            .all(|v| !v.description.is_empty()),
        "{what}: every violation says why"
    );
}

async fn bad_input_names_the_field(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let mut admin = env.management(&env.admin_token);
    ok(
        "CreateSpace",
        alice.create_space(space("err.alice", None)).await,
    );
    let typo = json!({"runtime": {"enVars": []}});

    // Specs, validated as `cordium validate` does.
    bad_field(
        "CreateWorkspace typo",
        alice
            .create_workspace(workspace("err.alice", "", Some(typo.clone())))
            .await,
        "spec.runtime.enVars",
    );
    bad_field(
        "CreateWorkspace type",
        alice
            .create_workspace(workspace(
                "err.alice",
                "",
                Some(json!({"isEphemeral": "yes"})),
            ))
            .await,
        "spec.isEphemeral",
    );
    bad_field(
        "CreateSpace typo",
        alice
            .create_space(space("typo.alice", Some(typo.clone())))
            .await,
        "spec.runtime.enVars",
    );
    bad_field(
        "CreateTemplate typo",
        alice
            .create_template(template("err.alice", "tmpl", Some(typo.clone())))
            .await,
        "spec.runtime.enVars",
    );
    let ws = ok(
        "CreateWorkspace",
        alice
            .create_workspace(workspace("err.alice", "", None))
            .await,
    );
    bad_field(
        "UpdateWorkspace typo",
        alice
            .update_workspace(pb::Workspace {
                spec: Some(spec(typo.clone())),
                ..ws.clone()
            })
            .await,
        "spec.runtime.enVars",
    );
    let s = ok("GetSpace", alice.get_space(r("", "err.alice")).await);
    bad_field(
        "UpdateSpace typo",
        alice
            .update_space(pb::Space {
                spec: Some(spec(typo.clone())),
                ..s
            })
            .await,
        "spec.runtime.enVars",
    );
    let t = ok(
        "GetTemplate",
        alice.get_template(r("err.alice", "default")).await,
    );
    bad_field(
        "UpdateTemplate typo",
        alice
            .update_template(pb::Template {
                spec: Some(spec(typo.clone())),
                ..t
            })
            .await,
        "spec.runtime.enVars",
    );
    bad_field(
        "UpdateUserConfig typo",
        alice
            .update_user_config(pb::UserConfig {
                metadata: None,
                spec: Some(spec(json!({"envVar": []}))),
            })
            .await,
        "spec.envVar",
    );
    bad_field(
        "UpdateClusterConfig type",
        admin
            .update_cluster_config(pb::ClusterConfig {
                metadata: None,
                spec: Some(spec(
                    json!({"workspace": {"limit": {"maxPerUser": "many"}}}),
                )),
            })
            .await,
        "spec.workspace.limit.maxPerUser",
    );
    bad_field(
        "CreateGitProvider typo",
        alice
            .create_git_provider(pb::GitProvider {
                spec: Some(spec(json!({"githib": {}}))),
                ..crate::git_provider("err.alice", "gh")
            })
            .await,
        "spec.githib",
    );
    let inline = alice
        .compile_workspace(pb::CompileWorkspaceRequest {
            target: Some(pb::compile_workspace_request::Target::Spec(spec(
                typo.clone(),
            ))),
            ..Default::default()
        })
        .await;
    // Nothing is stored: the refusal is of the request's spec.
    if let Err(status) = &inline {
        assert!(
            status.message().starts_with("the spec is invalid"),
            "{}",
            status.message()
        );
    }
    bad_field(
        "CompileWorkspace inline typo",
        inline,
        "spec.runtime.enVars",
    );
    // Layers that do not compile together: a reference to a Secret that does not exist.
    let missing = ok(
        "CreateWorkspace",
        alice
            .create_workspace(workspace(
                "err.alice",
                "",
                Some(json!({"runtime": {"envVars": [{"key": "A", "fromSecret": "nope"}]}})),
            ))
            .await,
    );
    let compiled = alice
        .compile_workspace(pb::CompileWorkspaceRequest {
            target: Some(pb::compile_workspace_request::Target::Name(crate::name_of(
                &missing.metadata,
            ))),
            ..Default::default()
        })
        .await;
    bad_field(
        "CompileWorkspace missing secret",
        compiled,
        "spec.runtime.envVars[0].fromSecret",
    );

    // Names, scopes and values the API itself requires.
    bad_field(
        "CreateSpace without an owner part",
        alice.create_space(space("nodot", None)).await,
        "metadata.name",
    );
    bad_field(
        "CreateSpace of another user",
        alice.create_space(space("x.bob", None)).await,
        "metadata.name",
    );
    bad_field(
        "CreateSpace bad name",
        alice.create_space(space("Bad_Name.alice", None)).await,
        "metadata.name",
    );
    bad_field(
        "CreateSpace empty first part",
        alice.create_space(space(".alice", None)).await,
        "metadata.name",
    );
    bad_field(
        "CreateTemplate without a name",
        alice.create_template(template("err.alice", "", None)).await,
        "metadata.name",
    );
    bad_field(
        "CreateTemplate bad name",
        alice
            .create_template(template("err.alice", "No Spaces", None))
            .await,
        "metadata.name",
    );
    bad_field(
        "CreateTemplate without a Space",
        alice.create_template(template("", "tmpl", None)).await,
        "status.space",
    );
    bad_field(
        "CreateTemplate unknown GitProvider",
        alice
            .create_template(template(
                "err.alice",
                "tmpl",
                Some(json!({"gitProvider": "nope"})),
            ))
            .await,
        "spec.gitProvider",
    );
    bad_field(
        "CreateSecret without a value",
        alice
            .create_secret(pb::Secret {
                data: None,
                ..crate::secret("err.alice", "db", "x")
            })
            .await,
        "data",
    );
    bad_field(
        "CreateSecret bad name",
        alice
            .create_secret(crate::secret("err.alice", "DB!", "x"))
            .await,
        "metadata.name",
    );
    bad_field(
        "CreateGitProvider bad name",
        alice
            .create_git_provider(crate::git_provider("err.alice", "G"))
            .await,
        "metadata.name",
    );
    bad_field(
        "CreateUserSecret without a value",
        alice
            .create_user_secret(pb::UserSecret {
                metadata: meta("tok"),
                r#type: pb::UserSecretType::Default as i32,
                data: None,
                status: None,
            })
            .await,
        "data",
    );
    bad_field(
        "CreateUserSecret SSH_KEY with a value",
        alice
            .create_user_secret(pb::UserSecret {
                metadata: meta("key"),
                r#type: pb::UserSecretType::SshKey as i32,
                data: Some(pb::SecretData {
                    value: Some(pb::secret_data::Value::Text("mine".into())),
                }),
                status: None,
            })
            .await,
        "data",
    );
    bad_field(
        "CreateUserSecret without a name",
        alice
            .create_user_secret(pb::UserSecret {
                metadata: None,
                r#type: pb::UserSecretType::SshKey as i32,
                data: None,
                status: None,
            })
            .await,
        "metadata.name",
    );
    let key = ok(
        "CreateUserSecret SSH_KEY",
        alice
            .create_user_secret(pb::UserSecret {
                metadata: meta("key"),
                r#type: pb::UserSecretType::SshKey as i32,
                data: None,
                status: None,
            })
            .await,
    );
    bad_field(
        "UpdateUserSecret SSH_KEY with a value",
        alice
            .update_user_secret(pb::UserSecret {
                data: Some(pb::SecretData {
                    value: Some(pb::secret_data::Value::Bytes(vec![1, 2, 3])),
                }),
                ..key
            })
            .await,
        "data",
    );
    bad_field(
        "BuildTemplate without a Space",
        alice
            .build_template(pb::BuildTemplateRequest {
                name: "default".into(),
                tags: vec![],
            })
            .await,
        "name",
    );
    bad_field(
        "BuildTemplate bad tags",
        alice
            .build_template(pb::BuildTemplateRequest {
                name: "err.alice/default".into(),
                tags: vec!["x".into()],
            })
            .await,
        "tags",
    );
    bad_field(
        "CompileWorkspace without a target",
        alice
            .compile_workspace(pb::CompileWorkspaceRequest::default())
            .await,
        "name",
    );
    bad_field(
        "CompileWorkspace bad template reference",
        alice
            .compile_workspace(pb::CompileWorkspaceRequest {
                target: Some(pb::compile_workspace_request::Target::Spec(spec(json!({})))),
                template: "justaname".into(),
                ..Default::default()
            })
            .await,
        "template",
    );
}

/// Odd but well-formed specs: whatever the answer, it is never `Internal` or `Unknown`.
async fn odd_specs_are_never_internal(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    // Each level of JSON is two protobuf messages (Struct, Value): 30 levels parse, under
    // prost's recursion limit of 100.
    let nest =
        |levels: usize| (0..levels).fold(json!({"leaf": 1}), |inner, _| json!({ "deeper": inner }));
    let nested = nest(30);
    let cases = [
        json!({}),
        json!({"runtime": null}),
        json!({"runtime": {"envVars": null}}),
        json!({"runtime": {"envVars": [null]}}),
        json!({"runtime": {"envVars": [{"key": "", "value": ""}]}}),
        json!({"runtime": {"envVars": [{"key": "A\u{0}B", "value": "\u{1F600}"}]}}),
        json!({"runtime": {"envVars": [{"key": "A", "value": 1}]}}),
        json!({"runtime": {"envVars": [{"key": "A", "value": "1", "fromSecret": "x"}]}}),
        json!({"limit": {"cpu": {"millicores": 1.5}}}),
        json!({"limit": {"cpu": {"millicores": -1}}}),
        json!({"limit": {"cpu": {"millicores": 1.0e300}}}),
        json!({"limit": {"cpu": {"millicores": 4_294_967_296_u64}}}),
        json!({"limit": {"cpu": "lots"}}),
        json!({"image": {"registry": {"url": ""}, "dockerfile": {"inline": "FROM x"}}}),
        json!({"image": []}),
        json!({"applications": [{"name": "web", "port": 70000}]}),
        json!({"applications": {"name": "web"}}),
        json!({"vars": [{"name": "1bad", "value": "x"}]}),
        json!({"repository": {"url": "${{ vars.NOPE }}"}}),
        json!({"repository": {"url": "file:///etc/passwd"}}),
        json!({"isEphemeral": null}),
        json!({"kind": "Space"}),
        json!({"": ""}),
        json!({"x".repeat(10_000): true}),
        nested,
    ];
    let mut invalid = 0;
    for case in cases {
        let label = format!("{case}").chars().take(120).collect::<String>();
        for (what, result) in [
            (
                "CreateWorkspace",
                alice
                    .create_workspace(workspace("", "", Some(case.clone())))
                    .await
                    .map(|_| ()),
            ),
            (
                "CompileWorkspace",
                alice
                    .compile_workspace(pb::CompileWorkspaceRequest {
                        target: Some(pb::compile_workspace_request::Target::Spec(spec(
                            case.clone(),
                        ))),
                        ..Default::default()
                    })
                    .await
                    .map(|_| ()),
            ),
            (
                "UpdateUserConfig",
                alice
                    .update_user_config(pb::UserConfig {
                        metadata: None,
                        spec: Some(spec(case.clone())),
                    })
                    .await
                    .map(|_| ()),
            ),
        ] {
            if let Err(status) = result {
                assert!(
                    !matches!(
                        status.code(),
                        Code::Internal | Code::Unknown | Code::Unavailable
                    ),
                    "{what} {label}: {:?}: {}",
                    status.code(),
                    status.message()
                );
                if status.code() == Code::InvalidArgument {
                    invalid += 1;
                    let details = status.get_error_details();
                    let violations = details
                        .bad_request()
                        .map(|b| b.field_violations.len())
                        .unwrap_or(0);
                    assert!(
                        violations > 0,
                        "{what} {label}: InvalidArgument without field violations: {}",
                        status.message()
                    );
                }
            }
        }
    }
    assert!(
        invalid > 20,
        "most of these are invalid somewhere ({invalid})"
    );

    // Deeper than prost's recursion limit, the request does not parse as protobuf: the
    // caller's mistake, answered InvalidArgument before any handler runs (cordium_api::codec),
    // and the server goes on serving.
    let status = alice
        .create_workspace(workspace("", "", Some(nest(60))))
        .await
        .expect_err("a spec 60 levels deep");
    assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
    assert!(
        status.message().contains("not a valid protobuf message"),
        "{}",
        status.message()
    );
    ok(
        "GetUserConfig after a too-deep spec",
        alice.get_user_config(pb::Empty {}).await,
    );
}

/// NaN has no JSON form: converted, it would become null and pass as "absent" (and be stored).
async fn non_finite_numbers_are_refused(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    for number in [f64::NAN, f64::INFINITY] {
        let mut request = workspace(
            "",
            "",
            Some(
                json!({"image": {"registry": {"url": "busybox"}}, "limit": {"cpu": {"millicores": 1}}}),
            ),
        );
        let limit = request
            .spec
            .as_mut()
            .and_then(|s| s.make_mut().fields.get_mut("limit"))
            .and_then(|v| v.kind.as_mut());
        let Some(prost_types::value::Kind::StructValue(limit)) = limit else {
            panic!("the limit");
        };
        let Some(prost_types::value::Kind::StructValue(cpu)) =
            limit.fields.get_mut("cpu").and_then(|v| v.kind.as_mut())
        else {
            panic!("the cpu limit");
        };
        cpu.fields.insert(
            "millicores".into(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::NumberValue(number)),
            },
        );
        bad_field(
            &format!("CreateWorkspace with {number}"),
            alice.create_workspace(request).await,
            "spec.limit.cpu.millicores",
        );
    }
}

/// One mistake per entry of a huge list still makes an answer of a few kilobytes: the first
/// diagnostics, each cut short, then "and K more".
async fn thousands_of_mistakes_make_a_short_answer(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let long_key = "k".repeat(1_000);
    let env_vars: Vec<_> = (0..2_000)
        .map(|i| json!({"key": format!("{i}{long_key}"), "value": "v"}))
        .collect();
    let status = alice
        .create_workspace(workspace(
            "",
            "",
            Some(json!({"image": {"registry": {"url": "busybox"}}, "runtime": {"envVars": env_vars}})),
        ))
        .await
        .expect_err("2,000 bad keys");
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{}",
        &status.message()[..200]
    );
    assert!(
        status.message().len() < 16_384,
        "{} bytes",
        status.message().len()
    );
    assert!(status.message().contains(" more"), "{}", status.message());
    let details = status.get_error_details();
    let violations = details
        .bad_request()
        .map_or(0, |b| b.field_violations.len());
    assert!((1..=20).contains(&violations), "{violations} violations");
    assert_fits_in_trailers(&status);

    // Mistakes that each quote long input (unknown fields of 400 characters), as a client of
    // gRPC's C core (Python, C++) must still receive them: it refuses trailers past 8 KB.
    let fields: serde_json::Map<_, _> = (0..25)
        .map(|i| (format!("K{i:02}{}", "x".repeat(400)), json!(1)))
        .collect();
    for spec_json in [
        serde_json::Value::Object(fields),
        json!({"runtime": {"envVars": (0..5_000).map(|i| json!({"key": format!("1bad{i}"), "value": "v"})).collect::<Vec<_>>()}}),
    ] {
        let status = alice
            .create_workspace(workspace("", "", Some(spec_json)))
            .await
            .expect_err("bad fields");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_fits_in_trailers(&status);
    }
}

/// An error's trailers as sent: `grpc-message` percent-encoded (every byte outside printable
/// ASCII, and `%`, as three) and `grpc-status-details-bin` in base64, together well under the
/// 8 KB that gRPC's C core accepts.
#[track_caller]
fn assert_fits_in_trailers(status: &Status) {
    let message: usize = status
        .message()
        .bytes()
        .map(|b| {
            if (0x20..0x7f).contains(&b) && b != b'%' {
                1
            } else {
                3
            }
        })
        .sum();
    let details = status.details().len().div_ceil(3) * 4;
    assert!(
        message + details < 7 << 10,
        "grpc-message {message} B + grpc-status-details-bin {details} B"
    );
}

/// Sends bytes as they are, so a test can send what no typed client would.
#[derive(Clone, Default)]
struct RawBytes;

impl tonic::codec::Codec for RawBytes {
    type Encode = Vec<u8>;
    type Decode = ();
    type Encoder = RawBytes;
    type Decoder = RawBytes;

    fn encoder(&mut self) -> Self::Encoder {
        RawBytes
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawBytes
    }
}

impl tonic::codec::Encoder for RawBytes {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Status> {
        prost::bytes::BufMut::put_slice(buf, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawBytes {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, buf: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<()>, Status> {
        let remaining = prost::bytes::Buf::remaining(buf);
        prost::bytes::Buf::advance(buf, remaining);
        Ok(Some(()))
    }
}

/// Bytes that are not a message (a string that is not UTF-8, garbage, a truncated message)
/// are the caller's mistake: InvalidArgument with a short message, never Internal.
async fn undecodable_requests_are_invalid_argument(backend: Backend) {
    let env = Env::new(backend).await;
    let token = env.server.user("mallory", false).await;
    let cases: [(&str, Vec<u8>); 3] = [
        // Workspace { metadata: Metadata { name: b"\xff" } }
        (
            "a name that is not UTF-8",
            vec![0x0a, 0x03, 0x0a, 0x01, 0xff],
        ),
        ("garbage", vec![0xff; 64]),
        ("a truncated message", vec![0x0a, 0x10, 0x0a]),
    ];
    for (what, bytes) in cases {
        let mut grpc =
            tonic::client::Grpc::new(tonic::service::interceptor::InterceptedService::new(
                env.server.channel.clone(),
                Auth::bearer(&token),
            ));
        grpc.ready().await.expect("ready");
        let status = grpc
            .unary(
                tonic::Request::new(bytes),
                tonic::codegen::http::uri::PathAndQuery::from_static(
                    "/cordium.v1.MainService/CreateWorkspace",
                ),
                RawBytes,
            )
            .await
            .expect_err(what);
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{what}: {}",
            status.message()
        );
        assert!(status.message().len() < 400, "{what}: {}", status.message());
    }
    ok(
        "GetUserConfig after undecodable requests",
        env.server
            .client(&token)
            .get_user_config(pb::Empty {})
            .await,
    );
}

async fn calls_without_a_valid_token_are_unauthenticated(backend: Backend) {
    let env = Env::new(backend).await;
    let channel = env.server.channel.clone();
    let with_header = |value: &str| -> Auth { Auth(Some(value.parse().expect("ascii"))) };
    let stale_token = env.server.user("carol", false).await;
    // Rotating the token (`cordium-server user token`): the old one stops working. (Adding a
    // user again is an error now: tests/it/users.rs.)
    let fresh_token = cordium_server::crypto::new_token().expect("token");
    env.server
        .store
        .rotate_token("carol", &cordium_server::crypto::hash_token(&fresh_token))
        .await
        .expect("rotate");
    let auths = [
        ("no metadata", Auth::none()),
        ("empty", with_header("")),
        (
            "not bearer",
            with_header(&format!("Basic {}", env.alice_token)),
        ),
        ("bare token", with_header(&env.alice_token)),
        (
            "unknown API token",
            Auth::bearer("cdm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        ("garbage", Auth::bearer("not-a-token")),
        (
            "a JWT-looking string",
            Auth::bearer("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9."),
        ),
        (
            "a hash of a token",
            Auth::bearer(&cordium_server::crypto::hash_token(&env.alice_token)),
        ),
        ("rotated token", Auth::bearer(&stale_token)),
    ];
    let unauthenticated = |what: &str, status: Status| {
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{what}: {}",
            status.message()
        );
    };
    for (label, auth) in auths {
        let mut main = MainServiceClient::with_interceptor(channel.clone(), auth.clone());
        let mut mgmt = ManagementServiceClient::with_interceptor(channel.clone(), auth);
        unauthenticated(
            &format!("{label}: GetSpace"),
            main.get_space(r("", "default.alice"))
                .await
                .expect_err("GetSpace"),
        );
        unauthenticated(
            &format!("{label}: ListWorkspace"),
            main.list_workspace(pb::ListRequest::default())
                .await
                .expect_err("ListWorkspace"),
        );
        unauthenticated(
            &format!("{label}: CreateWorkspace"),
            main.create_workspace(workspace("", "", None))
                .await
                .expect_err("CreateWorkspace"),
        );
        unauthenticated(
            &format!("{label}: CreateSecret"),
            main.create_secret(crate::secret("default.alice", "x", "v"))
                .await
                .expect_err("CreateSecret"),
        );
        unauthenticated(
            &format!("{label}: WatchWorkspace"),
            main.watch_workspace(pb::WatchWorkspaceRequest::default())
                .await
                .expect_err("WatchWorkspace"),
        );
        unauthenticated(
            &format!("{label}: GetUserConfig"),
            main.get_user_config(pb::Empty {})
                .await
                .expect_err("GetUserConfig"),
        );
        unauthenticated(
            &format!("{label}: GetClusterConfig"),
            mgmt.get_cluster_config(pb::Empty {})
                .await
                .expect_err("GetClusterConfig"),
        );
        unauthenticated(
            &format!("{label}: UpdateClusterConfig"),
            mgmt.update_cluster_config(pb::ClusterConfig::default())
                .await
                .expect_err("UpdateClusterConfig"),
        );
    }
    // Unauthenticated calls changed nothing.
    let store = &env.server.store;
    assert!(
        store
            .list(Kind::Workspace, None)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        store
            .list(Kind::Secret, None)
            .await
            .expect("list")
            .is_empty()
    );
    // The current token works; so does lowercase `bearer`.
    ok(
        "fresh token",
        crate::client(&channel, &fresh_token)
            .get_user_config(pb::Empty {})
            .await,
    );
    let mut lower = MainServiceClient::with_interceptor(
        channel.clone(),
        with_header(&format!("bearer {}", env.bob_token)),
    );
    assert_eq!(
        crate::name_of(
            &ok(
                "lowercase bearer",
                lower.get_user_config(pb::Empty {}).await
            )
            .metadata
        ),
        "bob"
    );
}

/// A few references to a long variable cannot make a huge answer (they once made 2 GB from a
/// 230 KB request): each substituted value is bounded by its field before it is built. A run's
/// variables follow the rules of `spec.vars`, and a refused start stores nothing.
async fn substitution_and_run_variables_are_bounded(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let value = "${{ vars.A }}".repeat(73);
    let env_vars: Vec<_> = (0..128)
        .map(|i| json!({"key": format!("E{i}"), "value": value}))
        .collect();
    let amplifier = json!({
        "vars": [{"name": "A", "value": "x".repeat(5000)}],
        "runtime": {"envVars": env_vars},
    });
    let compile = |spec_json: serde_json::Value, vars: Vec<pb::Var>| pb::CompileWorkspaceRequest {
        target: Some(pb::compile_workspace_request::Target::Spec(spec(spec_json))),
        vars,
        ..Default::default()
    };
    let answer = alice
        .compile_workspace(compile(amplifier, Vec::new()))
        .await;
    if let Err(status) = &answer {
        assert!(
            status.message().len() < 8 << 10,
            "{}",
            status.message().len()
        );
    }
    bad_field(
        "an amplified value",
        answer,
        "spec.runtime.envVars[0].value",
    );

    let var = |name: &str, value: String| pb::Var {
        name: name.into(),
        value,
    };
    bad_field(
        "CompileWorkspace with a long run variable",
        alice
            .compile_workspace(compile(json!({}), vec![var("A", "x".repeat(1 << 20))]))
            .await,
        "vars[0].value",
    );
    let ws = ok(
        "CreateWorkspace",
        alice.create_workspace(workspace("", "", None)).await,
    );
    let name = ws
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    bad_field(
        "StartWorkspace with a bad name",
        alice
            .start_workspace(pb::StartWorkspaceRequest {
                name: name.clone(),
                vars: vec![var("A", "a".into()), var("bad name}}", "b".into())],
            })
            .await,
        "vars[1].name",
    );
    let stored = ok("GetWorkspace", alice.get_workspace(r("", &name)).await);
    assert_eq!(stored, ws, "a refused start changes nothing");
}

/// A name of 200,000 characters, wherever a request names something, is refused or not found
/// with a short message: messages quote at most the first 80 characters of what they name.
async fn long_names_make_short_answers(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let big = "a".repeat(200_000);
    let space = "default.alice";
    let mut answers: Vec<(&str, Result<(), Status>)> = Vec::new();
    macro_rules! call {
        ($what:expr, $call:expr) => {
            answers.push(($what, $call.await.map(|_| ())));
        };
    }
    call!("GetSpace", alice.get_space(r("", &big)));
    call!("DeleteSpace", alice.delete_space(r("", &big)));
    call!("GetTemplate", alice.get_template(r(space, &big)));
    call!(
        "GetTemplate in a long Space",
        alice.get_template(r(&big, "default"))
    );
    call!("DeleteTemplate", alice.delete_template(r(space, &big)));
    call!(
        "BuildTemplate",
        alice.build_template(pb::BuildTemplateRequest {
            name: format!("{space}/{big}"),
            tags: vec![],
        })
    );
    call!("GetWorkspace", alice.get_workspace(r("", &big)));
    call!("DeleteWorkspace", alice.delete_workspace(r("", &big)));
    call!(
        "StartWorkspace",
        alice.start_workspace(pb::StartWorkspaceRequest {
            name: big.clone(),
            vars: vec![],
        })
    );
    call!(
        "StopWorkspace",
        alice.stop_workspace(pb::StopWorkspaceRequest { name: big.clone() })
    );
    call!(
        "CompileWorkspace",
        alice.compile_workspace(pb::CompileWorkspaceRequest {
            target: Some(pb::compile_workspace_request::Target::Name(big.clone())),
            ..Default::default()
        })
    );
    call!(
        "CompileWorkspace with a long Template",
        alice.compile_workspace(pb::CompileWorkspaceRequest {
            target: Some(pb::compile_workspace_request::Target::Spec(spec(json!({})))),
            template: format!("{space}/{big}"),
            ..Default::default()
        })
    );
    call!(
        "ReportWorkspaceActivity",
        alice.report_workspace_activity(pb::ReportActivityRequest { name: big.clone() })
    );
    call!("GetSecret", alice.get_secret(r(space, &big)));
    call!("DeleteSecret", alice.delete_secret(r(space, &big)));
    call!("GetUserSecret", alice.get_user_secret(r("", &big)));
    call!("GetGitProvider", alice.get_git_provider(r(space, &big)));
    call!(
        "ListTemplate",
        alice.list_template(pb::ListRequest {
            space: big.clone(),
            ..Default::default()
        })
    );
    call!(
        "ListSecret",
        alice.list_secret(pb::ListRequest {
            space: big.clone(),
            ..Default::default()
        })
    );
    call!(
        "RemoveSshKey",
        alice.remove_ssh_key(pb::RemoveSshKeyRequest { id: big.clone() })
    );
    call!(
        "CreateSecret",
        alice.create_secret(crate::secret(space, &big, "v"))
    );
    call!(
        "CreateSpace",
        alice.create_space(crate::space(&format!("{big}.alice"), None))
    );
    for (what, answer) in answers {
        let Err(status) = answer else {
            panic!("{what}: a name of 200,000 characters was accepted");
        };
        assert!(
            matches!(
                status.code(),
                Code::NotFound | Code::InvalidArgument | Code::PermissionDenied
            ),
            "{what}: {:?} {}",
            status.code(),
            &status.message()[..status.message().len().min(200)]
        );
        assert!(
            status.message().len() < 1024,
            "{what}: a message of {} bytes",
            status.message().len()
        );
        assert_fits_in_trailers(&status);
    }
}

/// An execution's environment and command are checked as a program receives them, and a
/// mistake is the caller's (INVALID_ARGUMENT naming the entry), not a runtime failure to
/// retry (UNAVAILABLE).
async fn exec_requests_are_checked_before_they_run(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let ws = ok(
        "CreateWorkspace",
        alice.create_workspace(workspace("", "", None)).await,
    );
    let name = ws.metadata.map(|m| m.name).unwrap_or_default();
    let exec = |command: Vec<String>, env: Vec<String>| pb::ExecWorkspaceRequest {
        name: name.clone(),
        command,
        env,
        ..Default::default()
    };
    let sh = || vec!["sh".to_owned()];
    let cases = [
        ("env[0]", exec(sh(), vec!["2FA=x".into()])),
        ("env[1]", exec(sh(), vec!["A=1".into(), "A B=x".into()])),
        ("env[0]", exec(sh(), vec!["=x".into()])),
        (
            "env[0]",
            exec(sh(), vec![format!("A={}", "x".repeat(200_000))]),
        ),
        ("env[0]", exec(sh(), vec!["A=a\0b".into()])),
        (
            "command[1]",
            exec(vec!["echo".into(), "a\0b".into()], vec![]),
        ),
        ("command[0]", exec(vec!["a".repeat(200_000)], vec![])),
        (
            "command",
            exec((0..8).map(|_| "a".repeat(100_000)).collect(), vec![]),
        ),
    ];
    for (field, request) in cases {
        let answer = alice.exec_workspace(request).await;
        if let Err(status) = &answer {
            assert!(
                status.message().len() < 1024,
                "{field}: {} bytes",
                status.message().len()
            );
        }
        bad_field(&format!("ExecWorkspace {field}"), answer, field);
    }
}

/// An enum value no client may send, a negative version, and a List of a Space the caller
/// does not reach: each the caller's mistake, named (and the List as its siblings answer).
async fn small_mistakes_are_invalid_argument_or_not_found(backend: Backend) {
    let env = Env::new(backend).await;
    let (mut alice, mut bob) = (env.alice.clone(), env.bob.clone());
    let user_secret = pb::UserSecret {
        metadata: meta("npm"),
        r#type: 99,
        data: Some(pb::SecretData {
            value: Some(pb::secret_data::Value::Text("v".into())),
        }),
        status: None,
    };
    bad_field(
        "CreateUserSecret of type 99",
        alice.create_user_secret(user_secret).await,
        "type",
    );
    let ws = ok(
        "CreateWorkspace",
        alice.create_workspace(workspace("", "", None)).await,
    );
    let mut stale = ws.clone();
    if let Some(m) = stale.metadata.as_mut() {
        m.resource_version = -1;
    }
    bad_field(
        "UpdateWorkspace at version -1",
        alice.update_workspace(stale).await,
        "metadata.resourceVersion",
    );
    ok(
        "CreateSpace",
        alice.create_space(space("priv.alice", None)).await,
    );
    let listed = bob
        .list_workspace(pb::ListRequest {
            space: "priv.alice".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        listed.map(|_| ()).map_err(|s| s.code()),
        Err(Code::NotFound),
        "as ListTemplate answers"
    );
}
