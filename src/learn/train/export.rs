//! Export of a trained model as a network description and integer weights
//! in exactly the formats `nasa check`, `nasa golden` and `nasa gen` read.
//!
//! BatchNorm (frozen statistics) and the tensor scales fold into each
//! layer's integer bias and requantisation multiplier / shift (rule R4):
//! with `a = s_x * s_w[m]` the real value of one accumulator step and
//! `y = g * acc * a + b` the float layer, `M / 2^S = g * a / s_out` and
//! `bias = b / (g * a)`.

use std::path::Path;

use anyhow::{anyhow, Context, Result};

use crate::model::net::{weights, Network, Op};
use crate::model::quant::Kind;

use super::model::{Model, NodeOp, Post, BN_EPS};
use super::wquant;

/// Largest requantisation multiplier magnitude the export produces (2^23):
/// 24 significant bits, far more than 8-bit outputs need, while
/// `acc * M` stays well inside 64 bits (rule R1).
const MAX_MULTIPLIER: f64 = 8_388_608.0;

/// Fixed-point form `(M, S)` of a real factor: the largest `S <= 62` with
/// `|round(f * 2^S)| < 2^23`.
pub fn fixed_point(f: f64) -> (i32, u32) {
    if f == 0.0 || !f.is_finite() {
        return (0, 0);
    }
    let mut s = 0u32;
    while s < 62 && (f.abs() * 2f64.powi(s as i32 + 1)).round() < MAX_MULTIPLIER {
        s += 1;
    }
    let m = (f * 2f64.powi(s as i32)).round();
    (m.clamp(i32::MIN as f64, i32::MAX as f64) as i32, s)
}

/// The trained scale of each tensor a description names, by key.
fn scale_keys(net: &Network, model: &Model) -> Vec<(String, &'static str, f64)> {
    let mut keys = Vec::new();
    for (i, layer) in net.layers.iter().enumerate() {
        if !model.owns_scale(i + 1) {
            continue;
        }
        let s = model.scales[i + 1] as f64;
        let (table, key) = match layer.name.rsplit_once('.') {
            Some((block, "expand")) => (block, "expand_scale"),
            Some((block, "dw")) => (block, "dw_scale"),
            Some((block, "project")) => {
                // Without a residual the projection is the block's output.
                let has_add = net.layers.iter().any(|l| l.name == format!("{block}.add"));
                if !has_add {
                    keys.push((block.to_string(), "out_scale", s));
                }
                (block, "project_scale")
            }
            Some((block, "add")) => (block, "out_scale"),
            _ => (layer.name.as_str(), "out_scale"),
        };
        keys.push((table.to_string(), key, s));
    }
    keys
}

/// The description text of the trained network: the source description
/// with every scale replaced by the trained one and the weights file named.
pub fn description(net: &Network, model: &Model, header: &str) -> Result<String> {
    let mut doc: toml::Table = toml::from_str(&net.source).context("re-reading the description")?;
    let keys = scale_keys(net, model);
    let layers = doc
        .get_mut("layer")
        .and_then(|l| l.as_array_mut())
        .ok_or_else(|| anyhow!("the description has no [[layer]] array"))?;
    for (table, key, s) in keys {
        let t = layers
            .iter_mut()
            .filter_map(|l| l.as_table_mut())
            .find(|l| l.get("name").and_then(|n| n.as_str()) == Some(table.as_str()))
            .ok_or_else(|| anyhow!("no [[layer]] named `{table}` in the description"))?;
        t.insert(key.to_string(), toml::Value::Float(s));
    }
    if let Some(n) = doc.get_mut("network").and_then(|n| n.as_table_mut()) {
        n.insert(
            "weights".into(),
            toml::Value::String("weights.safetensors".into()),
        );
    }
    Ok(format!("{header}{}", toml::to_string(&doc)?))
}

/// Builds the integer network: parses `text` (as if at `path`), fills every
/// convolution's codes, bias, multiplier and shift from the model, and
/// returns it with its serialised weights (validated by re-attaching them).
pub fn integer_network(text: &str, path: &Path, model: &Model) -> Result<(Network, Vec<u8>)> {
    let mut net = Network::parse(text, path).map_err(|e| anyhow!("{e}"))?;
    for i in 0..net.layers.len() {
        let in_id = net.layers[i].inputs[0];
        let s_x = model.scales[in_id] as f64;
        let s_out = model.scales[i + 1] as f64;
        let NodeOp::Conv(c) = &model.nodes[i].op else {
            continue;
        };
        let Op::Conv(op) = &mut net.layers[i].op else {
            return Err(anyhow!(
                "layer `{}` is not a convolution in the model",
                net.layers[i].name
            ));
        };
        let q = match c.kind {
            Kind::Conv => wquant::conv(&c.w.v, op.out_ch, op.weight_bits),
            Kind::Shift => wquant::shift(&c.w.v, op.out_ch, op.weight_bits),
            Kind::Adder => wquant::adder(&c.w.v, op.out_ch, s_x as f32, op.weight_bits),
        };
        op.weights = q.codes;
        for m in 0..op.out_ch {
            let a = match c.kind {
                Kind::Adder => s_x,
                _ => s_x * q.scales[m] as f64,
            };
            let (g, b) = match &c.post {
                Post::Bn(bn) => {
                    let g = bn.gamma.v[m] as f64 / ((bn.var[m] + BN_EPS) as f64).sqrt();
                    (g, bn.beta.v[m] as f64 - g * bn.mean[m] as f64)
                }
                Post::Bias(p) => (1.0, p.v[m] as f64),
            };
            let ga = g * a;
            let bias = if ga != 0.0 { (b / ga).round() } else { 0.0 };
            op.bias[m] = bias.clamp(-1_073_741_824.0, 1_073_741_824.0) as i32;
            let (mult, shift) = fixed_point(ga / s_out);
            op.multiplier[m] = mult;
            op.shift[m] = shift;
        }
    }
    let bytes = weights::serialize(&net);
    let wpath = path.with_file_name("weights.safetensors");
    net.attach_weights(&bytes, &wpath)
        .map_err(|e| anyhow!("the exported weights do not validate: {e}"))?;
    Ok((net, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_keeps_24_bits() {
        let (m, s) = fixed_point(0.001);
        assert!((1 << 22..1 << 23).contains(&m), "{m}");
        assert!(((m as f64) / 2f64.powi(s as i32) - 0.001).abs() < 1e-9);
        assert_eq!(fixed_point(0.0), (0, 0));
        let (m, _) = fixed_point(-3.5);
        assert!(m < 0);
    }
}
