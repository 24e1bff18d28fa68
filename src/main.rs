fn main() {
    env_logger::init();
    eprintln!("raftkv: the node is not built yet");
    std::process::exit(2);
}
