//! The accelerator description (TOML): the three chunks' PE arrays (CLP
//! multiply-accumulate, SLP shift-accumulate, ALP adder), the global buffer,
//! the external memory port and the clock target. One typed struct, with
//! validation that explains itself, and `size`, which proposes one for a
//! network from a PE budget.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::error::{InputError, InputResult};
use crate::model::net::Network;
use crate::model::quant::Kind;

/// Area of a shift or adder PE relative to a multiply-accumulate PE
/// (reference cost model, NASA-F: 1 / 1.88).
pub const CHEAP_PE_AREA: f64 = 1.0 / 1.88;

/// The PE budget (in multiply-accumulate-PE areas) of `nasa size`, of
/// `nasa gen` without an architecture and of `nasa map`.
pub const DEFAULT_BUDGET: u32 = 168;

/// The clock target when none is given.
pub const DEFAULT_CLOCK_MHZ: f64 = 250.0;

fn default_clock() -> f64 {
    DEFAULT_CLOCK_MHZ
}
fn default_words() -> u32 {
    131_072
}
fn default_banks() -> u32 {
    4
}
fn default_data_bits() -> u32 {
    64
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arch {
    pub accelerator: AccelInfo,
    /// Conv layer processor: multiply-accumulate PEs. Absent: no such chunk.
    pub clp: Option<Chunk>,
    /// Shift layer processor.
    pub slp: Option<Chunk>,
    /// Adder layer processor.
    pub alp: Option<Chunk>,
    #[serde(default)]
    pub buffer: Buffer,
    #[serde(default)]
    pub memory: Memory,
    #[serde(default, skip_serializing_if = "Schedule::is_default")]
    pub schedule: Schedule,
    /// The file it was read from (for messages; not part of the TOML).
    #[serde(skip)]
    pub path: std::path::PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccelInfo {
    pub name: String,
    #[serde(default = "default_clock")]
    pub clock_mhz: f64,
}

/// A 2-D PE array: `rows * cols` PEs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chunk {
    pub rows: u32,
    pub cols: u32,
}

impl Chunk {
    pub fn pes(&self) -> u32 {
        self.rows * self.cols
    }
}

/// The on-chip global buffer, in 8-bit words, split into banks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Buffer {
    #[serde(default = "default_words")]
    pub words: u32,
    #[serde(default = "default_banks")]
    pub banks: u32,
}

impl Buffer {
    /// A buffer of `words` bytes in the default number of banks, fewer if
    /// the buffer holds fewer lines of a `data_bits`-wide memory port (at
    /// least one bank).
    pub fn with_words(words: u32, data_bits: u32) -> Buffer {
        Buffer {
            words,
            banks: default_banks().min(words / (data_bits / 8).max(1)).max(1),
        }
    }
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer {
            words: default_words(),
            banks: default_banks(),
        }
    }
}

/// The external memory port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    #[serde(default = "default_data_bits")]
    pub data_bits: u32,
}

impl Default for Memory {
    fn default() -> Self {
        Memory {
            data_bits: default_data_bits(),
        }
    }
}

/// How the chunks share the work.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// `false` (default): one controller runs the network layer by layer,
    /// one chunk at a time, through one shared buffer. `true`: a layer
    /// pipeline, one tile engine per chunk (its own descriptor list and
    /// memories) running its layers of consecutive images concurrently
    /// with the others (`rounds`, `tile::pipe`); every image's copies must
    /// fit the buffer.
    #[serde(default)]
    pub pipeline: bool,
    /// Which controller runs a layer-by-layer design (`src/hw/tile/`).
    #[serde(default)]
    pub engine: Engine,
    /// Shift layers, by name, that run on the multiply chunk instead (a
    /// multiply PE computes a shift term exactly: docs/arithmetic.md, K4;
    /// `model::net::as_multiply`), so that the multiply chunk shares the
    /// shift chunk's work.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shift_on_multiply: Vec<String>,
    /// Pipelined designs: layers, by name, that run in the same round as
    /// their producers on other engines, band by band as those write their
    /// rows (`tile::pipe::Fusion`), so that the engines work on one image
    /// together instead of on consecutive images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fuse: Vec<String>,
    /// Bands of output rows each layer of a fused group runs in (at most
    /// its rows; 0: 4).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bands: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// Bands of a fused group's layers when `[schedule] bands` is not given.
pub const DEFAULT_BANDS: u32 = 4;

/// The controller of a layer-by-layer design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// The tile engine where it can run the network (same rows in every
    /// chunk, a power of two; activations fit the buffer), else the cache.
    #[default]
    Auto,
    /// The tile engine: 2-D arrays fed from an on-chip scratchpad.
    Tiles,
    /// The serial controller behind a cache of external memory.
    Cache,
}

impl Schedule {
    fn is_default(&self) -> bool {
        *self == Schedule::default()
    }
}

impl Arch {
    pub fn chunk(&self, kind: Kind) -> Option<&Chunk> {
        match kind {
            Kind::Conv => self.clp.as_ref(),
            Kind::Shift => self.slp.as_ref(),
            Kind::Adder => self.alp.as_ref(),
        }
    }

    pub fn pes(&self, kind: Kind) -> u32 {
        self.chunk(kind).map_or(0, Chunk::pes)
    }

    /// Area in units of one multiply-accumulate PE.
    pub fn pe_area(&self) -> f64 {
        self.pes(Kind::Conv) as f64
            + (self.pes(Kind::Shift) + self.pes(Kind::Adder)) as f64 * CHEAP_PE_AREA
    }

    pub fn parse(text: &str, path: &Path) -> InputResult<Arch> {
        let mut arch: Arch = toml::from_str(text).map_err(|e| {
            let mut err = InputError::new(path, e.message().trim_end());
            if let Some(span) = e.span() {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                err.message = format!("{} (line {line})", err.message);
                let section = before
                    .lines()
                    .rev()
                    .find(|l| l.trim_start().starts_with('['));
                let section = section.map(|l| l.trim().trim_matches(['[', ']']).to_string());
                err.field = match (
                    section,
                    crate::model::net::parse::field_in_message(e.message()),
                ) {
                    (Some(s), Some(f)) => Some(format!("{s}.{f}")),
                    (None, f) => f,
                    (s, None) => s,
                };
            }
            err
        })?;
        arch.validate(path)?;
        arch.path = path.to_path_buf();
        Ok(arch)
    }

    pub fn load(path: &Path) -> InputResult<Arch> {
        Arch::load_with_text(path).map(|(arch, _)| arch)
    }

    /// Reads and validates an accelerator description; also returns its text.
    pub fn load_with_text(path: &Path) -> InputResult<(Arch, String)> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            InputError::new(path, format!("cannot read accelerator description: {e}"))
        })?;
        Ok((Arch::parse(&text, path)?, text))
    }

    /// The accelerator description at `path`, or without one `size`'s
    /// proposal for `net` at the default budget; with its TOML text.
    pub fn load_or_size(path: Option<&Path>, net: &Network) -> anyhow::Result<(Arch, String)> {
        match path {
            Some(p) => Ok(Arch::load_with_text(p)?),
            None => {
                let arch = size(net, DEFAULT_BUDGET, &net.name).map_err(|m| anyhow::anyhow!(m))?;
                let text = arch.to_toml();
                Ok((arch, text))
            }
        }
    }

    /// Ideal cycles per inference of each kind the operation counts `ops`
    /// (per `Kind::ALL`) use: its operations over its chunk's PEs, rounded up.
    pub fn ideal_cycles_per_kind(&self, ops: [u64; 3]) -> Vec<(Kind, u64)> {
        Kind::ALL
            .iter()
            .zip(ops)
            .filter(|(_, o)| *o > 0)
            .map(|(&k, o)| (k, o.div_ceil(self.pes(k).max(1) as u64)))
            .collect()
    }

    /// Checks every value against what the generator can build.
    pub fn validate(&self, path: &Path) -> InputResult<()> {
        let err = |field: &str, msg: String| InputError::new(path, msg).field(field);
        if !(self.accelerator.clock_mhz.is_finite()
            && self.accelerator.clock_mhz > 0.0
            && self.accelerator.clock_mhz <= 2000.0)
        {
            return Err(err(
                "accelerator.clock_mhz",
                format!("{} is outside (0, 2000]", self.accelerator.clock_mhz),
            ));
        }
        for (name, chunk) in [("clp", &self.clp), ("slp", &self.slp), ("alp", &self.alp)] {
            if let Some(c) = chunk {
                for (f, v) in [("rows", c.rows), ("cols", c.cols)] {
                    if !(1..=64).contains(&v) {
                        return Err(err(
                            &format!("{name}.{f}"),
                            format!("{v} is outside 1..=64"),
                        ));
                    }
                }
            }
        }
        if self.clp.is_none() && self.slp.is_none() && self.alp.is_none() {
            return Err(err(
                "clp",
                "the accelerator has no chunk: give at least one of [clp], [slp], [alp]".into(),
            ));
        }
        let b = self.buffer;
        if !b.banks.is_power_of_two() || b.banks > 64 {
            return Err(err(
                "buffer.banks",
                format!("{} is not a power of two in 1..=64", b.banks),
            ));
        }
        if !(1024..=(1 << 24)).contains(&b.words) || b.words % b.banks != 0 {
            return Err(err(
                "buffer.words",
                format!(
                    "{} must lie in 1024..=16777216 and be a multiple of the {} banks",
                    b.words, b.banks
                ),
            ));
        }
        if ![8, 16, 32, 64, 128, 256, 512].contains(&self.memory.data_bits) {
            return Err(err(
                "memory.data_bits",
                format!(
                    "{} is not one of 8, 16, 32, 64, 128, 256, 512",
                    self.memory.data_bits
                ),
            ));
        }
        let s = &self.schedule;
        if !s.pipeline && (!s.fuse.is_empty() || s.bands != 0) {
            let field = if s.fuse.is_empty() {
                "schedule.bands"
            } else {
                "schedule.fuse"
            };
            return Err(err(
                field,
                "fused layers and bands belong to a layer pipeline: set schedule.pipeline = true, or remove them".into(),
            ));
        }
        if s.bands > 64 {
            return Err(err(
                "schedule.bands",
                format!("{} is outside 0..=64", s.bands),
            ));
        }
        Ok(())
    }

    /// The kinds a network needs that this accelerator lacks.
    pub fn missing_kinds(&self, net: &Network) -> Vec<Kind> {
        let ops = net.ops_per_kind();
        Kind::ALL
            .iter()
            .zip(ops)
            .filter(|(k, o)| *o > 0 && self.chunk(**k).is_none())
            .map(|(k, _)| *k)
            .collect()
    }

    /// The network as this design's models see it (planning, cycles,
    /// energy; never the golden model): the shift layers
    /// `schedule.shift_on_multiply` names as multiply layers whose weights
    /// are codes, or `net` itself when it names none. An error names this
    /// file's field and the layer that cannot move.
    pub fn runs<'n>(
        &self,
        net: &'n Network,
    ) -> Result<std::borrow::Cow<'n, Network>, crate::model::error::InputError> {
        crate::model::net::as_multiply::check_movable(net, &self.schedule.shift_on_multiply)
            .map_err(|m| {
                crate::model::error::InputError::new(&self.path, m)
                    .field("schedule.shift_on_multiply")
            })?;
        Ok(self.runs_shapes(net))
    }

    /// The fused layers of a pipelined design of `net` (`[schedule] fuse`
    /// and `bands`), or an error naming the field and a layer `net` lacks.
    pub fn fusion(
        &self,
        net: &Network,
    ) -> Result<crate::hw::tile::pipe::Fusion, crate::model::error::InputError> {
        let mut fused = vec![false; net.layers.len()];
        for name in &self.schedule.fuse {
            let Some(i) = net.layers.iter().position(|l| &l.name == name) else {
                return Err(crate::model::error::InputError::new(
                    &self.path,
                    format!("the network `{}` has no layer `{name}` to fuse", net.name),
                )
                .field("schedule.fuse"));
            };
            fused[i] = true;
        }
        Ok(crate::hw::tile::pipe::Fusion {
            fused,
            bands: match self.schedule.bands {
                0 => DEFAULT_BANDS,
                b => b,
            },
        })
    }

    /// [`Arch::runs`] without the checks, for models that price shapes.
    pub fn runs_shapes<'n>(&self, net: &'n Network) -> std::borrow::Cow<'n, Network> {
        if self.schedule.shift_on_multiply.is_empty() {
            return std::borrow::Cow::Borrowed(net);
        }
        std::borrow::Cow::Owned(crate::model::net::as_multiply::kinds_as_multiply(
            net,
            &self.schedule.shift_on_multiply,
        ))
    }

    /// An error naming the chunk section a network's kind lacks, if any.
    pub fn check_kinds(&self, net: &Network) -> Result<(), crate::model::error::InputError> {
        let Some(kind) = self.missing_kinds(net).first().copied() else {
            return Ok(());
        };
        let section = match kind {
            Kind::Conv => "clp",
            Kind::Shift => "slp",
            Kind::Adder => "alp",
        };
        Err(crate::model::error::InputError::new(
            &self.path,
            format!("the network `{}` has {kind} layers but the accelerator has no [{section}] chunk for them", net.name),
        )
        .field(section))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

/// The most square `rows x cols` factorisation of `pes` (rows <= cols).
pub fn array_shape(pes: u32) -> Chunk {
    let mut rows = (pes as f64).sqrt() as u32;
    while rows > 1 && pes % rows != 0 {
        rows -= 1;
    }
    let rows = rows.max(1);
    Chunk {
        rows,
        cols: pes / rows,
    }
}

/// Splits a budget of `budget` multiply-accumulate-PE areas between the
/// kinds a network uses, in proportion to each kind's operations weighted by
/// its PE area, so every chunk needs about the same number of cycles. Each
/// used kind gets at least one PE; every chunk has the same power-of-two
/// rows (the tile engine's shape) and at most 64 columns.
pub fn size(net: &Network, budget: u32, name: &str) -> Result<Arch, String> {
    let ops = net.ops_per_kind();
    let area = [1.0, CHEAP_PE_AREA, CHEAP_PE_AREA];
    let weighted: f64 = ops.iter().zip(area).map(|(&o, a)| o as f64 * a).sum();
    let used = ops.iter().filter(|&&o| o > 0).count() as u32;
    if weighted == 0.0 {
        return Err("the network has no conv, shift or adder layer to size for".into());
    }
    if budget < used {
        return Err(format!(
            "a budget of {budget} PEs cannot give each of the {used} kinds the network uses one PE"
        ));
    }
    let mut pes = [0u32; 3];
    for k in 0..3 {
        if ops[k] > 0 {
            let share = budget as f64 * ops[k] as f64 * area[k] / weighted;
            pes[k] = ((share / area[k]).floor() as u32).clamp(1, 64 * 64);
        }
    }
    // The tile engine's shape: the same rows in every chunk (a power of
    // two up to 16, no more than the smallest chunk's PEs) and at most 64
    // columns. Of the rows counts, the one whose slowest chunk (ideal
    // cycles) is fastest, the most rows on a tie; then the budget the
    // rounding left over goes, a column at a time, to the slowest chunk.
    let least = pes.iter().copied().filter(|&p| p > 0).min().unwrap_or(1);
    let cycles = |k: usize, pes: u32| ops[k] as f64 / pes.max(1) as f64;
    let shape = |rows: u32| -> [u32; 3] {
        let mut cols = [0u32; 3];
        for k in 0..3 {
            if ops[k] > 0 {
                cols[k] = (pes[k] / rows).clamp(1, 64);
            }
        }
        let spent = |c: &[u32; 3]| (0..3).map(|k| (rows * c[k]) as f64 * area[k]).sum::<f64>();
        loop {
            let slowest = (0..3)
                .filter(|&k| ops[k] > 0)
                .max_by(|&a, &b| cycles(a, rows * cols[a]).total_cmp(&cycles(b, rows * cols[b])));
            let Some(k) = slowest else { break };
            let mut more = cols;
            more[k] += 1;
            if more[k] > 64 || spent(&more) > budget as f64 + 1e-9 {
                break;
            }
            cols = more;
        }
        cols
    };
    let slowest = |rows: u32| -> f64 {
        let c = shape(rows);
        (0..3)
            .filter(|&k| ops[k] > 0)
            .map(|k| cycles(k, rows * c[k]))
            .fold(0.0, f64::max)
    };
    let rows = [1u32, 2, 4, 8, 16]
        .into_iter()
        .filter(|&r| r <= least)
        .fold(
            1,
            |best, r| if slowest(r) <= slowest(best) { r } else { best },
        );
    let cols = shape(rows);
    let chunks = cols.map(|c| (c > 0).then_some(Chunk { rows, cols: c }));
    let arch = Arch {
        accelerator: AccelInfo {
            name: name.to_string(),
            clock_mhz: default_clock(),
        },
        clp: chunks[0],
        slp: chunks[1],
        alp: chunks[2],
        buffer: Buffer::default(),
        memory: Memory::default(),
        schedule: Schedule::default(),
        path: std::path::PathBuf::from(format!("<nasa size --pes {budget}>")),
    };
    Ok(arch)
}

/// What `nasa size` proposes for a network.
#[derive(Debug, Clone, Serialize)]
pub struct SizeReport {
    pub architecture: Arch,
    /// Operations per inference by kind.
    pub ops: BTreeMap<&'static str, u64>,
    /// Ideal cycles per inference of each kind the network uses.
    pub ideal_cycles: BTreeMap<&'static str, u64>,
    pub pe_area: f64,
    /// Where the architecture file was written.
    pub output: Option<String>,
    /// The architecture file: a comment header, then the TOML.
    #[serde(skip)]
    pub file_text: String,
}

/// `size`'s proposal for `net` under a budget of `pes`, with a header that
/// shows each kind's ideal cycles; written to `output` if given.
pub fn size_report(net: &Network, pes: u32, output: Option<&Path>) -> anyhow::Result<SizeReport> {
    let arch = size(net, pes, &net.name).map_err(|m| anyhow::anyhow!(m))?;
    let ops = net.ops_per_kind();
    let ideal = arch.ideal_cycles_per_kind(ops);
    let mut file_text = format!(
        "# Accelerator for network `{}` (description sha256 {}),\n# proposed by `nasa size --pes {pes}`.\n",
        net.name, net.provenance.description_sha256
    );
    for (kind, cycles) in &ideal {
        let k = Kind::ALL.iter().position(|x| x == kind).unwrap_or(0);
        file_text += &format!(
            "# {kind}: {} ops on {} PEs = {cycles} ideal cycles\n",
            ops[k],
            arch.pes(*kind)
        );
    }
    file_text += &arch.to_toml();
    if let Some(path) = output {
        crate::model::fsutil::write_atomic(path, file_text.as_bytes())?;
    }
    Ok(SizeReport {
        ops: Kind::ALL.iter().map(|k| k.name()).zip(ops).collect(),
        ideal_cycles: ideal.iter().map(|(k, c)| (k.name(), *c)).collect(),
        pe_area: arch.pe_area(),
        architecture: arch,
        output: output.map(|p| p.display().to_string()),
        file_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fusion fields outside a pipeline, or too many bands, are refused
    /// with their field; a layer the network lacks, by `fusion`.
    #[test]
    fn fusion_fields_are_checked() {
        let base = "[accelerator]\nname = \"t\"\n[clp]\nrows = 2\ncols = 2\n[schedule]\n";
        let field = |text: &str| {
            Arch::parse(&format!("{base}{text}"), Path::new("a.toml"))
                .unwrap_err()
                .field
        };
        assert_eq!(
            field("fuse = [\"stem\"]\n").as_deref(),
            Some("schedule.fuse")
        );
        assert_eq!(field("bands = 2\n").as_deref(), Some("schedule.bands"));
        assert_eq!(
            field("pipeline = true\nbands = 65\n").as_deref(),
            Some("schedule.bands")
        );
        let arch = Arch::parse(
            &format!("{base}pipeline = true\nfuse = [\"stem\", \"nope\"]\nbands = 3\n"),
            Path::new("a.toml"),
        )
        .unwrap();
        let net = crate::model::models::default_network().unwrap();
        let e = arch.fusion(&net).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("schedule.fuse"));
        assert!(e.message.contains("`nope`"), "{}", e.message);
        let ok = Arch::parse(
            &format!("{base}pipeline = true\nfuse = [\"stem\"]\n"),
            Path::new("a.toml"),
        )
        .unwrap()
        .fusion(&net)
        .unwrap();
        assert_eq!(
            (ok.fused[0], ok.fused[1], ok.bands),
            (true, false, DEFAULT_BANDS)
        );
    }

    #[test]
    fn shapes_are_exact_and_squarish() {
        assert_eq!(array_shape(16), Chunk { rows: 4, cols: 4 });
        assert_eq!(array_shape(12), Chunk { rows: 3, cols: 4 });
        assert_eq!(array_shape(7), Chunk { rows: 1, cols: 7 });
        assert_eq!(array_shape(1), Chunk { rows: 1, cols: 1 });
    }

    #[test]
    fn sizing_always_gives_buildable_arrays() {
        let net = crate::model::models::default_network().unwrap();
        for budget in 3..=600 {
            let arch = size(&net, budget, "t").unwrap();
            arch.validate(Path::new("t.toml"))
                .unwrap_or_else(|e| panic!("budget {budget}: {e:?}"));
        }
    }

    #[test]
    fn default_network_sizing_balances_cycles() {
        let net = crate::model::models::default_network().unwrap();
        let arch = size(&net, DEFAULT_BUDGET, "t").unwrap();
        // Area used never exceeds the budget, and is nearly all of it.
        assert!(
            arch.pe_area() <= DEFAULT_BUDGET as f64 + 1e-9,
            "{}",
            arch.pe_area()
        );
        assert!(arch.pe_area() > 160.0, "{}", arch.pe_area());
        // Ideal cycles per chunk (ops / PEs) within 25% of each other, as
        // the proportional split intends; the common rows of every chunk
        // (the tile engine's shape) and the 64-column limit quantise it.
        let ops = net.ops_per_kind();
        let cycles: Vec<f64> = Kind::ALL
            .iter()
            .zip(ops)
            .map(|(&k, o)| o as f64 / arch.pes(k) as f64)
            .collect();
        let (lo, hi) = cycles
            .iter()
            .fold((f64::MAX, 0f64), |(l, h), &c| (l.min(c), h.max(c)));
        assert!(hi / lo < 1.25, "{cycles:?}");
        // Round trip through TOML.
        let back = Arch::parse(&arch.to_toml(), Path::new("a.toml")).unwrap();
        assert_eq!(back.path, Path::new("a.toml"));
        assert_eq!(
            Arch {
                path: arch.path.clone(),
                ..back
            },
            arch
        );
    }

    #[test]
    fn validation_names_the_field() {
        let bad = |text: &str, field: &str| {
            let e = Arch::parse(text, Path::new("a.toml")).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{e}");
        };
        let head = "[accelerator]\nname = \"a\"\n";
        bad(&format!("{head}[clp]\nrows = 0\ncols = 4\n"), "clp.rows");
        bad(
            &format!("{head}[clp]\nrows = 2\ncols = 4\n[buffer]\nbanks = 3\n"),
            "buffer.banks",
        );
        bad(
            &format!("{head}[clp]\nrows = 2\ncols = 4\n[buffer]\nwords = 1000\n"),
            "buffer.words",
        );
        bad(
            &format!("{head}[clp]\nrows = 2\ncols = 4\n[memory]\ndata_bits = 12\n"),
            "memory.data_bits",
        );
        bad(head, "clp");
        let e = Arch::parse(
            &format!("{head}[clp]\nrows = 2\ncols = 4\npes = 8\n"),
            Path::new("a.toml"),
        )
        .unwrap_err();
        assert!(
            e.message.contains("unknown field `pes`") && e.message.contains("line 6"),
            "{e}"
        );
        assert_eq!(e.field.as_deref(), Some("clp.pes"));
    }
}
