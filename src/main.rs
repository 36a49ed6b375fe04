//! `kubectl-tingyun`: a thin entry point; everything lives in the library.
fn main() {
    std::process::exit(kubectl_tingyun::cli::main());
}
