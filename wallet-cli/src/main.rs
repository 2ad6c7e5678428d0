//! `bct`, the wallet of a bct ledger: parse the command line, run it, and exit with a code that
//! says how it went (see `bct --help`).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let json = args.json;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(cli::EXIT_FAILURE);
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if json && !cli::output::printed() {
                // With --json, a failure is a JSON object on stdout too (unless the command
                // already printed its own, such as the receipt of a transaction still pending).
                cli::output::emit(&format!("{}\n", cli::error_json(&e)));
            }
            ExitCode::from(cli::exit_code(&e))
        }
    }
}
