//! The integration tests, as one test binary (one link instead of one per
//! file). Each module is one area; `cargo test` runs the fast tier and
//! `cargo test -- --ignored` the slow tier (simulations, synthesis,
//! training), which `scripts/test.sh` runs after it. Run one area with
//! `cargo test --test all map::`.

mod common;

mod axi;
mod cli;
mod cli_errors;
mod fpga;
mod gen_sim;
mod golden_fast;
mod golden_rtl;
mod layers;
mod map;
mod package;
mod pe_cells;
mod pipeline;
mod property;
mod report;
mod search;
mod trace;
mod train;
mod train_grad;
