//! The `kefu` binary: parse arguments, run, map the outcome to an exit code.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kefu::cli::main()
}
