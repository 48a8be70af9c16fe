//! The committed `schemas/` must equal what the types generate.
//!
//! To regenerate: `cargo run -p cordium-cli -- schema --write schemas` (or set
//! `CORDIUM_BLESS=1` and run this test).

use std::path::Path;

#[test]
fn committed_schemas_match_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    let bless = std::env::var_os("CORDIUM_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, text) in cordium_spec::schema::all_files() {
        let path = dir.join(&name);
        if bless {
            std::fs::write(&path, &text).expect("write schema");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != text {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/ is out of date for {stale:?}; run `CORDIUM_BLESS=1 cargo test -p cordium-spec --test it schemas`"
    );
}

#[test]
fn every_kind_has_a_schema_with_descriptions() {
    for (name, text) in cordium_spec::schema::all_files() {
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            value["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        assert!(text.contains("\"description\""), "{name}");
    }
}
