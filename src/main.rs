//! The `picket` binary: parse the command line, run one library call, map the outcome to an
//! exit status (0 nothing blocked / success, 1 something blocked / a failed check, 2 error).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
