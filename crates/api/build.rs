//! Compiles `proto/cordium/v1/cordium.proto` with protox (pure Rust: no `protoc` needed) and
//! generates the tonic server and client, plus the descriptor set served by reflection.

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/cordium/v1/cordium.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("cordium_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        // Requests that do not decode answer InvalidArgument, not Internal (src/codec.rs).
        .codec_path("crate::codec::Codec")
        // Documents are shared and encoded once (src/spec.rs).
        .extern_path(".google.protobuf.Struct", "crate::spec::Spec")
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
