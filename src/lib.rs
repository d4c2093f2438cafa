//! `nasa`: neural architecture search and acceleration for hybrid
//! (multiply / shift / adder) networks.
//!
//! The library holds every stage in three wings, and imports point one way,
//! from the top wing down:
//! - [`model`]: the network description, the bit-exact golden model and
//!   what reads and writes its data (the bottom: imports nothing above it);
//! - [`hw`]: the accelerator, its description, mapper, generator,
//!   simulation and synthesis (imports `model`);
//! - [`learn`]: training and the hardware-aware search (imports `model`
//!   and may price candidates with `hw`).
//!
//! The `nasa` binary (`src/main.rs`, `src/cli/`) is a thin command line over
//! it. See ARCHITECTURE.md for the stages and what each guarantees to the next.

pub mod hw;
pub mod learn;
pub mod model;

/// Exit code of the CLI for invalid input (network, weights, data).
pub const EXIT_INVALID_INPUT: i32 = 3;
/// Exit code for an internal error (a bug in nasa).
pub const EXIT_INTERNAL: i32 = 101;
