//! Generates the etcd v3 gRPC code (`proto/etcd/`) for `src/grpc/`: prost messages, tonic server
//! and client stubs, and pbjson serde impls in the proto3 JSON mapping for the JSON gateway.

use std::path::PathBuf;

const PROTO_DIR: &str = "proto/etcd";
const PROTO_FILES: [&str; 3] = [
    "proto/etcd/rpc.proto",
    "proto/etcd/kv.proto",
    "proto/etcd/auth.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A vendored protoc, so building needs no system package.
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out_dir.join("etcd_descriptor.bin");

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .file_descriptor_set_path(&descriptor_path)
        .compile_protos(&PROTO_FILES, &[PROTO_DIR])?;

    // etcd's gateway marshals with the proto field names (snake_case), not lowerCamelCase.
    let descriptors = std::fs::read(&descriptor_path)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptors)?
        .preserve_proto_field_names()
        .build(&[".etcdserverpb", ".mvccpb", ".authpb"])?;

    println!("cargo:rerun-if-changed={PROTO_DIR}");
    Ok(())
}
