//! The learning wing: quantisation-aware training of a description and the
//! hardware-aware architecture search, both writing the files the `model`
//! wing reads.
//!
//! Guarantees: what `train` exports passes validation and its reported
//! integer accuracy is the golden model's on the files as written; the same
//! seed gives byte-identical files, and a resumed run ends where an
//! uninterrupted one does. Imports `model` (and may use `hw` to price
//! candidates); nothing below imports it.

pub mod search;
pub mod train;
