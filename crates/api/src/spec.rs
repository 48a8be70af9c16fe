//! [`Spec`]: the `google.protobuf.Struct` of every message field that holds a document (a
//! resource's `spec`, a compile's `effective`), shared and encoded once.
//!
//! A server answers the same stored documents again and again: GetWorkspace returns the
//! Workspace it read a moment ago, CompileWorkspace the answer it remembered. With a plain
//! `prost_types::Struct`, every answer cloned the document (an allocation per key and value)
//! and encoded it anew (prost measures a nested message once per level it is nested in). A
//! `Spec` is an `Arc`, so a clone is a reference count, and it keeps its encoding once made, so
//! answering it again is a copy of bytes. A write goes through [`Spec::make_mut`], which
//! copies a shared document first and forgets the encoding. `build.rs` maps
//! `google.protobuf.Struct` here for `cordium.v1`'s own fields; the well-known types keep
//! theirs (a `Value` inside a `Spec` holds a plain `Struct`).

use prost::Message;
use prost::bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType};
use prost_types::Struct;
use std::sync::{Arc, OnceLock};

/// A document as protobuf carries it: a `google.protobuf.Struct`, shared and encoded once.
#[derive(Clone, Default)]
pub struct Spec(Arc<Shared>);

#[derive(Clone, Default)]
struct Shared {
    value: Struct,
    /// The encoding of `value`, made at the first encode and shared with every clone.
    encoded: OnceLock<Vec<u8>>,
}

impl Spec {
    /// The document, to change: copied first if another holder shares it, and its encoding
    /// forgotten.
    pub fn make_mut(&mut self) -> &mut Struct {
        let shared = Arc::make_mut(&mut self.0);
        shared.encoded = OnceLock::new();
        &mut shared.value
    }

    /// The document, owned: moved out when nothing else shares it, else copied.
    pub fn into_struct(self) -> Struct {
        Arc::unwrap_or_clone(self.0).value
    }

    fn encoded(&self) -> &[u8] {
        self.0.encoded.get_or_init(|| self.0.value.encode_to_vec())
    }
}

impl From<Struct> for Spec {
    fn from(value: Struct) -> Self {
        Spec(Arc::new(Shared {
            value,
            encoded: OnceLock::new(),
        }))
    }
}

impl std::ops::Deref for Spec {
    type Target = Struct;

    fn deref(&self) -> &Struct {
        &self.0.value
    }
}

impl AsRef<Struct> for Spec {
    fn as_ref(&self) -> &Struct {
        &self.0.value
    }
}

impl PartialEq for Spec {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.value == other.0.value
    }
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.value.fmt(f)
    }
}

impl Message for Spec {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(self.encoded());
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        self.make_mut().merge_field(tag, wire_type, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.encoded().len()
    }

    fn clear(&mut self) {
        *self = Spec::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::json_to_struct;

    fn document() -> Struct {
        json_to_struct(&serde_json::json!({"image": "alpine", "env": [{"name": "A"}], "n": 2}))
    }

    #[test]
    fn a_spec_encodes_and_decodes_like_the_struct_it_holds() {
        let plain = document();
        let spec = Spec::from(plain.clone());
        assert_eq!(spec.encode_to_vec(), plain.encode_to_vec());
        assert_eq!(spec.encoded_len(), plain.encoded_len());
        let decoded = Spec::decode(plain.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(*decoded, plain);

        let workspace = crate::Workspace {
            spec: Some(spec),
            ..Default::default()
        };
        let as_sent = workspace.encode_to_vec();
        let back = crate::Workspace::decode(as_sent.as_slice()).expect("decodes");
        assert_eq!(back, workspace, "a message holding a Spec round-trips");
    }

    #[test]
    fn a_change_is_made_on_a_copy_and_encoded_again() {
        let shared = Spec::from(document());
        let before = shared.encode_to_vec();
        let mut changed = shared.clone();
        changed
            .make_mut()
            .fields
            .insert("n".into(), prost_types::Value::from(3.0));
        assert_eq!(
            shared.encode_to_vec(),
            before,
            "the shared one is untouched"
        );
        assert_ne!(
            changed.encode_to_vec(),
            before,
            "the changed one encodes its change"
        );
        assert_eq!(
            Spec::decode(changed.encode_to_vec().as_slice()).expect("decodes"),
            changed
        );
    }
}
