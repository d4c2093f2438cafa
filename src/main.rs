//! The `nasa` command line: a thin layer over the library (the commands
//! are in `cli`). Exit codes: 0 success, 1 failure (I/O and the like),
//! 2 usage error, 3 invalid input (network description, weights, data),
//! 101 internal error (a bug).

mod cli;

use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

use nasa::model::data::DataError;
use nasa::model::error::InputError;
use nasa::{EXIT_INTERNAL, EXIT_INVALID_INPUT};

fn main() -> ExitCode {
    // Like other Unix filters, stop quietly when the reader of stdout goes
    // away (`nasa check --json | head`) instead of panicking on EPIPE.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any
    // thread starts; no handler runs Rust code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::panic::set_hook(Box::new(|info| {
        eprintln!("internal error: {info}\nThis is a bug in nasa; please report it with the command that caused it.");
        std::process::exit(EXIT_INTERNAL);
    }));
    let cli = cli::args::Cli::parse();
    let json_mode = cli.json;
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let input = e.chain().find_map(|c| c.downcast_ref::<InputError>());
            let data_err = e.chain().any(|c| c.downcast_ref::<DataError>().is_some());
            let code = if input.is_some() || data_err {
                EXIT_INVALID_INPUT
            } else {
                1
            };
            if json_mode {
                let mut obj = json!({ "error": format!("{e:#}"), "exit_code": code });
                if let Some(ie) = input {
                    obj["file"] = json!(ie.file.display().to_string());
                    obj["layer"] = json!(ie.layer);
                    obj["field"] = json!(ie.field);
                }
                eprintln!("{obj}");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(code as u8)
        }
    }
}
