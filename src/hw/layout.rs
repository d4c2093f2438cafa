//! The memory system of a generated accelerator, below both the generator
//! and the mapper: where every tensor lies in external memory, the global
//! buffer as a cache of it, and the testbench's memory latency. `gen` lays
//! the design out with these functions and `map::cycles` prices it with the
//! same ones, so the two cannot disagree about addresses or lines.

use serde::Serialize;

use crate::hw::arch::Arch;
use crate::model::net::Network;

/// Address bits for `n` entries (at least one).
pub fn clog2(n: u64) -> u32 {
    if n <= 1 {
        1
    } else {
        64 - (n - 1).leading_zeros()
    }
}

/// Cycles the testbench's external memory model takes per access.
pub const MEMORY_LATENCY: u32 = 8;

/// The global buffer as a direct-mapped cache of external memory: lines of
/// one memory word, as many as fit the buffer (a power of two).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CacheGeometry {
    pub line_bytes: u32,
    pub offset_bits: u32,
    pub lines: u64,
    pub index_bits: u32,
    /// External memory address width (bytes), at least one tag bit wide.
    pub addr_bits: u32,
    /// External memory the testbench models: the activations, whole lines.
    pub ext_bytes: u64,
}

impl CacheGeometry {
    pub fn new(arch: &Arch, activation_bytes: u64) -> CacheGeometry {
        let line_bytes = arch.memory.data_bits / 8;
        let offset_bits = line_bytes.trailing_zeros();
        let fit = (arch.buffer.words / line_bytes).max(2) as u64;
        let lines = 1u64 << (63 - fit.leading_zeros());
        let index_bits = lines.trailing_zeros();
        let ext_bytes = activation_bytes.div_ceil(line_bytes as u64) * line_bytes as u64;
        let addr_bits = clog2(ext_bytes).max(offset_bits + index_bits + 1);
        CacheGeometry {
            line_bytes,
            offset_bits,
            lines,
            index_bits,
            addr_bits,
            ext_bytes,
        }
    }
}

/// Base address of every tensor (id 0 the input, `i + 1` layer `i`'s
/// output) in external memory, as `gen` lays them out: one after another,
/// each starting on a cache line of `line_bytes`, so that no line holds
/// bytes of two tensors (a write-back of one tensor's line could otherwise
/// overwrite the next image's input).
pub fn tensor_bases(net: &Network, line_bytes: u64) -> Vec<u64> {
    let mut base = Vec::with_capacity(net.layers.len() + 1);
    let mut next = 0u64;
    for id in 0..=net.layers.len() {
        base.push(next);
        next += (net.tensor(id).shape.len() as u64).div_ceil(line_bytes) * line_bytes;
    }
    base
}

/// The memory system a design has, as the cycle model needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// Bytes per external-memory word and cache line.
    pub line_bytes: u64,
    /// Cache lines (a power of two).
    pub lines: u64,
    /// Cycles between a request's acceptance and its answer.
    pub latency: u64,
}

impl Memory {
    pub fn of(arch: &Arch) -> Memory {
        let g = CacheGeometry::new(arch, 0);
        Memory {
            line_bytes: g.line_bytes as u64,
            lines: g.lines,
            latency: MEMORY_LATENCY as u64,
        }
    }

    /// Cycles a state waiting for one external access takes: the request
    /// cycle, acceptance, `latency` cycles, the acknowledge cycle, and the
    /// cycle that uses the answer (see `templates/tb.v.tera`).
    pub fn access_cycles(&self) -> u64 {
        self.latency + 3
    }
}
