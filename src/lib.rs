//! `nasa`: neural architecture search and acceleration for hybrid
//! (multiply / shift / adder) networks.
//!
//! The library holds every stage; the `nasa` binary is a thin CLI over it.
//! See ARCHITECTURE.md for the stages and what each guarantees to the next.

pub mod arch;
pub mod check;
pub mod cost;
pub mod data;
pub mod dump;
pub mod error;
pub mod eval;
pub mod fsutil;
pub mod gen;
pub mod golden;
pub mod hw;
pub mod input;
pub mod map;
pub mod models;
pub mod net;
pub mod quant;
pub mod randomize;
pub mod rng;
pub mod search;
pub mod sim;
pub mod synth;
pub mod train;

/// Exit code of the CLI for invalid input (network, weights, data).
pub const EXIT_INVALID_INPUT: i32 = 3;
/// Exit code for an internal error (a bug in nasa).
pub const EXIT_INTERNAL: i32 = 101;
