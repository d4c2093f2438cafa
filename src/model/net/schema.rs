//! The serde schema of the network description file (TOML), as written by
//! users. Everything here is syntax: meaning and checks live in `super`.

use serde::Deserialize;

use crate::model::quant::Kind;

fn one() -> u32 {
    1
}
fn eight() -> u32 {
    8
}
fn one_i32() -> i32 {
    1
}

/// A whole description; layers are dispatched on their `op` by `super::parse`.
#[derive(Debug)]
pub struct RawFile {
    pub network: RawNetwork,
    pub input: RawInput,
    pub layers: Vec<RawLayer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub name: String,
    /// Weights file (safetensors), relative to the description file.
    pub weights: Option<String>,
    /// Name of the layer whose output is the network's output (default: last layer).
    pub output: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    pub channels: u32,
    pub height: u32,
    pub width: u32,
    #[serde(default = "eight")]
    pub bits: u32,
    pub scale: f64,
    /// Pixel preprocessing: q = sat(rshift_round((pixel - offset) * multiplier, shift)).
    #[serde(default)]
    pub offset: i32,
    #[serde(default = "one_i32")]
    pub multiplier: i32,
    #[serde(default = "one")]
    pub shift: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    #[default]
    None,
    Relu,
    Relu6,
}

/// One `[[layer]]` table, by its `op`.
#[derive(Debug)]
pub enum RawLayer {
    Conv2d(RawConv),
    Linear(RawLinear),
    Add(RawAdd),
    Maxpool(RawPool),
    Avgpool(RawPool),
    GlobalAvgpool(RawGap),
    Relu(RawUnary),
    Relu6(RawUnary),
    Mbconv(RawMbconv),
}

impl RawLayer {
    pub fn name(&self) -> &str {
        match self {
            RawLayer::Conv2d(l) => &l.name,
            RawLayer::Linear(l) => &l.name,
            RawLayer::Add(l) => &l.name,
            RawLayer::Maxpool(l) | RawLayer::Avgpool(l) => &l.name,
            RawLayer::GlobalAvgpool(l) => &l.name,
            RawLayer::Relu(l) | RawLayer::Relu6(l) => &l.name,
            RawLayer::Mbconv(l) => &l.name,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConv {
    pub name: String,
    pub input: Option<String>,
    pub kind: Kind,
    pub out_channels: u32,
    pub kernel: u32,
    #[serde(default = "one")]
    pub stride: u32,
    #[serde(default)]
    pub padding: u32,
    #[serde(default = "one")]
    pub groups: u32,
    #[serde(default)]
    pub activation: Activation,
    #[serde(default = "eight")]
    pub out_bits: u32,
    pub weight_bits: Option<u32>,
    pub exp_bits: Option<u32>,
    pub out_scale: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLinear {
    pub name: String,
    pub input: Option<String>,
    pub kind: Kind,
    pub out_features: u32,
    #[serde(default)]
    pub activation: Activation,
    #[serde(default = "eight")]
    pub out_bits: u32,
    pub weight_bits: Option<u32>,
    pub exp_bits: Option<u32>,
    pub out_scale: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdd {
    pub name: String,
    pub inputs: Vec<String>,
    pub multipliers: Option<[i32; 2]>,
    pub shift: Option<u32>,
    #[serde(default)]
    pub activation: Activation,
    #[serde(default = "eight")]
    pub out_bits: u32,
    pub out_scale: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    pub name: String,
    pub input: Option<String>,
    pub kernel: u32,
    pub stride: Option<u32>,
    #[serde(default)]
    pub padding: u32,
    /// Average pooling only: fixed-point reciprocal of the window size.
    pub multiplier: Option<i32>,
    pub shift: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGap {
    pub name: String,
    pub input: Option<String>,
    pub multiplier: Option<i32>,
    pub shift: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUnary {
    pub name: String,
    pub input: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMbconv {
    pub name: String,
    pub input: Option<String>,
    pub kind: Kind,
    pub out_channels: u32,
    pub kernel: u32,
    #[serde(default = "one")]
    pub stride: u32,
    pub expand: u32,
    /// Residual add; default: present when the shapes allow it.
    pub residual: Option<bool>,
    #[serde(default = "eight")]
    pub out_bits: u32,
    pub weight_bits: Option<u32>,
    pub exp_bits: Option<u32>,
    /// Scales of the expanded and depthwise activations and of the block output.
    pub expand_scale: f64,
    pub dw_scale: f64,
    pub out_scale: f64,
    /// Scale of the projection before the residual add (default: out_scale).
    pub project_scale: Option<f64>,
}
