//! `FromNode::from_owned` (which the compiler uses on its merged tree) against `from_node`
//! (which loading uses): on every document of every fixture, valid and invalid, converted as
//! each kind of resource (so unknown fields, wrong types, one-of conflicts and bad shapes all
//! occur), both give the same value and the same diagnostics in the same order.

use crate::fixtures::fixture_files;
use cordium_spec::{
    ClusterConfig, Cx, Diagnostic, FromNode, GitProvider, Node, Secret, SourceId, Space, Template,
    UserConfig, UserSecret, Workspace, yaml::parse_documents,
};

/// Converts `node` as `T` both ways; `None` when they agree, else what differs.
fn differs<T: FromNode + PartialEq + std::fmt::Debug>(node: &Node) -> Option<String> {
    let run = |owned: bool| {
        let mut diagnostics: Vec<Diagnostic> = Vec::new();
        let mut cx = Cx::new(&mut diagnostics);
        let value = if owned {
            T::from_owned(node.clone(), &mut cx)
        } else {
            T::from_node(node, &mut cx)
        };
        (value, diagnostics)
    };
    let (by_reference, by_value) = (run(false), run(true));
    (by_reference != by_value).then(|| {
        format!(
            "{}:\n  from_node:  {by_reference:?}\n  from_owned: {by_value:?}",
            std::any::type_name::<T>()
        )
    })
}

#[test]
fn converting_a_tree_by_value_gives_what_converting_it_by_reference_gives() {
    let mut failures = Vec::new();
    let mut documents = 0;
    for file in fixture_files("valid")
        .into_iter()
        .chain(fixture_files("invalid"))
        .chain(fixture_files("compile"))
    {
        let text = std::fs::read_to_string(&file).expect("read a fixture");
        let Ok(nodes) = parse_documents(&text, SourceId(0)) else {
            continue;
        };
        for node in &nodes {
            documents += 1;
            failures.extend(
                [
                    differs::<Workspace>(node),
                    differs::<Template>(node),
                    differs::<Space>(node),
                    differs::<UserConfig>(node),
                    differs::<ClusterConfig>(node),
                    differs::<Secret>(node),
                    differs::<UserSecret>(node),
                    differs::<GitProvider>(node),
                ]
                .into_iter()
                .flatten()
                .map(|d| format!("{}: {d}", file.display())),
            );
        }
    }
    assert!(documents > 100, "only {documents} documents were read");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
