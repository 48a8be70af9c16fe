//! Specs validated once per content.
//!
//! Validating a request's spec as `cordium validate` would (`documents::validate`) builds the
//! document's located tree and runs every rule over it; clients that create from the same
//! spec again and again (CI jobs, scripted environments) paid that on every call. Validity
//! depends on nothing but the kind, the name and the spec, so a spec that passed is
//! remembered by its encoding (`cordium_api::Spec` keeps it, and the write needs it anyway)
//! and passes again without the rules. Only passes are remembered: a refused spec is refused
//! with its diagnostics every time. The memo is bounded in entries and bytes, and its TTL
//! makes each spec go through the rules again once a second.

use super::documents::validate;
use crate::cache::Memo;
use cordium_api::Spec;
use cordium_spec::Kind;
use prost::Message as _;
use tonic::Status;

/// How many specs are remembered, and their bytes.
const ENTRIES: usize = 1024;
const BYTES: usize = 16 << 20;

/// Content-addressed entries are valid in every generation.
const ALWAYS: Option<u64> = Some(0);

/// The specs that passed validation, by kind, name and encoding.
#[derive(Debug)]
pub(crate) struct Validated(Memo<Vec<u8>, ()>);

impl Default for Validated {
    fn default() -> Self {
        Self(Memo::new(ENTRIES, BYTES))
    }
}

impl Validated {
    /// [`validate`] of `spec` as a `kind` named `name`, skipped for a spec that passed it
    /// already.
    pub(crate) fn validate(
        &self,
        kind: Kind,
        name: &str,
        spec: Option<&Spec>,
    ) -> Result<(), Status> {
        let Some(spec) = spec else {
            return validate(kind, name, None);
        };
        // The name's length first, so no name and spec can be read as another pair (either
        // may hold any byte); the kind names hold no NUL.
        let key = [
            kind.as_str().as_bytes(),
            b"\0",
            &(name.len() as u64).to_le_bytes(),
            name.as_bytes(),
            &spec.encode_to_vec(),
        ]
        .concat();
        if self.0.get(key.as_slice(), ALWAYS).is_some() {
            return Ok(());
        }
        validate(kind, name, Some(spec))?;
        let weight = key.len();
        self.0.put(key, (), ALWAYS, weight);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        cordium_api::json::json_to_struct(&json).into()
    }

    /// A spec that passed passes again, and one that failed fails again with the same
    /// diagnostics, remembered or not; a pass for one kind is not a pass for another.
    #[test]
    fn only_passes_are_remembered_by_kind_and_content() {
        let validated = Validated::default();
        let good = spec(serde_json::json!({"limit": {"cpu": {"millicores": 16000}}}));
        let bad = spec(serde_json::json!({"limit": {"cpu": {"millicores": "many"}}}));
        for _ in 0..2 {
            assert!(validated.validate(Kind::Workspace, "", Some(&good)).is_ok());
            let refused = validated
                .validate(Kind::Workspace, "", Some(&bad))
                .expect_err("millicores must be a number");
            let direct = validate(Kind::Workspace, "", Some(&bad)).expect_err("refused");
            assert_eq!(refused.message(), direct.message());
            assert_eq!(refused.details(), direct.details());
        }
        let as_space = validated.validate(Kind::Space, "", Some(&good));
        let direct = validate(Kind::Space, "", Some(&good));
        assert_eq!(as_space.is_ok(), direct.is_ok());
    }
}
