//! `hf completion SHELL`: a completion script for bash, zsh or fish on stdout.

use clap::CommandFactory;

use super::auth::Status;
use crate::cli::Cli;

pub(crate) fn completion(shell: clap_complete::Shell) -> Status {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "hf", &mut std::io::stdout());
    0
}
