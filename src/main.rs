//! The `raftkv` binary: everything lives in [`raftkv::cli`].

fn main() {
    std::process::exit(raftkv::cli::main());
}
