//! The hybrid network: its description file (TOML), the weights file
//! (safetensors) and the validated, typed representation every other stage
//! consumes.
//!
//! Guarantees of a [`Network`] (see ARCHITECTURE.md): layers are in
//! topological order and every layer is used by the output; shapes, bit
//! widths and scales are consistent; every weight, bias and requantisation
//! parameter lies in its documented range; every accumulator width is
//! derived from the fan-in, so no integer operation of the golden model or
//! the hardware can overflow.

pub mod as_multiply;
pub mod parse;
pub mod schema;
pub mod weights;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::model::error::{InputError, InputResult};
use crate::model::quant::{self, Kind};
pub use schema::Activation;
use schema::*;

/// Name of the network's input tensor in `input` references.
pub const INPUT_NAME: &str = "input";
/// Activation bit widths the datapath supports.
pub const ACT_BITS: std::ops::RangeInclusive<u32> = 2..=8;
/// Weight bit widths of conv and adder layers.
pub const WEIGHT_BITS: std::ops::RangeInclusive<u32> = 2..=8;
/// Exponent-code widths of shift layers.
pub const EXP_BITS: std::ops::RangeInclusive<u32> = 1..=4;
/// Largest tensor (elements) and largest layer (weights) accepted.
pub const MAX_ELEMENTS: u64 = 1 << 24;
/// Largest requantisation shift.
pub const MAX_SHIFT: u32 = 62;
/// Widest product `accumulator * multiplier` the datapath supports.
pub const MAX_PRODUCT_BITS: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Shape {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Shape {
    pub fn len(&self) -> usize {
        self.c * self.h * self.w
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.c, self.h, self.w)
    }
}

/// Shape, width and real-valued scale of one activation tensor.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Shape,
    pub bits: u32,
    /// Real value of one integer step (symmetric quantisation, zero point 0).
    pub scale: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    pub tensor: TensorInfo,
    pub offset: i32,
    pub multiplier: i32,
    pub shift: u32,
}

impl InputSpec {
    /// Quantise one 8-bit pixel (rule I1 of docs/arithmetic.md).
    pub fn quantize_pixel(&self, p: u8) -> i64 {
        let v = (p as i64 - self.offset as i64) * self.multiplier as i64;
        quant::saturate(quant::rshift_round(v, self.shift), self.tensor.bits)
    }

    /// The same without rounding or saturation: the float reference's input.
    pub fn pixel_real(&self, p: u8) -> f64 {
        (p as f64 - self.offset as f64) * self.multiplier as f64 / 2f64.powi(self.shift as i32)
    }
}

/// A convolution or fully connected layer of one arithmetic kind.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvOp {
    pub kind: Kind,
    /// Fully connected: the input is flattened (CHW order) and the kernel covers it.
    pub linear: bool,
    pub in_ch: usize,
    pub out_ch: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub padding: usize,
    pub groups: usize,
    /// Weight width (conv, adder) or exponent-code width (shift).
    pub weight_bits: u32,
    /// `[out_ch][in_ch / groups][kh][kw]`: integer weights, or shift codes.
    pub weights: Vec<i8>,
    pub bias: Vec<i32>,
    pub multiplier: Vec<i32>,
    pub shift: Vec<u32>,
    /// Signed accumulator width: holds bias plus the whole fan-in sum.
    pub acc_bits: u32,
}

impl ConvOp {
    pub fn fan_in(&self) -> usize {
        self.in_ch / self.groups * self.kh * self.kw
    }
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.in_ch && self.groups == self.out_ch
    }
    pub fn is_pointwise(&self) -> bool {
        !self.linear && self.kh == 1 && self.kw == 1
    }
    /// Short geometry name: `linear`, `depthwise`, `pointwise`, `grouped` or `full`.
    pub fn geometry(&self) -> &'static str {
        if self.linear {
            "linear"
        } else if self.is_depthwise() {
            "depthwise"
        } else if self.groups > 1 {
            "grouped"
        } else if self.is_pointwise() {
            "pointwise"
        } else {
            "full"
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeom {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Conv(ConvOp),
    /// `rshift_round(a * m[0] + b * m[1], shift)`.
    Add {
        multipliers: [i32; 2],
        shift: u32,
    },
    MaxPool(PoolGeom),
    /// Window sum (padding counts as zeros) times `multiplier`, rounded right shift.
    AvgPool {
        geom: PoolGeom,
        multiplier: i32,
        shift: u32,
    },
    GlobalAvgPool {
        multiplier: i32,
        shift: u32,
    },
    /// Stand-alone ReLU / ReLU6: only the layer's clamp applies.
    Clamp,
}

impl Op {
    pub fn type_name(&self) -> &'static str {
        match self {
            Op::Conv(c) if c.linear => "linear",
            Op::Conv(_) => "conv2d",
            Op::Add { .. } => "add",
            Op::MaxPool(_) => "maxpool",
            Op::AvgPool { .. } => "avgpool",
            Op::GlobalAvgPool { .. } => "global_avgpool",
            Op::Clamp => "clamp",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Unique name; sub-layers of an MBConv block are `block.expand` etc.
    pub name: String,
    /// Tensor ids of the inputs (0 is the network input, `i + 1` layer `i`'s output).
    pub inputs: Vec<usize>,
    pub op: Op,
    pub activation: Activation,
    pub out: TensorInfo,
    /// Output clamp `[lo, hi]`: the output range narrowed by the activation.
    pub clamp: (i64, i64),
}

/// Hashes of what a network was built from, stamped into generated artefacts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    pub description: PathBuf,
    pub description_sha256: String,
    pub weights: Option<PathBuf>,
    pub weights_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub name: String,
    pub input: InputSpec,
    pub layers: Vec<Layer>,
    /// Tensor id of the network output.
    pub output: usize,
    /// The weights file the description names, resolved against its directory.
    pub weights_file: Option<PathBuf>,
    pub provenance: Provenance,
    /// The description text, so generated artefacts can carry a copy.
    pub source: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Network {
    /// Info of tensor `id` (0 is the input).
    pub fn tensor(&self, id: usize) -> &TensorInfo {
        if id == 0 {
            &self.input.tensor
        } else {
            &self.layers[id - 1].out
        }
    }

    pub fn output_info(&self) -> &TensorInfo {
        self.tensor(self.output)
    }

    pub fn conv_layers(&self) -> impl Iterator<Item = (&Layer, &ConvOp)> {
        self.layers.iter().filter_map(|l| match &l.op {
            Op::Conv(c) => Some((l, c)),
            _ => None,
        })
    }

    /// Loads and validates a description file and, if it names one, its weights.
    pub fn load(path: &Path) -> InputResult<Network> {
        let path = if path.is_dir() {
            path.join("network.toml")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| InputError::new(&path, format!("cannot read network description: {e}")))?;
        let mut net = Network::parse(&text, &path)?;
        if let Some(wpath) = net.weights_file.clone() {
            let bytes = std::fs::read(&wpath)
                .map_err(|e| InputError::new(&wpath, format!("cannot read weights file: {e}")))?;
            net.attach_weights(&bytes, &wpath)?;
        } else {
            return Err(InputError::new(&path, "the network names no weights file")
                .field("network.weights"));
        }
        Ok(net)
    }

    /// Loads from in-memory sources (the embedded default network, tests).
    pub fn from_sources(
        text: &str,
        path: &Path,
        weights: &[u8],
        weights_path: &Path,
    ) -> InputResult<Network> {
        let mut net = Network::parse(text, path)?;
        net.attach_weights(weights, weights_path)?;
        Ok(net)
    }

    /// Parses and validates a description; weights, biases and requantisation
    /// parameters are zero until [`Network::attach_weights`] fills them.
    pub fn parse(text: &str, path: &Path) -> InputResult<Network> {
        let raw = parse::parse_raw(text, path)?;
        let weights_file = raw.network.weights.as_ref().map(|w| {
            let dir = path.parent().unwrap_or(Path::new("."));
            dir.join(w)
        });
        let mut net = lower(raw, path)?;
        net.weights_file = weights_file;
        net.source = text.to_string();
        net.provenance = Provenance {
            description: path.to_path_buf(),
            description_sha256: sha256_hex(text.as_bytes()),
            weights: None,
            weights_sha256: None,
        };
        Ok(net)
    }

    /// Fills the parameters from a safetensors file and validates them.
    pub fn attach_weights(&mut self, bytes: &[u8], path: &Path) -> InputResult<()> {
        weights::attach(self, bytes, path)?;
        self.provenance.weights = Some(path.to_path_buf());
        self.provenance.weights_sha256 = Some(sha256_hex(bytes));
        Ok(())
    }

    /// Operations per kind for one inference: accumulation terms of conv,
    /// shift and adder layers (a term is one multiply, shift or |x - w|).
    pub fn ops_per_kind(&self) -> [u64; 3] {
        let mut ops = [0u64; 3];
        for (layer, conv) in self.conv_layers() {
            let outputs = layer.out.shape.len() as u64;
            let k = Kind::ALL.iter().position(|&k| k == conv.kind).unwrap_or(0);
            ops[k] += outputs * conv.fan_in() as u64;
        }
        ops
    }

    pub fn parameter_count(&self) -> usize {
        self.conv_layers().map(|(_, c)| c.weights.len()).sum()
    }
}

// ---------------------------------------------------------------------------
// Lowering: raw layers -> definitions (MBConv expanded) -> ordered, checked IR.

#[derive(Debug, Clone)]
enum DefOp {
    Conv {
        kind: Kind,
        linear: bool,
        out_ch: Channels,
        kernel: u32,
        stride: u32,
        padding: u32,
        groups: Channels,
        weight_bits: Option<u32>,
        exp_bits: Option<u32>,
    },
    Add {
        multipliers: Option<[i32; 2]>,
        shift: Option<u32>,
    },
    MaxPool(PoolGeom),
    AvgPool {
        geom: PoolGeom,
        multiplier: Option<i32>,
        shift: Option<u32>,
    },
    Gap {
        multiplier: Option<i32>,
        shift: Option<u32>,
    },
    Relu,
    Relu6,
}

/// A channel count that may depend on the input's (MBConv sub-layers).
#[derive(Debug, Clone, Copy)]
enum Channels {
    Fixed(u32),
    /// The input's channel count times this factor.
    InputTimes(u32),
}

impl Channels {
    fn resolve(self, input: usize) -> usize {
        match self {
            Channels::Fixed(n) => n as usize,
            Channels::InputTimes(f) => input * f as usize,
        }
    }
}

#[derive(Debug, Clone)]
struct Def {
    name: String,
    inputs: Vec<String>,
    op: DefOp,
    activation: Activation,
    out_bits: Option<u32>,
    out_scale: Option<f64>,
    /// For an MBConv sub-layer: whether the residual add was asked for explicitly.
    explicit_residual: bool,
    /// An MBConv residual add left to its default: dropped if shapes differ.
    auto_residual: bool,
}

fn pool_geom(p: &RawPool) -> PoolGeom {
    PoolGeom {
        kernel: p.kernel as usize,
        stride: p.stride.unwrap_or(p.kernel) as usize,
        padding: p.padding as usize,
    }
}

/// Expands raw layers into definitions; returns them and the alias map
/// (MBConv block name -> its last sub-layer).
fn expand(raw: Vec<RawLayer>, path: &Path) -> InputResult<(Vec<Def>, HashMap<String, String>)> {
    let mut defs = Vec::new();
    let mut alias = HashMap::new();
    let mut prev = INPUT_NAME.to_string();
    let mut seen = std::collections::HashSet::new();
    for layer in raw {
        let name = layer.name().to_string();
        if !seen.insert(name.clone()) {
            return Err(
                InputError::new(path, format!("duplicate layer name `{name}`"))
                    .layer(&name)
                    .field("name"),
            );
        }
        if name.is_empty() || name == INPUT_NAME || name.contains(char::is_whitespace) {
            return Err(InputError::new(path, format!("invalid layer name `{name}` (must be non-empty, without spaces, and not `{INPUT_NAME}`)"))
                .layer(&name)
                .field("name"));
        }
        let base = |input: Option<String>, op, activation, out_bits, out_scale| Def {
            name: name.clone(),
            inputs: vec![input.unwrap_or_else(|| prev.clone())],
            op,
            activation,
            out_bits,
            out_scale,
            explicit_residual: false,
            auto_residual: false,
        };
        match layer {
            RawLayer::Conv2d(c) => defs.push(base(
                c.input,
                DefOp::Conv {
                    kind: c.kind,
                    linear: false,
                    out_ch: Channels::Fixed(c.out_channels),
                    kernel: c.kernel,
                    stride: c.stride,
                    padding: c.padding,
                    groups: Channels::Fixed(c.groups),
                    weight_bits: c.weight_bits,
                    exp_bits: c.exp_bits,
                },
                c.activation,
                Some(c.out_bits),
                Some(c.out_scale),
            )),
            RawLayer::Linear(c) => defs.push(base(
                c.input,
                DefOp::Conv {
                    kind: c.kind,
                    linear: true,
                    out_ch: Channels::Fixed(c.out_features),
                    kernel: 0,
                    stride: 1,
                    padding: 0,
                    groups: Channels::Fixed(1),
                    weight_bits: c.weight_bits,
                    exp_bits: c.exp_bits,
                },
                c.activation,
                Some(c.out_bits),
                Some(c.out_scale),
            )),
            RawLayer::Add(a) => {
                let mut d = base(
                    None,
                    DefOp::Add {
                        multipliers: a.multipliers,
                        shift: a.shift,
                    },
                    a.activation,
                    Some(a.out_bits),
                    Some(a.out_scale),
                );
                if a.inputs.len() != 2 {
                    return Err(InputError::new(
                        path,
                        format!("an add takes exactly 2 inputs, got {}", a.inputs.len()),
                    )
                    .layer(&name)
                    .field("inputs"));
                }
                d.inputs = a.inputs;
                defs.push(d);
            }
            RawLayer::Maxpool(p) => {
                if p.multiplier.is_some() || p.shift.is_some() {
                    return Err(
                        InputError::new(path, "max pooling takes no multiplier or shift")
                            .layer(&name)
                            .field(if p.multiplier.is_some() {
                                "multiplier"
                            } else {
                                "shift"
                            }),
                    );
                }
                defs.push(base(
                    p.input.clone(),
                    DefOp::MaxPool(pool_geom(&p)),
                    Activation::None,
                    None,
                    None,
                ))
            }
            RawLayer::Avgpool(p) => defs.push(base(
                p.input.clone(),
                DefOp::AvgPool {
                    geom: pool_geom(&p),
                    multiplier: p.multiplier,
                    shift: p.shift,
                },
                Activation::None,
                None,
                None,
            )),
            RawLayer::GlobalAvgpool(g) => defs.push(base(
                g.input,
                DefOp::Gap {
                    multiplier: g.multiplier,
                    shift: g.shift,
                },
                Activation::None,
                None,
                None,
            )),
            RawLayer::Relu(u) => {
                defs.push(base(u.input, DefOp::Relu, Activation::Relu, None, None))
            }
            RawLayer::Relu6(u) => {
                defs.push(base(u.input, DefOp::Relu6, Activation::Relu6, None, None))
            }
            RawLayer::Mbconv(m) => {
                let input = m.input.clone().unwrap_or_else(|| prev.clone());
                let conv = |kernel, stride, groups, out_ch| DefOp::Conv {
                    kind: m.kind,
                    linear: false,
                    out_ch,
                    kernel,
                    stride,
                    padding: kernel / 2,
                    groups,
                    weight_bits: m.weight_bits,
                    exp_bits: m.exp_bits,
                };
                let sub = |s: &str| format!("{name}.{s}");
                let residual_wanted = m.residual.unwrap_or(true);
                // Section 7 of docs/arithmetic.md: the projection's scale is
                // `project_scale`, defaulting to `out_scale`, whether or not a
                // residual add follows it.
                let project_scale = m.project_scale.unwrap_or(m.out_scale);
                if m.expand == 0 {
                    return Err(InputError::new(path, "expansion ratio must be at least 1")
                        .layer(&name)
                        .field("expand"));
                }
                let single = Channels::Fixed(1);
                let depthwise = Channels::InputTimes(1);
                defs.push(Def {
                    name: sub("expand"),
                    inputs: vec![input.clone()],
                    op: conv(1, 1, single, Channels::InputTimes(m.expand)),
                    activation: Activation::Relu,
                    out_bits: Some(m.out_bits),
                    out_scale: Some(m.expand_scale),
                    explicit_residual: false,
                    auto_residual: false,
                });
                defs.push(Def {
                    name: sub("dw"),
                    inputs: vec![sub("expand")],
                    op: conv(m.kernel, m.stride, depthwise, depthwise),
                    activation: Activation::Relu,
                    out_bits: Some(m.out_bits),
                    out_scale: Some(m.dw_scale),
                    explicit_residual: false,
                    auto_residual: false,
                });
                defs.push(Def {
                    name: sub("project"),
                    inputs: vec![sub("dw")],
                    op: conv(1, 1, single, Channels::Fixed(m.out_channels)),
                    activation: Activation::None,
                    out_bits: Some(m.out_bits),
                    out_scale: Some(project_scale),
                    explicit_residual: false,
                    auto_residual: false,
                });
                if residual_wanted {
                    defs.push(Def {
                        name: sub("add"),
                        inputs: vec![input, sub("project")],
                        op: DefOp::Add {
                            multipliers: None,
                            shift: None,
                        },
                        activation: Activation::None,
                        out_bits: Some(m.out_bits),
                        out_scale: Some(m.out_scale),
                        explicit_residual: m.residual == Some(true),
                        auto_residual: m.residual.is_none(),
                    });
                }
                alias.insert(
                    name.clone(),
                    defs.last().map(|d| d.name.clone()).unwrap_or_default(),
                );
            }
        }
        prev = name;
    }
    Ok((defs, alias))
}

fn lower(raw: RawFile, path: &Path) -> InputResult<Network> {
    let input_err =
        |field: &str, msg: String| InputError::new(path, msg).field(format!("input.{field}"));
    let ri = &raw.input;
    if !ACT_BITS.contains(&ri.bits) {
        return Err(input_err(
            "bits",
            format!(
                "{} bits is outside the supported {}..={}",
                ri.bits,
                ACT_BITS.start(),
                ACT_BITS.end()
            ),
        ));
    }
    for (f, v) in [
        ("channels", ri.channels),
        ("height", ri.height),
        ("width", ri.width),
    ] {
        if v == 0 || v > 4096 {
            return Err(input_err(f, format!("{v} is outside 1..=4096")));
        }
    }
    let elements = ri.channels as u64 * ri.height as u64 * ri.width as u64;
    if elements > MAX_ELEMENTS {
        return Err(input_err(
            "channels",
            format!("the input has {elements} elements, more than the limit of {MAX_ELEMENTS}"),
        ));
    }
    check_scale(ri.scale).map_err(|m| input_err("scale", m))?;
    if ri.shift > 30 {
        return Err(input_err(
            "shift",
            format!("{} is outside 0..=30", ri.shift),
        ));
    }
    let input = InputSpec {
        tensor: TensorInfo {
            name: INPUT_NAME.into(),
            shape: Shape {
                c: ri.channels as usize,
                h: ri.height as usize,
                w: ri.width as usize,
            },
            bits: ri.bits,
            scale: ri.scale,
        },
        offset: ri.offset,
        multiplier: ri.multiplier,
        shift: ri.shift,
    };
    if raw.layers.is_empty() {
        return Err(InputError::new(path, "the network has no layers").field("layer"));
    }
    let (mut defs, mut alias) = expand(raw.layers, path)?;
    // An MBConv residual left to its default is dropped when the block
    // changes the shape; that is only known once shapes are inferred, so
    // assemble again without it.
    loop {
        match assemble(&defs, &alias, &input, raw.network.output.as_deref(), path)? {
            Ok(layers_and_output) => {
                let (layers, output) = layers_and_output;
                return Ok(Network {
                    name: raw.network.name,
                    input,
                    output,
                    layers,
                    weights_file: None,
                    source: String::new(),
                    provenance: Provenance {
                        description: path.to_path_buf(),
                        description_sha256: String::new(),
                        weights: None,
                        weights_sha256: None,
                    },
                });
            }
            Err(drop) => {
                let gone = defs.remove(drop);
                let project = gone.inputs[1].clone();
                for target in alias.values_mut() {
                    if *target == gone.name {
                        *target = project.clone();
                    }
                }
            }
        }
    }
}

/// Orders, checks and builds the layers of expanded definitions. The inner
/// `Err(i)` asks the caller to drop definition `i` (an automatic residual
/// add that does not fit) and try again.
#[allow(clippy::type_complexity)]
fn assemble(
    defs: &[Def],
    alias: &HashMap<String, String>,
    input: &InputSpec,
    output: Option<&str>,
    path: &Path,
) -> InputResult<Result<(Vec<Layer>, usize), usize>> {
    // Names and references.
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, d) in defs.iter().enumerate() {
        if index.insert(d.name.as_str(), i).is_some() {
            return Err(
                InputError::new(path, format!("duplicate layer name `{}`", d.name))
                    .layer(&d.name)
                    .field("name"),
            );
        }
    }
    let resolve = |d: &Def, r: &str| -> InputResult<Option<usize>> {
        if r == INPUT_NAME {
            return Ok(None);
        }
        let target = alias.get(r).map(String::as_str).unwrap_or(r);
        index.get(target).map(|&i| Some(i)).ok_or_else(|| {
            InputError::new(
                path,
                format!("refers to `{r}`, which is neither a layer nor `{INPUT_NAME}`"),
            )
            .layer(&d.name)
            .field(if matches!(d.op, DefOp::Add { .. }) {
                "inputs"
            } else {
                "input"
            })
        })
    };
    let mut deps: Vec<Vec<Option<usize>>> = Vec::with_capacity(defs.len());
    for d in defs {
        let mut v = Vec::new();
        for r in &d.inputs {
            v.push(resolve(d, r)?);
        }
        deps.push(v);
    }

    // Topological order (Kahn, stable in file order); a leftover is a cycle.
    let n = defs.len();
    let mut order = Vec::with_capacity(n);
    let mut placed = vec![false; n];
    while order.len() < n {
        let next =
            (0..n).find(|&i| !placed[i] && deps[i].iter().all(|d| d.is_none_or(|j| placed[j])));
        match next {
            Some(i) => {
                placed[i] = true;
                order.push(i);
            }
            None => {
                // Every unplaced layer waits on an unplaced one: walk those
                // edges until a layer repeats; the repeat closes the cycle.
                let mut walk = vec![(0..n).find(|&i| !placed[i]).unwrap_or(0)];
                let cycle = loop {
                    let cur = *walk.last().unwrap_or(&0);
                    let next = deps[cur]
                        .iter()
                        .flatten()
                        .copied()
                        .find(|&j| !placed[j])
                        .unwrap_or(cur);
                    if let Some(pos) = walk.iter().position(|&v| v == next) {
                        break walk[pos..].to_vec();
                    }
                    walk.push(next);
                };
                let mut names: Vec<&str> = cycle.iter().map(|&i| defs[i].name.as_str()).collect();
                names.reverse();
                let first = cycle.iter().copied().min().unwrap_or(0);
                return Err(InputError::new(
                    path,
                    format!(
                        "the layer graph has a cycle: {} -> {}",
                        names.join(" -> "),
                        names[0]
                    ),
                )
                .layer(&defs[first].name)
                .field("input"));
            }
        }
    }

    // Output and liveness.
    let output_def = match output {
        Some(o) => match resolve(&defs[0], o) {
            Ok(Some(i)) => i,
            _ => {
                return Err(
                    InputError::new(path, format!("output `{o}` is not a layer"))
                        .field("network.output"),
                )
            }
        },
        None => n - 1,
    };
    let mut live = vec![false; n];
    let mut stack = vec![output_def];
    while let Some(i) = stack.pop() {
        if !live[i] {
            live[i] = true;
            stack.extend(deps[i].iter().flatten().copied());
        }
    }
    if let Some(dead) = (0..n).find(|&i| !live[i]) {
        return Err(InputError::new(
            path,
            "this layer's output is never used on the way to the network output",
        )
        .layer(&defs[dead].name));
    }

    // Build layers in order, inferring shapes and checking each.
    let mut tensor_of = vec![0usize; n];
    let mut layers: Vec<Layer> = Vec::with_capacity(n);
    for &i in &order {
        let d = &defs[i];
        let inputs: Vec<usize> = deps[i]
            .iter()
            .map(|x| x.map_or(0, |j| tensor_of[j]))
            .collect();
        let infos: Vec<TensorInfo> = inputs
            .iter()
            .map(|&t| {
                if t == 0 {
                    input.tensor.clone()
                } else {
                    layers[t - 1].out.clone()
                }
            })
            .collect();
        if d.auto_residual && infos[0].shape != infos[1].shape {
            return Ok(Err(i));
        }
        let layer = build_layer(d, inputs, &infos, path)?;
        layers.push(layer);
        tensor_of[i] = layers.len();
    }
    Ok(Ok((layers, tensor_of[output_def])))
}

fn check_scale(s: f64) -> Result<(), String> {
    if s.is_finite() && s > 0.0 {
        Ok(())
    } else {
        Err(format!(
            "scale must be a finite number greater than 0, got {s}"
        ))
    }
}

fn out_size(input: usize, k: usize, s: usize, p: usize) -> Option<usize> {
    (input + 2 * p).checked_sub(k).map(|v| v / s + 1)
}

fn build_layer(
    d: &Def,
    inputs: Vec<usize>,
    infos: &[TensorInfo],
    path: &Path,
) -> InputResult<Layer> {
    let err = |field: &str, msg: String| InputError::new(path, msg).layer(&d.name).field(field);
    let x = &infos[0];
    let out_bits = d.out_bits.unwrap_or(x.bits);
    if !ACT_BITS.contains(&out_bits) {
        return Err(err(
            "out_bits",
            format!(
                "{out_bits} bits is outside the supported {}..={}",
                ACT_BITS.start(),
                ACT_BITS.end()
            ),
        ));
    }
    let out_scale = d.out_scale.unwrap_or(x.scale);
    check_scale(out_scale).map_err(|m| err("out_scale", m))?;
    let (op, shape) = match &d.op {
        &DefOp::Conv {
            kind,
            linear,
            out_ch,
            kernel,
            stride,
            padding,
            groups,
            weight_bits,
            exp_bits,
        } => {
            let in_ch = x.shape.c;
            let out_ch = out_ch.resolve(in_ch);
            let groups = groups.resolve(in_ch);
            let field_name = if linear {
                "out_features"
            } else {
                "out_channels"
            };
            if out_ch == 0 || out_ch > 65536 {
                return Err(err(field_name, format!("{out_ch} is outside 1..=65536")));
            }
            let wbits = match (kind, weight_bits, exp_bits) {
                (Kind::Shift, Some(_), _) => {
                    return Err(err(
                        "weight_bits",
                        "shift layers take `exp_bits`, not `weight_bits`".into(),
                    ))
                }
                (Kind::Conv | Kind::Adder, _, Some(_)) => {
                    return Err(err(
                        "exp_bits",
                        format!("`exp_bits` applies only to shift layers, this one is {kind}"),
                    ))
                }
                (Kind::Shift, None, e) => {
                    let e = e.unwrap_or(3);
                    if !EXP_BITS.contains(&e) {
                        return Err(err(
                            "exp_bits",
                            format!(
                                "{e} is outside the supported {}..={}",
                                EXP_BITS.start(),
                                EXP_BITS.end()
                            ),
                        ));
                    }
                    e
                }
                (Kind::Conv | Kind::Adder, w, None) => {
                    let w = w.unwrap_or(if kind == Kind::Adder { x.bits } else { 8 });
                    if !WEIGHT_BITS.contains(&w) {
                        return Err(err(
                            "weight_bits",
                            format!(
                                "{w} bits is outside the supported {}..={}",
                                WEIGHT_BITS.start(),
                                WEIGHT_BITS.end()
                            ),
                        ));
                    }
                    if kind == Kind::Adder && w != x.bits {
                        return Err(err(
                            "weight_bits",
                            format!("adder weights must have the width of the layer's input ({} bits, from `{}`) so that |x - w| is exact; got {w}", x.bits, x.name),
                        ));
                    }
                    w
                }
            };
            let (kh, kw, stride, padding) = if linear {
                (x.shape.h, x.shape.w, 1, 0)
            } else {
                (
                    kernel as usize,
                    kernel as usize,
                    stride as usize,
                    padding as usize,
                )
            };
            if !linear {
                if kernel == 0 || kernel > 15 {
                    return Err(err("kernel", format!("{kernel} is outside 1..=15")));
                }
                if stride == 0 || stride > 8 {
                    return Err(err("stride", format!("{stride} is outside 1..=8")));
                }
                if padding >= kh {
                    return Err(err(
                        "padding",
                        format!("padding {padding} must be smaller than the kernel {kh}"),
                    ));
                }
            }
            if groups == 0 || in_ch % groups != 0 || out_ch % groups != 0 {
                return Err(err(
                    "groups",
                    format!("{groups} groups must divide both the input channels ({in_ch}, from `{}`) and the output channels ({out_ch})", x.name),
                ));
            }
            let (Some(oh), Some(ow)) = (
                out_size(x.shape.h, kh, stride, padding),
                out_size(x.shape.w, kw, stride, padding),
            ) else {
                return Err(err(
                    "kernel",
                    format!(
                        "kernel {kh}x{kw} does not fit the padded {}x{} input from `{}`",
                        x.shape.h, x.shape.w, x.name
                    ),
                ));
            };
            let params = out_ch as u64 * (in_ch / groups) as u64 * (kh * kw) as u64;
            if params > MAX_ELEMENTS {
                return Err(err(
                    field_name,
                    format!("{params} weights exceed the limit of {MAX_ELEMENTS} per layer"),
                ));
            }
            let op = ConvOp {
                kind,
                linear,
                in_ch,
                out_ch,
                kh,
                kw,
                stride,
                padding,
                groups,
                weight_bits: wbits,
                weights: vec![0; out_ch * in_ch / groups * kh * kw],
                bias: vec![0; out_ch],
                multiplier: vec![1; out_ch],
                shift: vec![0; out_ch],
                acc_bits: 0,
            };
            let mut op = op;
            op.acc_bits = accumulator_bits(&op, x.bits, 0);
            (
                Op::Conv(op),
                Shape {
                    c: out_ch,
                    h: oh,
                    w: ow,
                },
            )
        }
        DefOp::Add { multipliers, shift } => {
            let y = &infos[1];
            if x.shape != y.shape {
                let msg = format!(
                    "cannot add `{}` ({}) and `{}` ({}): shapes differ",
                    x.name, x.shape, y.name, y.shape
                );
                let field = if d.explicit_residual {
                    "residual"
                } else {
                    "inputs"
                };
                return Err(err(field, msg));
            }
            let shift = shift.unwrap_or(quant::RESCALE_SHIFT);
            if shift > MAX_SHIFT {
                return Err(err("shift", format!("{shift} is outside 0..={MAX_SHIFT}")));
            }
            let multipliers = match multipliers {
                Some(m) => *m,
                None => {
                    let mut m = [0i32; 2];
                    for (k, info) in infos.iter().enumerate() {
                        let v = (info.scale / out_scale * 2f64.powi(shift as i32)).round();
                        if v.abs() >= i32::MAX as f64 {
                            return Err(err("out_scale", format!("rescaling `{}` (scale {}) to scale {out_scale} needs a multiplier beyond 32 bits", info.name, info.scale)));
                        }
                        m[k] = v as i32;
                    }
                    m
                }
            };
            (Op::Add { multipliers, shift }, x.shape)
        }
        &DefOp::MaxPool(g) => (Op::MaxPool(g), pool_shape(&g, x, &err)?),
        &DefOp::AvgPool {
            geom,
            multiplier,
            shift,
        } => {
            let (m, s) =
                average_params(geom.kernel * geom.kernel, multiplier, shift, x.bits, &err)?;
            (
                Op::AvgPool {
                    geom,
                    multiplier: m,
                    shift: s,
                },
                pool_shape(&geom, x, &err)?,
            )
        }
        &DefOp::Gap { multiplier, shift } => {
            let (m, s) = average_params(x.shape.h * x.shape.w, multiplier, shift, x.bits, &err)?;
            (
                Op::GlobalAvgPool {
                    multiplier: m,
                    shift: s,
                },
                Shape {
                    c: x.shape.c,
                    h: 1,
                    w: 1,
                },
            )
        }
        DefOp::Relu | DefOp::Relu6 => (Op::Clamp, x.shape),
    };
    if shape.len() as u64 > MAX_ELEMENTS {
        return Err(err(
            "out_channels",
            format!("output {shape} has more than {MAX_ELEMENTS} elements"),
        ));
    }
    let (lo, hi) = quant::signed_range(out_bits);
    let clamp = match d.activation {
        Activation::None => (lo, hi),
        Activation::Relu => (0, hi),
        Activation::Relu6 => (0, quant::relu6_max(out_scale, out_bits)),
    };
    Ok(Layer {
        name: d.name.clone(),
        inputs,
        op,
        activation: d.activation,
        out: TensorInfo {
            name: d.name.clone(),
            shape,
            bits: out_bits,
            scale: out_scale,
        },
        clamp,
    })
}

fn pool_shape(
    g: &PoolGeom,
    x: &TensorInfo,
    err: &dyn Fn(&str, String) -> InputError,
) -> InputResult<Shape> {
    if g.kernel == 0 || g.kernel > 15 {
        return Err(err("kernel", format!("{} is outside 1..=15", g.kernel)));
    }
    if g.stride == 0 || g.stride > 15 {
        return Err(err("stride", format!("{} is outside 1..=15", g.stride)));
    }
    if g.padding >= g.kernel {
        return Err(err(
            "padding",
            format!(
                "padding {} must be smaller than the kernel {}",
                g.padding, g.kernel
            ),
        ));
    }
    match (
        out_size(x.shape.h, g.kernel, g.stride, g.padding),
        out_size(x.shape.w, g.kernel, g.stride, g.padding),
    ) {
        (Some(h), Some(w)) => Ok(Shape { c: x.shape.c, h, w }),
        _ => Err(err(
            "kernel",
            format!(
                "window {} does not fit the {}x{} input from `{}`",
                g.kernel, x.shape.h, x.shape.w, x.name
            ),
        )),
    }
}

fn average_params(
    n: usize,
    multiplier: Option<i32>,
    shift: Option<u32>,
    bits: u32,
    err: &dyn Fn(&str, String) -> InputError,
) -> InputResult<(i32, u32)> {
    let (dm, ds) = quant::default_average(n as u64);
    let (m, s) = match (multiplier, shift) {
        (None, None) => (dm, ds),
        (Some(m), Some(s)) => (m, s),
        (Some(_), None) => return Err(err("shift", "a multiplier needs a shift as well".into())),
        (None, Some(_)) => {
            return Err(err(
                "multiplier",
                "a shift needs a multiplier as well".into(),
            ))
        }
    };
    if s > MAX_SHIFT {
        return Err(err("shift", format!("{s} is outside 0..={MAX_SHIFT}")));
    }
    let sum_bits = quant::signed_bits_for(n as u64 * (1u64 << (bits - 1)));
    let m_bits = quant::signed_bits_for(m.unsigned_abs() as u64);
    if sum_bits + m_bits > MAX_PRODUCT_BITS {
        return Err(err("multiplier", format!("window sum ({sum_bits} bits) times multiplier ({m_bits} bits) exceeds {MAX_PRODUCT_BITS} bits")));
    }
    Ok((m, s))
}

/// Accumulator width of a conv layer (rule R1): bits for `max|bias| + fan_in * max|term|`.
pub fn accumulator_bits(op: &ConvOp, x_bits: u32, max_abs_bias: u64) -> u32 {
    let bound =
        op.fan_in() as u64 * quant::max_term(op.kind, x_bits, op.weight_bits) + max_abs_bias;
    quant::signed_bits_for(bound)
}
