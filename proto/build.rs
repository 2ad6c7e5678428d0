//! Compiles `proto/bct/v1/*.proto` with protox (no system `protoc`) into prost messages and
//! tonic clients and servers, and writes the file descriptor set that gRPC reflection serves.

use std::path::PathBuf;

const PROTOS: &[&str] = &["proto/bct/v1/tx.proto", "proto/bct/v1/types.proto", "proto/bct/v1/node.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("bct_v1_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    // A malformed request is INVALID_ARGUMENT, not tonic's INTERNAL: see src/rpc_codec.rs.
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .codec_path("crate::rpc_codec::BctCodec")
        .compile_fds(fds)?;
    Ok(())
}
