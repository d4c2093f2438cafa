//! The weights file: safetensors, the format PyTorch (`safetensors.torch`)
//! and numpy (`safetensors.numpy`) users write directly.
//!
//! Per conv or linear layer `L` it holds `L.weight` (I8; conv weights
//! `[out, in/groups, k, k]`, linear `[out, in]`; shift layers store codes),
//! `L.bias`, `L.multiplier` and `L.shift` (I32, `[out]`). Nothing else: an
//! unused tensor is an error, since it is usually a misspelt name.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use super::{accumulator_bits, ConvOp, Network, Op, MAX_PRODUCT_BITS, MAX_SHIFT};
use crate::model::error::{InputError, InputResult};
use crate::model::quant::{self, Kind};

/// Expected tensor shapes of a conv or linear layer's weight.
pub fn weight_shape(op: &ConvOp) -> Vec<usize> {
    if op.linear {
        vec![op.out_ch, op.in_ch * op.kh * op.kw]
    } else {
        vec![op.out_ch, op.in_ch / op.groups, op.kh, op.kw]
    }
}

fn index_of(shape: &[usize], mut flat: usize) -> String {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    format!("{idx:?}")
}

pub(super) fn attach(net: &mut Network, bytes: &[u8], path: &Path) -> InputResult<()> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| InputError::new(path, format!("not a valid safetensors file: {e}")))?;
    let mut used = HashSet::new();
    let input_bits: Vec<u32> = net
        .layers
        .iter()
        .map(|l| net.tensor(l.inputs[0]).bits)
        .collect();
    for (layer, &x_bits) in net.layers.iter_mut().zip(&input_bits) {
        let Op::Conv(op) = &mut layer.op else {
            continue;
        };
        let name = layer.name.clone();
        let get = |field: &str, dtype: Dtype, shape: &[usize]| -> InputResult<TensorView<'_>> {
            let key = format!("{name}.{field}");
            let err = |m: String| InputError::new(path, m).layer(&name).field(field);
            let t = st
                .tensor(&key)
                .map_err(|_| err(format!("tensor `{key}` is missing")))?;
            if t.dtype() != dtype {
                return Err(err(format!(
                    "tensor `{key}` has dtype {:?}, expected {dtype:?}",
                    t.dtype()
                )));
            }
            if t.shape() != shape {
                return Err(err(format!(
                    "tensor `{key}` has shape {:?}, expected {shape:?}",
                    t.shape()
                )));
            }
            Ok(t)
        };
        let out = op.out_ch;
        let wshape = weight_shape(op);
        let w = get("weight", Dtype::I8, &wshape)?;
        let weights: Vec<i8> = w.data().iter().map(|&b| b as i8).collect();
        let i32s = |t: TensorView<'_>| -> Vec<i32> {
            t.data()
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let bias = i32s(get("bias", Dtype::I32, &[out])?);
        let multiplier = i32s(get("multiplier", Dtype::I32, &[out])?);
        let shift_raw = i32s(get("shift", Dtype::I32, &[out])?);
        for f in ["weight", "bias", "multiplier", "shift"] {
            used.insert(format!("{name}.{f}"));
        }
        let err = |field: &str, m: String| InputError::new(path, m).layer(&name).field(field);

        // Weight ranges (rules W1-W3).
        let (lo, hi) = match op.kind {
            Kind::Conv | Kind::Adder => quant::signed_range(op.weight_bits),
            Kind::Shift => {
                let m = 1i64 << op.weight_bits;
                (-m, m)
            }
        };
        if let Some((i, &v)) = weights
            .iter()
            .enumerate()
            .find(|(_, &v)| (v as i64) < lo || v as i64 > hi)
        {
            let what = match op.kind {
                Kind::Shift => format!(
                    "shift code {v} at {} is outside [{lo}, {hi}] for exp_bits = {}",
                    index_of(&wshape, i),
                    op.weight_bits
                ),
                _ => format!(
                    "value {v} at {} is outside the {}-bit range [{lo}, {hi}]",
                    index_of(&wshape, i),
                    op.weight_bits
                ),
            };
            return Err(err("weight", what));
        }
        if let Some((c, &s)) = shift_raw
            .iter()
            .enumerate()
            .find(|(_, &s)| s < 0 || s > MAX_SHIFT as i32)
        {
            return Err(err(
                "shift",
                format!("channel {c}: shift {s} is outside 0..={MAX_SHIFT}"),
            ));
        }
        let max_bias = bias
            .iter()
            .map(|b| b.unsigned_abs() as u64)
            .max()
            .unwrap_or(0);
        let acc_bits = accumulator_bits(op, x_bits, max_bias);
        let max_m = multiplier
            .iter()
            .map(|m| m.unsigned_abs() as u64)
            .max()
            .unwrap_or(0);
        let m_bits = quant::signed_bits_for(max_m);
        if acc_bits + m_bits > MAX_PRODUCT_BITS {
            return Err(err(
                "multiplier",
                format!("the {acc_bits}-bit accumulator times a {m_bits}-bit multiplier exceeds the {MAX_PRODUCT_BITS}-bit requantisation product; use smaller multipliers or biases"),
            ));
        }
        op.weights = weights;
        op.bias = bias;
        op.multiplier = multiplier;
        op.shift = shift_raw.into_iter().map(|s| s as u32).collect();
        op.acc_bits = acc_bits;
    }
    let mut unused: Vec<&str> = st
        .names()
        .into_iter()
        .filter(|n| !used.contains(*n))
        .collect();
    unused.sort();
    if let Some(first) = unused.first() {
        let err = InputError::new(
            path,
            format!("tensor `{first}` is not used by any layer of the network (misspelt name?)"),
        );
        // Name the layer only if the prefix really is one.
        let prefix = first.rsplit_once('.').map(|(l, _)| l).unwrap_or(first);
        return Err(if net.layers.iter().any(|l| l.name == prefix) {
            err.layer(prefix)
        } else {
            err
        });
    }
    Ok(())
}

/// Serialises a network's parameters to safetensors bytes (deterministic).
pub fn serialize(net: &Network) -> Vec<u8> {
    let mut store: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (layer, op) in net.conv_layers() {
        let n = &layer.name;
        let bytes_i32 = |v: &[i32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        store.insert(
            format!("{n}.weight"),
            (
                Dtype::I8,
                weight_shape(op),
                op.weights.iter().map(|&w| w as u8).collect(),
            ),
        );
        store.insert(
            format!("{n}.bias"),
            (Dtype::I32, vec![op.out_ch], bytes_i32(&op.bias)),
        );
        store.insert(
            format!("{n}.multiplier"),
            (Dtype::I32, vec![op.out_ch], bytes_i32(&op.multiplier)),
        );
        let shifts: Vec<i32> = op.shift.iter().map(|&s| s as i32).collect();
        store.insert(
            format!("{n}.shift"),
            (Dtype::I32, vec![op.out_ch], bytes_i32(&shifts)),
        );
    }
    let views: Vec<(String, TensorView<'_>)> = store
        .iter()
        .map(|(k, (d, s, b))| {
            let view = TensorView::new(*d, s.clone(), b)
                .expect("shape and byte length agree by construction");
            (k.clone(), view)
        })
        .collect();
    safetensors::serialize(views, None).expect("serialising in-memory tensors cannot fail")
}
