//! The `clicktrail` binary: parses the command line and hands over to the library.

use clap::Parser;

// mimalloc keeps the click path's many short-lived allocations cheap and its latency tail
// short under load (measured with bench/click-path.sh; see docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = clicktrail::cli::Cli::parse();
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
