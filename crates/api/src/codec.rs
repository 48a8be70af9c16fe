//! The protobuf codec of every Cordium service: tonic-prost's, except for what a request that
//! does not decode answers.
//!
//! Bytes that are not a valid message (garbage, a truncated message, a string that is not
//! UTF-8, a Struct nested past prost's recursion limit) are the caller's mistake, so they answer
//! `InvalidArgument` with a short message, not tonic-prost's `Internal` (which gRPC's status-code
//! guide suggests for libraries, but which tells the caller the server broke and makes a fuzzer's
//! findings indistinguishable from real faults). Encoding is tonic-prost's own.

use prost::Message;
use std::marker::PhantomData;
use tonic::Status;
use tonic::codec::{BufferSettings, DecodeBuf};
use tonic_prost::ProstEncoder;

/// The longest decode-error text sent back: prost's messages are short already (a reason and the
/// field path), but the answer's size must not depend on the input.
const MAX_ERROR_CHARS: usize = 200;

/// `tonic::codec::Codec` for prost messages; the generated services name it (see `build.rs`).
#[derive(Debug, Clone)]
pub struct Codec<T, U> {
    _messages: PhantomData<(T, U)>,
}

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Self {
            _messages: PhantomData,
        }
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = Decoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        Decoder {
            _message: PhantomData,
        }
    }
}

/// Decodes one `U`, answering `InvalidArgument` for bytes that are not one.
#[derive(Debug, Clone)]
pub struct Decoder<U> {
    _message: PhantomData<U>,
}

impl<U: Message + Default> tonic::codec::Decoder for Decoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|e| undecodable(&e))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// The status for a request that is not a valid message.
fn undecodable(error: &prost::DecodeError) -> Status {
    let reason: String = error.to_string().chars().take(MAX_ERROR_CHARS).collect();
    Status::invalid_argument(format!(
        "the request is not a valid protobuf message ({reason}); send a message encoded from cordium.v1's .proto"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decode_error_is_invalid_argument_and_short() {
        let error = prost_types::Struct::decode(&[0x0a, 0xff, 0xff, 0xff, 0x0f][..])
            .expect_err("a truncated message");
        let status = undecodable(&error);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().len() < 400, "{}", status.message());
        assert!(status.message().contains("not a valid protobuf message"));
    }
}
