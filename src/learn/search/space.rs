//! Search spaces after NASA's FBNet-based one (section 3 of the reference):
//! a 3x3 multiplier stem, stages of searchable MBConv blocks, global pooling
//! and a linear classifier. Candidates per block: kind {conv, shift, adder}
//! x kernel {3, 5} x expansion {1, 3, 6}, plus skip; adders are excluded
//! from the first and last blocks. Two base spaces, each scaled by depth
//! and width multipliers: the paper's 22-block CIFAR space, and a compact
//! six-block one (the default; 10 + 5 epochs on 30,000 Fashion-MNIST
//! images took 24 minutes on 2 cores).

use std::fmt::Write;

use crate::model::data::DatasetKind;
use crate::model::quant::Kind;

/// One candidate operation of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    Mb {
        kind: Kind,
        kernel: usize,
        expand: usize,
    },
    /// Identity, or a 1x1 multiplier convolution + BN + ReLU where the block
    /// changes the shape.
    Skip,
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Candidate::Mb {
                kind,
                kernel,
                expand,
            } => write!(f, "{kind}_k{kernel}_e{expand}"),
            Candidate::Skip => f.write_str("skip"),
        }
    }
}

/// One searchable block: output channels and stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSpec {
    pub channels: usize,
    pub stride: usize,
}

/// Which base space `--depth` and `--width` scale.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum SpaceName {
    /// NASA's 22-block CIFAR space.
    Nasa,
    /// Six blocks for small images, with residual blocks in the middle
    /// stages: the macro-architecture of `models/hybrid-fmnist`.
    Compact,
}

/// A search space: input, stem, stages and candidate sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    pub input: (usize, usize, usize),
    pub classes: usize,
    pub stem_channels: usize,
    /// Stages: (blocks, channels, stride of the first block).
    pub stages: Vec<(usize, usize, usize)>,
    pub kernels: Vec<usize>,
    pub expansions: Vec<usize>,
    /// Blocks at each end of the network without adder candidates.
    pub no_adder_ends: usize,
}

fn scale_channels(c: usize, width: f64) -> usize {
    (((c as f64 * width) / 4.0).round() as usize * 4).max(4)
}

impl Space {
    /// The full NASA CIFAR space: 22 blocks in stages [1,4,4,4,4,4,1] of
    /// channels [16,24,32,64,112,184,352] and strides [1,1,2,2,1,2,1],
    /// with the first and last 3 blocks adder-free.
    pub fn nasa(input: (usize, usize, usize), classes: usize) -> Space {
        let blocks = [1, 4, 4, 4, 4, 4, 1];
        let channels = [16, 24, 32, 64, 112, 184, 352];
        let strides = [1, 1, 2, 2, 1, 2, 1];
        Space {
            input,
            classes,
            stem_channels: 16,
            stages: (0..7)
                .map(|i| (blocks[i], channels[i], strides[i]))
                .collect(),
            kernels: vec![3, 5],
            expansions: vec![1, 3, 6],
            no_adder_ends: 3,
        }
    }

    /// A compact space for small images: a 16-channel stem, then stages of
    /// 1, 2, 2 and 1 blocks (16, 24, 40, 64 channels; strides 2, 2, 2, 1),
    /// the first and last block adder-free: the macro-architecture of
    /// `models/hybrid-fmnist`. Unlike the NASA space scaled down to one block
    /// per stage, its middle stages keep residual blocks. (That alone did not
    /// make the supernet learn in a probe; the wider weight sharing of
    /// `supernet.rs` did.)
    pub fn compact(input: (usize, usize, usize), classes: usize) -> Space {
        Space {
            input,
            classes,
            stem_channels: 16,
            stages: vec![(1, 16, 2), (2, 24, 2), (2, 40, 2), (1, 64, 1)],
            kernels: vec![3, 5],
            expansions: vec![1, 3, 6],
            no_adder_ends: 1,
        }
    }

    /// A base space scaled by a depth multiplier (blocks per stage, at
    /// least one) and a width multiplier (channels, multiples of 4).
    pub fn scaled(
        name: SpaceName,
        input: (usize, usize, usize),
        classes: usize,
        depth: f64,
        width: f64,
    ) -> Space {
        let full = match name {
            SpaceName::Nasa => Space::nasa(input, classes),
            SpaceName::Compact => Space::compact(input, classes),
        };
        let full_total: usize = full.stages.iter().map(|s| s.0).sum();
        let stages: Vec<(usize, usize, usize)> = full
            .stages
            .iter()
            .map(|&(b, c, s)| {
                (
                    ((b as f64 * depth).round() as usize).max(1),
                    scale_channels(c, width),
                    s,
                )
            })
            .collect();
        let total: usize = stages.iter().map(|s| s.0).sum();
        let ends = full.no_adder_ends;
        Space {
            stem_channels: scale_channels(full.stem_channels, width),
            no_adder_ends: ((ends as f64 * total as f64 / full_total as f64).round() as usize)
                .clamp(1, ends),
            stages,
            ..full
        }
    }

    /// A base space, scaled, with the input shape and classes of a data set.
    pub fn for_dataset(kind: DatasetKind, name: SpaceName, depth: f64, width: f64) -> Space {
        Space::scaled(name, kind.shape(), kind.classes(), depth, width)
    }

    pub fn blocks(&self) -> Vec<BlockSpec> {
        let mut v = Vec::new();
        for &(n, c, s) in &self.stages {
            for i in 0..n {
                v.push(BlockSpec {
                    channels: c,
                    stride: if i == 0 { s } else { 1 },
                });
            }
        }
        v
    }

    pub fn max_expansion(&self) -> usize {
        self.expansions.iter().copied().max().unwrap_or(1)
    }

    /// Candidates of block `i`, in a fixed order (kinds, kernels,
    /// expansions, then skip).
    pub fn candidates(&self, i: usize) -> Vec<Candidate> {
        let n = self.blocks().len();
        let adders = i >= self.no_adder_ends && i + self.no_adder_ends < n;
        let mut v = Vec::new();
        for kind in Kind::ALL {
            if kind == Kind::Adder && !adders {
                continue;
            }
            for &kernel in &self.kernels {
                for &expand in &self.expansions {
                    v.push(Candidate::Mb {
                        kind,
                        kernel,
                        expand,
                    });
                }
            }
        }
        v.push(Candidate::Skip);
        v
    }

    /// Accumulation terms of a candidate in block `i` (for the hardware cost).
    pub fn candidate_ops(&self, i: usize, cand: Candidate) -> (Option<Kind>, u64) {
        let (c_in, h, w) = self.block_input(i);
        let spec = self.blocks()[i];
        let (oh, ow) = ((h - 1) / spec.stride + 1, (w - 1) / spec.stride + 1);
        match cand {
            Candidate::Skip => {
                if c_in == spec.channels && spec.stride == 1 {
                    (None, 0)
                } else {
                    (Some(Kind::Conv), (c_in * spec.channels * oh * ow) as u64)
                }
            }
            Candidate::Mb {
                kind,
                kernel,
                expand,
            } => {
                let ce = c_in * expand;
                let ops = ce * c_in * h * w
                    + ce * kernel * kernel * oh * ow
                    + ce * spec.channels * oh * ow;
                (Some(kind), ops as u64)
            }
        }
    }

    /// Shape (C, H, W) at the input of block `i`.
    pub fn block_input(&self, i: usize) -> (usize, usize, usize) {
        let (_, mut h, mut w) = self.input;
        let mut c = self.stem_channels;
        for b in self.blocks().iter().take(i) {
            h = (h - 1) / b.stride + 1;
            w = (w - 1) / b.stride + 1;
            c = b.channels;
        }
        (c, h, w)
    }

    /// Operations of the fixed layers (stem and classifier), all multiplier.
    pub fn fixed_ops(&self) -> u64 {
        let (c, h, w) = self.input;
        let last = self
            .blocks()
            .last()
            .map_or(self.stem_channels, |b| b.channels);
        (c * 9 * self.stem_channels * h * w + last * self.classes) as u64
    }

    /// The network description (for `nasa train`) of one candidate per block.
    /// Scales are placeholders that training calibrates.
    pub fn describe(&self, name: &str, choice: &[Candidate], comment: &str) -> String {
        let (c, h, w) = self.input;
        let mut s = String::new();
        for line in comment.lines() {
            let _ = writeln!(s, "# {line}");
        }
        let _ = writeln!(s, "\n[network]\nname = \"{name}\"\n");
        let _ = writeln!(
            s,
            "[input]\nchannels = {c}\nheight = {h}\nwidth = {w}\nbits = 8\nscale = 0.00784313725490196\noffset = 0\nmultiplier = 1\nshift = 1\n"
        );
        let _ = writeln!(
            s,
            "[[layer]]\nname = \"stem\"\nop = \"conv2d\"\nkind = \"conv\"\nout_channels = {}\nkernel = 3\npadding = 1\nactivation = \"relu\"\nout_scale = 0.05\n",
            self.stem_channels
        );
        for (i, (spec, cand)) in self.blocks().iter().zip(choice).enumerate() {
            let (c_in, _, _) = self.block_input(i);
            match *cand {
                Candidate::Skip if c_in == spec.channels && spec.stride == 1 => {
                    let _ = writeln!(s, "# block b{i}: skip (identity)\n");
                }
                Candidate::Skip => {
                    let _ = writeln!(
                        s,
                        "# block b{i}: skip (1x1 convolution)\n[[layer]]\nname = \"b{i}\"\nop = \"conv2d\"\nkind = \"conv\"\nout_channels = {}\nkernel = 1\nstride = {}\nactivation = \"relu\"\nout_scale = 0.05\n",
                        spec.channels, spec.stride
                    );
                }
                Candidate::Mb {
                    kind,
                    kernel,
                    expand,
                } => {
                    let _ = writeln!(
                        s,
                        "[[layer]]\nname = \"b{i}\"\nop = \"mbconv\"\nkind = \"{kind}\"\nout_channels = {}\nkernel = {kernel}\nstride = {}\nexpand = {expand}\nexpand_scale = 0.05\ndw_scale = 0.05\nout_scale = 0.05\n",
                        spec.channels, spec.stride
                    );
                }
            }
        }
        let _ = writeln!(
            s,
            "[[layer]]\nname = \"gap\"\nop = \"global_avgpool\"\n\n[[layer]]\nname = \"fc\"\nop = \"linear\"\nkind = \"conv\"\nout_features = {}\nout_scale = 0.1",
            self.classes
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_space_matches_the_reference() {
        let s = Space::nasa((3, 32, 32), 10);
        assert_eq!(s.blocks().len(), 22);
        assert_eq!(s.candidates(0).len(), 13);
        assert_eq!(s.candidates(3).len(), 19);
        assert_eq!(s.candidates(18).len(), 19);
        assert_eq!(s.candidates(19).len(), 13);
        assert_eq!(s.block_input(22).0, 352);
        // e=3 is its own candidate, costed as e=3 (not e=6 or e=1).
        let e3 = Candidate::Mb {
            kind: Kind::Conv,
            kernel: 3,
            expand: 3,
        };
        let e6 = Candidate::Mb {
            kind: Kind::Conv,
            kernel: 3,
            expand: 6,
        };
        assert!(s.candidate_ops(5, e3).1 * 2 == s.candidate_ops(5, e6).1);
        assert_eq!(Space::scaled(SpaceName::Nasa, (3, 32, 32), 10, 1.0, 1.0), s);
    }

    #[test]
    fn compact_space_has_residual_blocks_and_adder_free_ends() {
        let s = Space::compact((1, 28, 28), 10);
        let blocks = s.blocks();
        assert_eq!(blocks.len(), 6);
        let residual: Vec<usize> = (0..6)
            .filter(|&i| s.block_input(i).0 == blocks[i].channels && blocks[i].stride == 1)
            .collect();
        assert_eq!(residual, vec![2, 4]);
        assert_eq!(s.candidates(0).len(), 13);
        assert_eq!(s.candidates(1).len(), 19);
        assert_eq!(s.candidates(5).len(), 13);
        assert_eq!(s.block_input(6), (64, 4, 4));
        // Scaling keeps the adder-free ends at one block.
        assert_eq!(
            Space::scaled(SpaceName::Compact, (1, 28, 28), 10, 0.5, 0.5).no_adder_ends,
            1
        );
    }
}
