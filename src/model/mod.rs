//! The description and golden-model wing: everything a network *is*,
//! independent of how it is trained or built.
//!
//! Guarantees to the wings above: a [`net::Network`] that loaded is valid in
//! every field (shapes, widths, clamps and accumulator widths derived once,
//! layers in execution order), and [`golden`] evaluates it bit-exactly as
//! docs/arithmetic.md says, the reference every accelerator and every
//! accuracy figure is checked against. Nothing here imports `hw` or `learn`.

pub mod check;
pub mod cost;
pub mod data;
pub mod dump;
pub mod error;
pub mod eval;
pub mod fsutil;
pub mod golden;
pub mod input;
pub mod inspect;
pub mod models;
pub mod net;
pub mod quant;
pub mod randomize;
pub mod rng;
