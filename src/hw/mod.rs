//! Hardware: the datapath cells of the accelerator's processing elements,
//! written in `rust_hdl`, simulated in Rust against the golden model's
//! scalar operation, and emitted as Verilog primitives.

pub mod pe;
