//! Dataset loaders for the image-classification benchmarks the accelerators are
//! evaluated on: MNIST and Fashion-MNIST (IDX files, plain or gzip-compressed)
//! and CIFAR-10 / CIFAR-100 (binary batch files).
//!
//! Every loader returns a [`Dataset`] holding `u8` pixels in CHW order and `u8`
//! labels. Bad input never panics: each failure is a [`DataError`] whose
//! message names the file and what is wrong with it.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use flate2::read::MultiGzDecoder;
use thiserror::Error;

const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
const IDX_LABELS_MAGIC: u32 = 0x0000_0801;
const CIFAR_PIXELS: usize = 3 * 32 * 32;
const FASHION_HINT: &str =
    "install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data DIR";
const MNIST_HINT: &str = "Debian does not package MNIST: pass --data DIR holding its IDX files";
const CIFAR_HINT: &str =
    "download the binary version from https://www.cs.toronto.edu/~kriz/cifar.html or pass --data DIR";

/// Everything that can go wrong while loading a dataset.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be opened or read (includes corrupt gzip streams).
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A dataset file (or its directory) does not exist.
    #[error("{}: not found ({reason}); {hint}", path.display())]
    NotFound {
        path: PathBuf,
        reason: String,
        hint: &'static str,
    },
    /// The file exists but its contents are malformed or inconsistent.
    #[error("{}: {msg}", path.display())]
    Format { path: PathBuf, msg: String },
    /// A dataset name that [`DatasetKind::from_str`] does not know.
    #[error("unknown dataset {0:?}; valid names: mnist, fashion-mnist, cifar10, cifar100")]
    UnknownKind(String),
    /// A loader was called with a dataset kind it does not handle.
    #[error("{func} cannot read dataset {kind}")]
    WrongKind {
        func: &'static str,
        kind: DatasetKind,
    },
}

fn format_err(path: &Path, msg: impl Into<String>) -> DataError {
    DataError::Format {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The supported datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetKind {
    Mnist,
    FashionMnist,
    Cifar10,
    Cifar100,
}

impl DatasetKind {
    /// All kinds, in the order their names are listed in error messages.
    pub const ALL: [DatasetKind; 4] = [
        Self::Mnist,
        Self::FashionMnist,
        Self::Cifar10,
        Self::Cifar100,
    ];

    /// The name used on the command line (`mnist`, `fashion-mnist`, `cifar10`, `cifar100`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
            Self::Cifar10 => "cifar10",
            Self::Cifar100 => "cifar100",
        }
    }

    /// Image shape as `(channels, height, width)`.
    pub fn shape(self) -> (usize, usize, usize) {
        match self {
            Self::Mnist | Self::FashionMnist => (1, 28, 28),
            Self::Cifar10 | Self::Cifar100 => (3, 32, 32),
        }
    }

    /// Number of label classes.
    pub fn classes(self) -> usize {
        match self {
            Self::Cifar100 => 100,
            _ => 10,
        }
    }

    /// Where the Debian dataset packages (or a manual download) put the files.
    pub fn default_dir(self) -> PathBuf {
        PathBuf::from(match self {
            Self::Mnist => "/usr/share/datasets/mnist",
            Self::FashionMnist => "/usr/share/datasets/fashion-mnist",
            Self::Cifar10 => "/usr/share/datasets/cifar-10-batches-bin",
            Self::Cifar100 => "/usr/share/datasets/cifar-100-binary",
        })
    }

    fn hint(self) -> &'static str {
        match self {
            Self::FashionMnist => FASHION_HINT,
            Self::Mnist => MNIST_HINT,
            Self::Cifar10 | Self::Cifar100 => CIFAR_HINT,
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetKind {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| DataError::UnknownKind(s.to_string()))
    }
}

/// A set of labelled images, pixels stored as `u8` in CHW order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub kind: DatasetKind,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub classes: usize,
    /// `len() * channels * height * width` pixels; each image is channel-major,
    /// then rows, then columns.
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image (`channels * height * width`).
    pub fn image_size(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// CHW pixels of image `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_size();
        &self.images[i * n..(i + 1) * n]
    }

    /// Keeps only the first `n` images (no-op if there are fewer).
    pub fn truncate(&mut self, n: usize) {
        self.labels.truncate(n);
        self.images.truncate(n * self.image_size());
    }
}

/// The first two bytes of a gzip stream.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether a file beginning with `head` is, by its first bytes, an
/// unsigned-byte IDX file (`00 00 08`) or gzip-compressed (as IDX files
/// may be): what `read_idx_images` and `read_idx_labels` read.
pub fn looks_like_idx(head: &[u8]) -> bool {
    head.len() >= 4 && (head.starts_with(&[0, 0, 8]) || head.starts_with(&GZIP_MAGIC))
}

/// Opens `path`, transparently decompressing it if it starts with the gzip magic `1f 8b`.
fn open(path: &Path) -> Result<Box<dyn Read>, DataError> {
    let mut file = BufReader::new(File::open(path).map_err(io_err(path))?);
    let gzip = file
        .fill_buf()
        .map_err(io_err(path))?
        .starts_with(&GZIP_MAGIC);
    Ok(if gzip {
        Box::new(MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    })
}

/// Reads up to `n` bytes, fewer only if the stream ends first. Memory grows with
/// the data actually present, not with `n`, so a lying header cannot exhaust it.
fn read_up_to(r: &mut impl Read, n: u64, path: &Path) -> Result<Vec<u8>, DataError> {
    let mut buf = Vec::with_capacity(n.min(1 << 26) as usize);
    r.take(n).read_to_end(&mut buf).map_err(io_err(path))?;
    Ok(buf)
}

/// Reads an unsigned-byte IDX file with the given magic; returns its dims and data.
fn read_idx(path: &Path, magic: u32, what: &str) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let mut r = open(path)?;
    let ndims = (magic & 0xff) as usize;
    let header_len = 4 + 4 * ndims;
    let header = read_up_to(&mut r, header_len as u64, path)?;
    if header.len() < 4 {
        return Err(format_err(
            path,
            format!(
                "truncated: file holds {} bytes, too short for an IDX header",
                header.len()
            ),
        ));
    }
    let word = |i: usize| u32::from_be_bytes(header[4 * i..4 * i + 4].try_into().unwrap());
    let found = word(0);
    if found != magic {
        return Err(format_err(
            path,
            format!("bad magic number 0x{found:08x}, expected 0x{magic:08x} ({what})"),
        ));
    }
    if header.len() < header_len {
        return Err(format_err(
            path,
            format!(
                "truncated: IDX header needs {header_len} bytes but file holds {}",
                header.len()
            ),
        ));
    }
    let dims: Vec<usize> = (1..=ndims).map(|i| word(i) as usize).collect();
    let shown = dims
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("x");
    if dims.contains(&0) {
        return Err(format_err(
            path,
            format!("header has a zero dimension ({shown})"),
        ));
    }
    let total = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format_err(path, format!("header dimensions {shown} overflow")))?;
    let data = read_up_to(&mut r, total as u64, path)?;
    if data.len() < total {
        let (noun, kind) = match dims.as_slice() {
            [n, h, w] => (format!("{n} images of {h}x{w}"), "pixel"),
            _ => (format!("{} labels", dims[0]), "label"),
        };
        return Err(format_err(
            path,
            format!(
                "truncated: header says {noun} but file holds {} bytes of {kind} data (expected {total})",
                data.len()
            ),
        ));
    }
    // Reading to the end also makes the gzip decoder verify its CRC.
    if !read_up_to(&mut r, 1, path)?.is_empty() {
        return Err(format_err(
            path,
            format!("trailing data after the {total} bytes the header declares"),
        ));
    }
    Ok((dims, data))
}

/// Reads an IDX image file (magic 0x00000803, u8, dims N x H x W), gzip or not
/// (detected by the `1f 8b` magic bytes, not by the file name).
/// Returns `(n, height, width, pixels)`.
pub fn read_idx_images(path: &Path) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    let (dims, data) = read_idx(path, IDX_IMAGES_MAGIC, "idx3 ubyte images")?;
    Ok((dims[0], dims[1], dims[2], data))
}

/// Reads an IDX label file (magic 0x00000801), gzip or not.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    Ok(read_idx(path, IDX_LABELS_MAGIC, "idx1 ubyte labels")?.1)
}

/// Returns an error naming `path` and the index of the first label `>= classes`.
fn check_labels(labels: &[u8], classes: usize, path: &Path) -> Result<(), DataError> {
    match labels.iter().position(|&l| usize::from(l) >= classes) {
        None => Ok(()),
        Some(i) => Err(format_err(
            path,
            format!(
                "label {} at index {i} is out of range ({classes} classes)",
                labels[i]
            ),
        )),
    }
}

/// Reads CIFAR binary batch files, returning `(images, labels)` with CHW pixels.
///
/// CIFAR-10 records are 1 label byte + 3072 pixel bytes (32x32x3, CHW);
/// CIFAR-100 records are 1 coarse + 1 fine label byte + 3072 pixels (the fine
/// label is returned). Each file's length must be a non-zero multiple of the
/// record size, and every label must be below the class count.
pub fn read_cifar(paths: &[PathBuf], kind: DatasetKind) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let label_bytes = match kind {
        DatasetKind::Cifar10 => 1,
        DatasetKind::Cifar100 => 2,
        _ => {
            return Err(DataError::WrongKind {
                func: "read_cifar",
                kind,
            })
        }
    };
    let record = label_bytes + CIFAR_PIXELS;
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for path in paths {
        let mut bytes = Vec::new();
        open(path)?.read_to_end(&mut bytes).map_err(io_err(path))?;
        if bytes.is_empty() || bytes.len() % record != 0 {
            return Err(format_err(
                path,
                format!(
                    "file holds {} bytes, not a non-zero multiple of the {record}-byte {kind} record",
                    bytes.len()
                ),
            ));
        }
        let file_labels: Vec<u8> = bytes
            .chunks_exact(record)
            .map(|r| r[label_bytes - 1])
            .collect();
        check_labels(&file_labels, kind.classes(), path)?;
        labels.extend_from_slice(&file_labels);
        images.reserve(file_labels.len() * CIFAR_PIXELS);
        for r in bytes.chunks_exact(record) {
            images.extend_from_slice(&r[label_bytes..]);
        }
    }
    Ok((images, labels))
}

/// Returns the first of `names` that exists in `dir`, or a `NotFound` error for the first name.
fn find_file(kind: DatasetKind, dir: &Path, names: &[&str]) -> Result<PathBuf, DataError> {
    let paths: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    if let Some(p) = paths.iter().find(|p| p.is_file()) {
        return Ok(p.clone());
    }
    let reason = if !dir.is_dir() {
        format!("directory {} does not exist", dir.display())
    } else if names.len() > 1 {
        format!("nor {}", names[1..].join(" nor "))
    } else {
        "no such file".to_string()
    };
    Err(DataError::NotFound {
        path: paths[0].clone(),
        reason,
        hint: kind.hint(),
    })
}

fn load(kind: DatasetKind, dir: Option<&Path>, train: bool) -> Result<Dataset, DataError> {
    let dir = dir.map_or_else(|| kind.default_dir(), Path::to_path_buf);
    let (channels, height, width) = kind.shape();
    let classes = kind.classes();
    let (images, labels) = match kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist => {
            let prefix = if train { "train" } else { "t10k" };
            let find = |stem: &str| {
                let plain = format!("{prefix}-{stem}");
                find_file(kind, &dir, &[&plain, &format!("{plain}.gz")])
            };
            let (img_path, lbl_path) = (find("images-idx3-ubyte")?, find("labels-idx1-ubyte")?);
            let (n, h, w, images) = read_idx_images(&img_path)?;
            if (h, w) != (height, width) {
                return Err(format_err(
                    &img_path,
                    format!("images are {h}x{w} but {kind} images must be {height}x{width}"),
                ));
            }
            let labels = read_idx_labels(&lbl_path)?;
            if labels.len() != n {
                return Err(format_err(
                    &lbl_path,
                    format!(
                        "labels file has {} entries but images file {} has {n}",
                        labels.len(),
                        img_path.display()
                    ),
                ));
            }
            check_labels(&labels, classes, &lbl_path)?;
            (images, labels)
        }
        DatasetKind::Cifar10 | DatasetKind::Cifar100 => {
            let names: Vec<String> = match (kind, train) {
                (DatasetKind::Cifar10, true) => {
                    (1..=5).map(|i| format!("data_batch_{i}.bin")).collect()
                }
                (DatasetKind::Cifar10, false) => vec!["test_batch.bin".into()],
                (_, true) => vec!["train.bin".into()],
                (_, false) => vec!["test.bin".into()],
            };
            let paths = names
                .iter()
                .map(|n| find_file(kind, &dir, &[n]))
                .collect::<Result<Vec<_>, _>>()?;
            read_cifar(&paths, kind)?
        }
    };
    Ok(Dataset {
        kind,
        channels,
        height,
        width,
        classes,
        images,
        labels,
    })
}

/// Loads the test split of `kind` from `dir` (or [`DatasetKind::default_dir`]).
///
/// MNIST / Fashion-MNIST: `t10k-images-idx3-ubyte[.gz]` and
/// `t10k-labels-idx1-ubyte[.gz]`; CIFAR-10: `test_batch.bin`; CIFAR-100: `test.bin`.
pub fn load_test(kind: DatasetKind, dir: Option<&Path>) -> Result<Dataset, DataError> {
    load(kind, dir, false)
}

/// Loads the training split of `kind` from `dir` (or [`DatasetKind::default_dir`]).
///
/// MNIST / Fashion-MNIST: `train-images-idx3-ubyte[.gz]` and
/// `train-labels-idx1-ubyte[.gz]`; CIFAR-10: `data_batch_1.bin` .. `data_batch_5.bin`;
/// CIFAR-100: `train.bin`.
pub fn load_train(kind: DatasetKind, dir: Option<&Path>) -> Result<Dataset, DataError> {
    load(kind, dir, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;
    use tempfile::TempDir;

    fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn pixels(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// Writes an MNIST-shaped test split into `dir`.
    fn write_mnist(dir: &Path, n: u32, labels: &[u8], gz: bool) -> Vec<u8> {
        let px = pixels(n as usize * 784);
        let img = idx_bytes(IDX_IMAGES_MAGIC, &[n, 28, 28], &px);
        let lbl = idx_bytes(IDX_LABELS_MAGIC, &[labels.len() as u32], labels);
        let (img, lbl, ext) = if gz {
            (gzip(&img), gzip(&lbl), ".gz")
        } else {
            (img, lbl, "")
        };
        write(dir, &format!("t10k-images-idx3-ubyte{ext}"), &img);
        write(dir, &format!("t10k-labels-idx1-ubyte{ext}"), &lbl);
        px
    }

    fn err_msg<T: fmt::Debug>(r: Result<T, DataError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn kind_names_round_trip() {
        for k in DatasetKind::ALL {
            assert_eq!(k.to_string().parse::<DatasetKind>().unwrap(), k);
        }
        assert_eq!(
            "Fashion-MNIST".parse::<DatasetKind>().unwrap(),
            DatasetKind::FashionMnist
        );
        let msg = err_msg("imagenet".parse::<DatasetKind>());
        assert!(
            msg.contains("imagenet") && msg.contains("mnist, fashion-mnist, cifar10, cifar100"),
            "{msg}"
        );
        assert_eq!(
            DatasetKind::FashionMnist.default_dir(),
            PathBuf::from("/usr/share/datasets/fashion-mnist")
        );
    }

    #[test]
    fn idx_round_trip_plain_and_gzip() {
        let dir = TempDir::new().unwrap();
        let px = pixels(3 * 4 * 5);
        let raw = idx_bytes(IDX_IMAGES_MAGIC, &[3, 4, 5], &px);
        for (name, bytes) in [("a", raw.clone()), ("b.gz", gzip(&raw)), ("c", gzip(&raw))] {
            let p = write(dir.path(), name, &bytes);
            assert_eq!(read_idx_images(&p).unwrap(), (3, 4, 5, px.clone()));
        }
        let lbl = idx_bytes(IDX_LABELS_MAGIC, &[4], &[1, 2, 3, 9]);
        let p = write(dir.path(), "l.gz", &gzip(&lbl));
        assert_eq!(read_idx_labels(&p).unwrap(), vec![1, 2, 3, 9]);
    }

    #[test]
    fn idx_bad_magic() {
        let dir = TempDir::new().unwrap();
        let p = write(dir.path(), "x", &idx_bytes(IDX_LABELS_MAGIC, &[2], &[0, 1]));
        let msg = err_msg(read_idx_images(&p));
        assert!(msg.starts_with(&p.display().to_string()), "{msg}");
        assert!(
            msg.contains("bad magic number 0x00000801, expected 0x00000803 (idx3 ubyte images)"),
            "{msg}"
        );
        let p = write(dir.path(), "y", &[0, 0]);
        assert!(err_msg(read_idx_labels(&p)).contains("too short for an IDX header"));
    }

    #[test]
    fn idx_truncated_and_bad_headers() {
        let dir = TempDir::new().unwrap();
        let p = write(
            dir.path(),
            "t.gz",
            &gzip(&idx_bytes(IDX_IMAGES_MAGIC, &[10, 28, 28], &pixels(1234))),
        );
        let msg = err_msg(read_idx_images(&p));
        assert!(
            msg.contains(
                "truncated: header says 10 images of 28x28 but file holds 1234 bytes of pixel data"
            ),
            "{msg}"
        );
        let p = write(dir.path(), "h", &idx_bytes(IDX_IMAGES_MAGIC, &[10], &[]));
        assert!(err_msg(read_idx_images(&p)).contains("IDX header needs 16 bytes but file holds 8"));
        let p = write(
            dir.path(),
            "z",
            &idx_bytes(IDX_IMAGES_MAGIC, &[5, 0, 28], &[]),
        );
        assert!(err_msg(read_idx_images(&p)).contains("zero dimension (5x0x28)"));
        let p = write(dir.path(), "l", &idx_bytes(IDX_LABELS_MAGIC, &[5], &[1, 2]));
        assert!(err_msg(read_idx_labels(&p))
            .contains("header says 5 labels but file holds 2 bytes of label data"));
        let p = write(
            dir.path(),
            "tr",
            &idx_bytes(IDX_LABELS_MAGIC, &[2], &[1, 2, 3]),
        );
        assert!(err_msg(read_idx_labels(&p)).contains("trailing data"));
        // A huge header must fail cleanly instead of allocating.
        let p = write(
            dir.path(),
            "big",
            &idx_bytes(IDX_IMAGES_MAGIC, &[u32::MAX; 3], &[1, 2, 3]),
        );
        let msg = err_msg(read_idx_images(&p));
        assert!(
            msg.contains("overflow") || msg.contains("truncated"),
            "{msg}"
        );
        let p = write(dir.path(), "bad.gz", &[0x1f, 0x8b, 0, 1, 2, 3]);
        assert!(err_msg(read_idx_images(&p)).starts_with(&p.display().to_string()));
    }

    #[test]
    fn load_mnist_plain_and_gzip() {
        for gz in [false, true] {
            let dir = TempDir::new().unwrap();
            let px = write_mnist(dir.path(), 3, &[0, 9, 4], gz);
            let mut ds = load_test(DatasetKind::FashionMnist, Some(dir.path())).unwrap();
            assert_eq!(
                (ds.len(), ds.channels, ds.height, ds.width, ds.classes),
                (3, 1, 28, 28, 10)
            );
            assert_eq!(ds.labels, vec![0, 9, 4]);
            assert_eq!(ds.image(2), &px[2 * 784..]);
            ds.truncate(1);
            assert_eq!((ds.len(), ds.images.len()), (1, 784));
            assert!(!ds.is_empty());
        }
    }

    #[test]
    fn load_mnist_mismatch_and_bad_label() {
        let dir = TempDir::new().unwrap();
        write_mnist(dir.path(), 2, &[1, 2, 3], false);
        let msg = err_msg(load_test(DatasetKind::Mnist, Some(dir.path())));
        assert!(
            msg.contains("t10k-labels-idx1-ubyte: labels file has 3 entries but images file"),
            "{msg}"
        );
        assert!(msg.ends_with("t10k-images-idx3-ubyte has 2"), "{msg}");

        let dir = TempDir::new().unwrap();
        write_mnist(dir.path(), 3, &[1, 12, 3], true);
        let msg = err_msg(load_test(DatasetKind::Mnist, Some(dir.path())));
        assert!(
            msg.contains("t10k-labels-idx1-ubyte.gz: label 12 at index 1 is out of range"),
            "{msg}"
        );

        let dir = TempDir::new().unwrap();
        write(
            dir.path(),
            "t10k-images-idx3-ubyte",
            &idx_bytes(IDX_IMAGES_MAGIC, &[1, 2, 2], &[0; 4]),
        );
        write(
            dir.path(),
            "t10k-labels-idx1-ubyte",
            &idx_bytes(IDX_LABELS_MAGIC, &[1], &[0]),
        );
        let msg = err_msg(load_test(DatasetKind::Mnist, Some(dir.path())));
        assert!(
            msg.contains("images are 2x2 but mnist images must be 28x28"),
            "{msg}"
        );
    }

    #[test]
    fn missing_dir_and_files() {
        let dir = TempDir::new().unwrap();
        let gone = dir.path().join("nope");
        let err = load_test(DatasetKind::FashionMnist, Some(&gone)).unwrap_err();
        assert!(matches!(err, DataError::NotFound { .. }));
        let msg = err.to_string();
        assert!(msg.contains("nope/t10k-images-idx3-ubyte"), "{msg}");
        assert!(msg.contains("does not exist"), "{msg}");
        assert!(
            msg.contains("apt-get install dataset-fashion-mnist") && msg.contains("--data DIR"),
            "{msg}"
        );

        let msg = err_msg(load_train(DatasetKind::Mnist, Some(dir.path())));
        assert!(
            msg.contains("train-images-idx3-ubyte: not found (nor train-images-idx3-ubyte.gz)"),
            "{msg}"
        );
        let msg = err_msg(load_test(DatasetKind::Cifar100, Some(dir.path())));
        assert!(msg.contains("test.bin: not found (no such file)"), "{msg}");
    }

    fn cifar_records(labels: &[u8], coarse: bool) -> (Vec<u8>, Vec<u8>) {
        let (mut file, mut px) = (Vec::new(), Vec::new());
        for (i, &l) in labels.iter().enumerate() {
            if coarse {
                file.push(l / 5);
            }
            file.push(l);
            let img: Vec<u8> = (0..CIFAR_PIXELS)
                .map(|j| ((i * 31 + j) % 256) as u8)
                .collect();
            file.extend_from_slice(&img);
            px.extend_from_slice(&img);
        }
        (file, px)
    }

    #[test]
    fn cifar_round_trip() {
        let dir = TempDir::new().unwrap();
        let (file, px) = cifar_records(&[3, 99, 0], true);
        write(dir.path(), "test.bin", &file);
        let ds = load_test(DatasetKind::Cifar100, Some(dir.path())).unwrap();
        assert_eq!((ds.len(), ds.channels, ds.classes), (3, 3, 100));
        assert_eq!(ds.labels, vec![3, 99, 0]);
        assert_eq!(ds.images, px);

        let mut all_px = Vec::new();
        for i in 1..=5 {
            let (file, px) = cifar_records(&[i, 9 - i], false);
            write(dir.path(), &format!("data_batch_{i}.bin"), &file);
            all_px.extend(px);
        }
        let ds = load_train(DatasetKind::Cifar10, Some(dir.path())).unwrap();
        assert_eq!(ds.labels, vec![1, 8, 2, 7, 3, 6, 4, 5, 5, 4]);
        assert_eq!(ds.images, all_px);
        assert_eq!(ds.image(9), &all_px[9 * CIFAR_PIXELS..]);
    }

    #[test]
    fn cifar_errors() {
        let dir = TempDir::new().unwrap();
        let (mut file, _) = cifar_records(&[1, 2], false);
        file.pop();
        let p = write(dir.path(), "test_batch.bin", &file);
        let msg = err_msg(read_cifar(std::slice::from_ref(&p), DatasetKind::Cifar10));
        assert!(
            msg.contains(
                "test_batch.bin: file holds 6145 bytes, not a non-zero multiple of the 3073-byte"
            ),
            "{msg}"
        );

        let (file, _) = cifar_records(&[1, 2, 10], false);
        std::fs::write(&p, file).unwrap();
        let msg = err_msg(load_test(DatasetKind::Cifar10, Some(dir.path())));
        assert!(
            msg.contains("test_batch.bin: label 10 at index 2 is out of range (10 classes)"),
            "{msg}"
        );

        assert!(matches!(
            read_cifar(&[p], DatasetKind::Mnist),
            Err(DataError::WrongKind { .. })
        ));
    }

    #[test]
    fn real_fashion_mnist_test_set() {
        let dir = DatasetKind::FashionMnist.default_dir();
        // scripts/test.sh installs dataset-fashion-mnist: fail, never skip.
        assert!(
            dir.join("t10k-images-idx3-ubyte.gz").exists(),
            "{} missing: run scripts/test.sh, which installs dataset-fashion-mnist",
            dir.display()
        );
        let ds = load_test(DatasetKind::FashionMnist, None).unwrap();
        assert_eq!(
            (ds.len(), ds.height, ds.width, ds.images.len()),
            (10000, 28, 28, 10000 * 784)
        );
        assert!(ds.labels.iter().all(|&l| l < 10));
    }
}
