//! The hardware wing: the accelerator's description ([`arch`]), the memory
//! layout shared by the generator and the mapper ([`layout`]), the mapper
//! and its exact cycle model ([`map`]), the datapath cells ([`pe`], written
//! in `rust_hdl`), the Verilog generator ([`gen`]), and the simulation
//! ([`sim`]) and synthesis ([`synth`]) of generated designs.
//!
//! Guarantees: generated RTL is lint-clean and bit-exact against the golden
//! model, and the cycle model equals the simulated cycles on every layer
//! (ARCHITECTURE.md names the tests). Imports only `model`; within the wing,
//! `layout` and `arch` are at the bottom, then `map`, then `gen`, then `sim`
//! and `synth`.

pub mod arch;
pub mod compare;
pub mod gen;
pub mod layout;
pub mod map;
pub mod pe;
pub mod report;
pub mod rounds;
pub mod sim;
pub mod synth;
pub mod tile;
