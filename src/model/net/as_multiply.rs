//! Shift layers placed on multiply PEs, so that a multiply chunk shares a
//! shift chunk's work (docs/arithmetic.md, rule K4).
//!
//! A shift code `c` stands for the weight `sign(c) * 2^(|c| - 1)` (W2), and
//! a multiply PE computes `x * w` (K1). The generated multiply chunk, told
//! that a layer's weights are codes, decodes each to its power of two; the
//! one weight beyond its 8-bit multiplier, +128, it computes as
//! `(-x) * (-128)`. So a shift layer of exponent width up to 3 (codes up to
//! ±8) runs exactly on multiply PEs, its weights stored as they are.
//! Width 4 (codes up to ±16, weights up to 2^15) does not fit.
//!
//! The hardware's models (planning, cycles, energy) see such a layer as a
//! multiply layer whose weights are codes: [`kinds_as_multiply`]. The golden
//! model always runs the network as described.

use super::{Network, Op};
use crate::model::quant::Kind;

/// The widest exponent code a multiply PE decodes (codes up to ±8).
pub const MAX_EXP_BITS: u32 = 3;

/// Checks that every layer named in `layers` is a shift layer a multiply
/// PE can run; the error names the layer.
pub fn check_movable(net: &Network, layers: &[String]) -> Result<(), String> {
    for name in layers {
        let Some(layer) = net.layers.iter().find(|l| &l.name == name) else {
            return Err(format!("no layer `{name}` in network `{}`", net.name));
        };
        let Op::Conv(op) = &layer.op else {
            return Err(format!(
                "layer `{name}` is not a convolution or linear layer"
            ));
        };
        if op.kind != Kind::Shift {
            return Err(format!(
                "layer `{name}` is not a shift layer (its kind is `{}`)",
                op.kind
            ));
        }
        if op.weight_bits > MAX_EXP_BITS {
            return Err(format!(
                "layer `{name}`: exponent width {} (codes up to ±{}) is beyond what a multiply PE decodes (width {MAX_EXP_BITS}, weights up to ±128)",
                op.weight_bits,
                1u32 << op.weight_bits
            ));
        }
    }
    Ok(())
}

/// `net` as the hardware's models see it with the named shift layers on
/// the multiply chunk: those layers become multiply layers, their weights
/// (codes) untouched. Not for the golden model. Names that are not shift
/// layers are left as they are ([`check_movable`] reports them).
pub fn kinds_as_multiply(net: &Network, layers: &[String]) -> Network {
    let mut out = net.clone();
    for layer in out.layers.iter_mut().filter(|l| layers.contains(&l.name)) {
        if let Op::Conv(op) = &mut layer.op {
            if op.kind == Kind::Shift {
                op.kind = Kind::Conv;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn only_shift_layers_of_narrow_codes_move() {
        let text = "[network]\nname = \"t\"\n[input]\nchannels = 2\nheight = 3\nwidth = 3\nbits = 8\nscale = 0.02\n[[layer]]\nname = \"s\"\nop = \"conv2d\"\nkind = \"shift\"\nout_channels = 2\nkernel = 1\nout_scale = 0.05\n[[layer]]\nname = \"w\"\nop = \"conv2d\"\nkind = \"shift\"\nexp_bits = 4\nout_channels = 2\nkernel = 1\nout_scale = 0.05\n[[layer]]\nname = \"c\"\nop = \"conv2d\"\nkind = \"conv\"\nout_channels = 2\nkernel = 1\nout_scale = 0.05\n";
        let net = Network::parse(text, Path::new("t.toml")).unwrap();
        check_movable(&net, &["s".into()]).unwrap();
        let moved = kinds_as_multiply(&net, &["s".into()]);
        let Op::Conv(op) = &moved.layers[0].op else {
            unreachable!()
        };
        assert_eq!(op.kind, Kind::Conv);
        for (bad, says) in [
            ("w", "exponent width 4"),
            ("c", "not a shift layer"),
            ("x", "no layer `x`"),
        ] {
            let err = check_movable(&net, &[bad.into()]).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }
}
