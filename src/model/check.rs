//! What `nasa check` reports about a validated network: every layer's
//! shapes, widths and operations, the operations and compute energy per
//! kind, and the provenance hashes.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::model::cost::{network_energy, UnitEnergy};
use crate::model::net::{Activation, Network, Op, Provenance, Shape};
use crate::model::quant::Kind;

/// A shape as `[C, H, W]`.
fn shape_array<S: Serializer>(s: &Shape, ser: S) -> Result<S::Ok, S::Error> {
    [s.c, s.h, s.w].serialize(ser)
}

/// One layer of a checked network.
#[derive(Debug, Clone, Serialize)]
pub struct LayerRow {
    pub name: String,
    pub op: &'static str,
    /// The conv kind (`conv`, `shift`, `adder`); `-` for other layers.
    pub kind: &'static str,
    /// The conv geometry; `-` for other layers.
    pub geometry: &'static str,
    /// Names of the input tensors.
    pub inputs: Vec<String>,
    #[serde(serialize_with = "shape_array")]
    pub input_shape: Shape,
    #[serde(serialize_with = "shape_array")]
    pub output_shape: Shape,
    pub out_bits: u32,
    pub acc_bits: Option<u32>,
    pub activation: Activation,
    /// Operations per inference (0 for non-conv layers).
    pub ops: u64,
}

/// The report of `nasa check`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub ok: bool,
    pub network: String,
    #[serde(serialize_with = "shape_array")]
    pub input_shape: Shape,
    #[serde(skip)]
    pub input_bits: u32,
    /// Name of the output tensor.
    pub output: String,
    #[serde(skip)]
    pub output_shape: Shape,
    pub layers: Vec<LayerRow>,
    /// Operations per inference by kind.
    pub ops: BTreeMap<&'static str, u64>,
    /// Compute energy per inference by the 45 nm unit table (pJ), by kind
    /// and in `total`.
    pub compute_energy_pj: BTreeMap<&'static str, f64>,
    pub parameters: usize,
    pub provenance: Provenance,
}

/// Reports on a loaded (hence validated) network.
pub fn check(net: &Network) -> CheckReport {
    let layers = net
        .layers
        .iter()
        .map(|layer| {
            let (kind, geometry, acc_bits, ops) = match &layer.op {
                Op::Conv(c) => (
                    c.kind.name(),
                    c.geometry(),
                    Some(c.acc_bits),
                    (layer.out.shape.len() * c.fan_in()) as u64,
                ),
                _ => ("-", "-", None, 0),
            };
            LayerRow {
                name: layer.name.clone(),
                op: layer.op.type_name(),
                kind,
                geometry,
                inputs: layer
                    .inputs
                    .iter()
                    .map(|&t| net.tensor(t).name.clone())
                    .collect(),
                input_shape: net.tensor(layer.inputs[0]).shape,
                output_shape: layer.out.shape,
                out_bits: layer.out.bits,
                acc_bits,
                activation: layer.activation,
                ops,
            }
        })
        .collect();
    let (energy, total) = network_energy(net, &UnitEnergy::default());
    let mut compute_energy_pj: BTreeMap<&'static str, f64> =
        Kind::ALL.iter().map(|k| k.name()).zip(energy).collect();
    compute_energy_pj.insert("total", total);
    let out = net.output_info();
    CheckReport {
        ok: true,
        network: net.name.clone(),
        input_shape: net.input.tensor.shape,
        input_bits: net.input.tensor.bits,
        output: out.name.clone(),
        output_shape: out.shape,
        layers,
        ops: Kind::ALL
            .iter()
            .map(|k| k.name())
            .zip(net.ops_per_kind())
            .collect(),
        compute_energy_pj,
        parameters: net.parameter_count(),
        provenance: net.provenance.clone(),
    }
}
