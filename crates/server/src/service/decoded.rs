//! Stored messages decoded once per content.
//!
//! Nearly every call reads the same few records (the Workspace it names, that Workspace's
//! Space for the access check, the Space's Template when compiling), and decoding their
//! protobuf bodies, a Struct spec above all, was the largest part of a GetWorkspace. A record
//! comes from the store's memo (`store::recent`) already; this memo keeps its decoded message,
//! shared, so a call that only reads it pays a lookup and one that answers it pays a clone.
//!
//! An entry is keyed by the record's body and version, the whole of what its message is made
//! of, so it never goes stale and needs no write generation; the memo's TTL only makes it
//! decode again once a second. The same bytes read as another message type are decoded again,
//! never handed out as the wrong type.

use super::resource::{Resource, Result};
use crate::cache::Memo;
use crate::store::Record;
use std::any::Any;
use std::sync::Arc;
use tonic::Status;

/// How many messages the memo keeps, and their bytes (an estimate: see [`WEIGHT_PER_BYTE`]).
const ENTRIES: usize = 8192;
const BYTES: usize = 64 << 20;

/// A decoded message takes several times its encoding in memory; the weight counts it so.
const WEIGHT_PER_BYTE: usize = 4;

/// Content-addressed entries are valid in every generation.
const ALWAYS: Option<u64> = Some(0);

/// The decoded messages, shared by every call.
#[derive(Debug)]
pub(crate) struct Decoded(Memo<Vec<u8>, Arc<dyn Any + Send + Sync>>);

impl Default for Decoded {
    fn default() -> Self {
        Self(Memo::new(ENTRIES, BYTES))
    }
}

impl Decoded {
    /// `record`'s message with its `metadata.resourceVersion` set to the record's version:
    /// decoded once per content, then shared.
    pub(crate) fn message<M>(&self, record: &Record) -> Result<Arc<M>>
    where
        M: Resource + Send + Sync + 'static,
    {
        let mut key = Vec::with_capacity(record.body.len() + 8);
        key.extend_from_slice(&record.body);
        key.extend_from_slice(&record.version.to_le_bytes());
        if let Some(known) = self.0.get(key.as_slice(), ALWAYS)
            && let Ok(message) = known.downcast::<M>()
        {
            return Ok(message);
        }
        let message = Arc::new(decode::<M>(record)?);
        let weight = key.len() * (1 + WEIGHT_PER_BYTE);
        self.0.put(key, message.clone(), ALWAYS, weight);
        Ok(message)
    }
}

/// A stored message, decoded now. Its bytes were encoded by this server, so a body that does
/// not decode is the store's fault (`Internal`), not the caller's.
pub(crate) fn decode<M: Resource>(record: &Record) -> Result<M> {
    let mut m = M::decode(record.body.as_slice()).map_err(|e| {
        Status::internal(format!(
            "stored {} is unreadable: {e}",
            record.kind.as_str()
        ))
    })?;
    if let Some(meta) = m.meta() {
        meta.resource_version = record.version;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;
    use cordium_spec::Kind;

    fn record(kind: Kind, message: &impl prost::Message, version: i64) -> Record {
        Record {
            kind,
            scope: String::new(),
            name: "n".into(),
            owner: "alice".into(),
            space: String::new(),
            body: message.encode_to_vec(),
            version,
            active: false,
        }
    }

    fn space(name: &str) -> pb::Space {
        pb::Space {
            metadata: Some(pb::Metadata {
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_message_is_decoded_once_per_content_and_version() {
        let decoded = Decoded::default();
        let stored = record(Kind::Space, &space("team"), 3);
        let first = decoded.message::<pb::Space>(&stored).expect("decodes");
        let again = decoded.message::<pb::Space>(&stored).expect("decodes");
        assert!(Arc::ptr_eq(&first, &again), "the second read is shared");
        let version = |s: &pb::Space| s.metadata.as_ref().map(|m| m.resource_version);
        assert_eq!(version(&first), Some(3), "the record's version is set");

        let newer = record(Kind::Space, &space("team"), 4);
        let written = decoded.message::<pb::Space>(&newer).expect("decodes");
        assert_eq!(
            version(&written),
            Some(4),
            "another version is another entry"
        );

        let renamed = record(Kind::Space, &space("other"), 3);
        let other = decoded.message::<pb::Space>(&renamed).expect("decodes");
        assert_eq!(
            other.metadata.as_ref().map(|m| m.name.as_str()),
            Some("other"),
            "another content is another message"
        );
    }

    #[test]
    fn the_same_bytes_as_another_type_are_decoded_as_that_type() {
        let decoded = Decoded::default();
        let stored = record(Kind::Space, &space("team"), 1);
        decoded.message::<pb::Space>(&stored).expect("decodes");
        let template = decoded
            .message::<pb::Template>(&stored)
            .expect("a Space's bytes read as a Template");
        assert_eq!(
            template.metadata.as_ref().map(|m| m.name.as_str()),
            Some("team")
        );
    }

    #[test]
    fn a_body_that_does_not_decode_is_internal() {
        let decoded = Decoded::default();
        let mut stored = record(Kind::Space, &space("team"), 1);
        stored.body = vec![0x0a, 0xff, 0xff, 0xff, 0x0f];
        let error = decoded
            .message::<pb::Space>(&stored)
            .expect_err("a truncated body");
        assert_eq!(error.code(), tonic::Code::Internal);
    }
}
