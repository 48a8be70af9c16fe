//! CompileWorkspace answers what the compiler found: the effective workspace, its notes, and
//! where every leaf came from, what it replaced and which caps lowered it.

use crate::{Backend, Env, json, ok, space, workspace};
use cordium_server::pb;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_carries_notes_and_every_leafs_origin() {
    let env = Env::new(Backend::Sqlite).await;
    let mut alice = env.alice.clone();
    let team = json!({
        "limit": {"defaultLimit": {"cpu": {"millicores": 2000}}, "maxLimit": {"cpu": {"millicores": 8000}}},
        "runtime": {"envVars": [{"key": "LOG_LEVEL", "value": "info"}]}
    });
    ok(
        "CreateSpace",
        alice.create_space(space("team.alice", Some(team))).await,
    );
    let mine = json!({
        "limit": {"cpu": {"millicores": 16000}},
        "runtime": {"envVars": [
            {"key": "LOG_LEVEL", "value": "debug"},
            {"key": "GREETING", "value": "hello ${{ vars.NOBODY_SET_THIS }}"}
        ]}
    });
    let ws = ok(
        "CreateWorkspace",
        alice
            .create_workspace(workspace("team.alice", "", Some(mine)))
            .await,
    );
    let name = crate::name_of(&ws.metadata);
    let answer = ok(
        "CompileWorkspace",
        alice
            .compile_workspace(pb::CompileWorkspaceRequest {
                target: Some(pb::compile_workspace_request::Target::Name(name.clone())),
                allow_undefined_vars: true,
                ..Default::default()
            })
            .await,
    );
    let effective = json(answer.effective.as_deref().expect("an effective workspace"));
    assert_eq!(
        answer.notes,
        effective["notes"]
            .as_array()
            .expect("notes in the effective workspace")
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect::<Vec<_>>(),
        "the answer's notes are the effective workspace's"
    );
    assert!(
        answer.notes.iter().any(|n| n.contains("NOBODY_SET_THIS")),
        "the undefined variable is noted: {:?}",
        answer.notes
    );

    let leaf = |value: &str| {
        answer
            .provenance
            .iter()
            .find(|p| p.value == value)
            .unwrap_or_else(|| panic!("a leaf of value {value}: {:#?}", answer.provenance))
    };
    let level = leaf("debug");
    assert!(level.path.contains("envVars"), "{level:?}");
    assert_eq!(
        (level.layer.as_str(), level.document.as_str()),
        ("Workspace", name.as_str()),
        "{level:?}"
    );
    assert!(level.line > 0 && level.column > 0, "{level:?}");
    assert_eq!(level.replaced.len(), 1, "{level:?}");
    assert!(level.replaced[0].starts_with("Space ("), "{level:?}");

    let cpu = leaf("8000");
    assert!(cpu.path.contains("cpu"), "{cpu:?}");
    assert_eq!(cpu.capped_by.len(), 1, "{cpu:?}");
    assert!(cpu.capped_by[0].contains("(from 16000)"), "{cpu:?}");
}

/// The answer's `effective` is made by `cordium_api::serialize::to_struct`, straight from the
/// EffectiveWorkspace; it must be the Struct the JSON of it would make. Checked on the
/// compiler's output for every compile case that compiles.
#[test]
fn the_effective_struct_is_what_its_json_would_make() {
    use cordium_merge::{Inputs, Options, compile};
    use cordium_spec::{SourceMap, load};
    let cases = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/compile");
    let mut checked = 0;
    for case in std::fs::read_dir(&cases).expect("the compile cases") {
        let case = case.expect("a case").path();
        let mut files: Vec<_> = std::fs::read_dir(&case)
            .expect("a case directory")
            .map(|f| f.expect("a file").path())
            .filter(|f| {
                f.extension().is_some_and(|e| e == "yaml")
                    && f.file_name().is_some_and(|n| n != "expected.yaml")
            })
            .collect();
        files.sort();
        let mut sources = SourceMap::new();
        let mut documents = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).expect("a layer file");
            let id = sources.add(file.display().to_string(), text.as_str());
            documents.extend(load(&text, id).documents);
        }
        let Ok(inputs) = Inputs::from_documents(&sources, documents, None, Options::default())
        else {
            continue;
        };
        let Ok(compiled) = compile(inputs) else {
            continue;
        };
        let direct =
            cordium_api::serialize::to_struct(&compiled.effective).expect("serializes directly");
        let through_json = cordium_api::json::json_into_struct(
            serde_json::to_value(&compiled.effective).expect("serializes as JSON"),
        );
        assert_eq!(direct, through_json, "{}", case.display());
        checked += 1;
    }
    assert!(checked > 40, "only {checked} cases compiled");
}
