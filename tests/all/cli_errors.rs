//! Malformed inputs run through the real `nasa` binary. Every case must fail
//! with exit code 3 (invalid input), print nothing on stdout, never panic,
//! name the file (and the layer and field where they apply) on stderr in the
//! form "{file}: layer `NAME`: field `FIELD`: message", and create none of
//! the outputs it was asked for.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use safetensors::{tensor::TensorView, Dtype, SafeTensors};

/// A small valid network using all three arithmetic kinds (1x8x8 input).
const BASE: &str = r#"
[network]
name = "t"
weights = "w.safetensors"

[input]
channels = 1
height = 8
width = 8
scale = 0.0078125

[[layer]]
name = "c1"
op = "conv2d"
kind = "conv"
out_channels = 4
kernel = 3
padding = 1
weight_bits = 6
activation = "relu"
out_scale = 0.05

[[layer]]
name = "s1"
op = "conv2d"
kind = "shift"
out_channels = 4
kernel = 1
exp_bits = 3
out_scale = 0.05

[[layer]]
name = "a1"
op = "conv2d"
kind = "adder"
out_channels = 4
kernel = 3
stride = 2
padding = 1
out_scale = 0.05

[[layer]]
name = "fc"
op = "linear"
kind = "conv"
out_features = 10
out_scale = 0.1
"#;

/// Weights file contents: name -> (dtype, shape, raw little-endian bytes).
type Tensors = BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>;

/// `BASE` with the first `from` replaced by `to`; `from` must occur.
fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE lacks {from:?}");
    BASE.replacen(from, to, 1)
}

/// Writes `desc` (when given) to `DIR/net.toml` and a valid 1x8x8 IDX image
/// to `DIR/img.idx`, then runs `nasa ARGS` in DIR with each `{dir}` in ARGS
/// replaced by DIR.
fn nasa(dir: &Path, desc: Option<&str>, args: &[&str]) -> Output {
    if let Some(d) = desc {
        std::fs::write(dir.join("net.toml"), d).unwrap();
    }
    let mut img = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 8];
    img.extend((0..64).map(|i| (i * 4) as u8));
    std::fs::write(dir.join("img.idx"), img).unwrap();
    let d = dir.display().to_string();
    let args: Vec<String> = args.iter().map(|a| a.replace("{dir}", &d)).collect();
    Command::new(env!("CARGO_BIN_EXE_nasa"))
        .current_dir(dir)
        .args(&args)
        .output()
        .unwrap()
}

/// Asserts an invalid-input failure: exit 3, empty stdout, no panic, and a
/// stderr naming `file`, `layer` and `field` (or not naming any layer / field
/// when `None`) and containing each of `words`.
fn assert_invalid(
    out: &Output,
    file: &Path,
    layer: Option<&str>,
    field: Option<&str>,
    words: &[&str],
) {
    let err = String::from_utf8_lossy(&out.stderr);
    let ctx = format!("exit {:?}, stderr:\n{err}", out.status.code());
    assert_eq!(out.status.code(), Some(3), "{ctx}");
    assert!(
        out.stdout.is_empty(),
        "stdout not empty: {:?}\n{ctx}",
        String::from_utf8_lossy(&out.stdout)
    );
    for bad in ["internal error", "panicked", "RUST_BACKTRACE"] {
        assert!(!err.contains(bad), "{bad:?} on stderr\n{ctx}");
    }
    assert!(
        err.contains(&file.display().to_string()),
        "file {} not named\n{ctx}",
        file.display()
    );
    match layer {
        Some(l) => assert!(
            err.contains(&format!("layer `{l}`")),
            "layer `{l}` not named\n{ctx}"
        ),
        None => assert!(
            !err.contains(": layer `"),
            "names a layer, none expected\n{ctx}"
        ),
    }
    match field {
        Some(f) => assert!(
            err.contains(&format!("field `{f}`")),
            "field `{f}` not named\n{ctx}"
        ),
        None => assert!(
            !err.contains(": field `"),
            "names a field, none expected\n{ctx}"
        ),
    }
    for w in words {
        assert!(err.contains(w), "{w:?} not in message\n{ctx}");
    }
}

/// An invalid description: `check`, `random-weights -o` and `golden --dump`
/// all reject it, and neither output appears.
fn bad_description(desc: &str, layer: Option<&str>, field: Option<&str>, words: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let net = dir.join("net.toml");
    for args in [
        &["check", "{dir}/net.toml"][..],
        &[
            "random-weights",
            "{dir}/net.toml",
            "--seed",
            "1",
            "-o",
            "{dir}/out.safetensors",
        ],
        &[
            "golden",
            "{dir}/net.toml",
            "--input",
            "{dir}/img.idx",
            "--dump",
            "{dir}/dump",
        ],
    ] {
        let out = nasa(dir, Some(desc), args);
        assert_invalid(&out, &net, layer, field, words);
        let mut left: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["img.idx", "net.toml"],
            "`nasa {}` left files",
            args.join(" ")
        );
    }
}

/// Writes `BASE` and seeded valid weights for it (`w.safetensors`) into `dir`.
fn valid_base(dir: &Path) {
    let gen = nasa(
        dir,
        Some(BASE),
        &[
            "random-weights",
            "{dir}/net.toml",
            "--seed",
            "1",
            "-o",
            "{dir}/w.safetensors",
        ],
    );
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
}

/// Invalid weights: valid random weights for `BASE`, changed by `change`;
/// `check` and `golden --dump` reject them and no dump appears.
fn bad_weights(
    change: impl FnOnce(&mut Tensors),
    layer: Option<&str>,
    field: Option<&str>,
    words: &[&str],
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wpath = dir.join("w.safetensors");
    valid_base(dir);
    let bytes = std::fs::read(&wpath).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut t: Tensors = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, (v.dtype(), v.shape().to_vec(), v.data().to_vec())))
        .collect();
    change(&mut t);
    let views = t
        .iter()
        .map(|(n, (d, s, b))| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()));
    std::fs::write(&wpath, safetensors::serialize(views, None).unwrap()).unwrap();
    for args in [
        &["check", "{dir}/net.toml"][..],
        &[
            "golden",
            "{dir}/net.toml",
            "--input",
            "{dir}/img.idx",
            "--dump",
            "{dir}/dump",
        ],
    ] {
        let out = nasa(dir, None, args);
        assert_invalid(&out, &wpath, layer, field, words);
        assert!(
            !dir.join("dump").exists(),
            "`nasa {}` created the dump",
            args.join(" ")
        );
    }
}

/// Sets channel `ch` of the I32 tensor `name` to `v`.
fn set_i32(t: &mut Tensors, name: &str, ch: usize, v: i32) {
    t.get_mut(name).unwrap().2[4 * ch..4 * ch + 4].copy_from_slice(&v.to_le_bytes());
}

// --- Description: syntax and schema ---------------------------------------

#[test]
fn malformed_toml_syntax() {
    let desc = edit("name = \"c1\"", "name = \"c1");
    let line = desc.lines().position(|l| l == "name = \"c1").unwrap() + 1;
    bad_description(
        &desc,
        None,
        None,
        &["malformed TOML", &format!("line {line}")],
    );
}

#[test]
fn unknown_top_level_field() {
    bad_description(
        &format!("version = 2\n{BASE}"),
        None,
        Some("version"),
        &["unknown field"],
    );
}

#[test]
fn unknown_top_level_table_after_layers() {
    bad_description(
        &format!("{BASE}\n[training]\nepochs = 3\n"),
        None,
        Some("training"),
        &["unknown field"],
    );
}

#[test]
fn unknown_input_field() {
    bad_description(
        &edit("scale = 0.0078125", "scale = 0.0078125\nbitz = 8"),
        None,
        Some("input.bitz"),
        &["unknown field"],
    );
}

#[test]
fn unknown_layer_field() {
    let desc = edit("stride = 2", "strid = 2");
    let line = desc.lines().position(|l| l.starts_with("strid")).unwrap() + 1;
    bad_description(
        &desc,
        Some("a1"),
        Some("strid"),
        &["unknown field", &format!("(line {line}, column 1)")],
    );
}

#[test]
fn unknown_op() {
    bad_description(
        &edit("op = \"conv2d\"", "op = \"conv3d\""),
        Some("c1"),
        Some("op"),
        &["conv3d"],
    );
}

#[test]
fn unknown_kind() {
    bad_description(
        &edit("kind = \"conv\"", "kind = \"multiply\""),
        Some("c1"),
        Some("kind"),
        &["multiply"],
    );
}

#[test]
fn missing_required_field() {
    bad_description(
        &edit("out_channels = 4\n", ""),
        Some("c1"),
        Some("out_channels"),
        &["missing field"],
    );
}

#[test]
fn wrong_value_type() {
    bad_description(
        &edit("stride = 2", "stride = \"two\""),
        Some("a1"),
        Some("stride"),
        &["two"],
    );
}

// --- Description: meaning ---------------------------------------------------

#[test]
fn input_bits_out_of_range() {
    bad_description(
        &edit("scale = 0.0078125", "scale = 0.0078125\nbits = 12"),
        None,
        Some("input.bits"),
        &["12"],
    );
}

#[test]
fn groups_not_dividing_channels() {
    bad_description(
        &edit("exp_bits = 3", "exp_bits = 3\ngroups = 3"),
        Some("s1"),
        Some("groups"),
        &["3 groups"],
    );
}

#[test]
fn kernel_larger_than_padded_input() {
    bad_description(
        &edit("kernel = 3", "kernel = 11"),
        Some("c1"),
        Some("kernel"),
        &["does not fit"],
    );
}

#[test]
fn stride_zero() {
    bad_description(
        &edit("stride = 2", "stride = 0"),
        Some("a1"),
        Some("stride"),
        &["1..=8"],
    );
}

#[test]
fn padding_not_smaller_than_kernel() {
    bad_description(
        &edit("padding = 1", "padding = 3"),
        Some("c1"),
        Some("padding"),
        &["smaller than the kernel"],
    );
}

#[test]
fn dangling_input_reference() {
    bad_description(
        &edit("name = \"s1\"", "name = \"s1\"\ninput = \"nope\""),
        Some("s1"),
        Some("input"),
        &["`nope`"],
    );
}

#[test]
fn cycle_between_two_layers() {
    bad_description(
        &edit("name = \"c1\"", "name = \"c1\"\ninput = \"s1\""),
        Some("c1"),
        Some("input"),
        &["cycle", "s1"],
    );
}

#[test]
fn duplicate_layer_name() {
    bad_description(
        &edit("name = \"s1\"", "name = \"c1\""),
        Some("c1"),
        Some("name"),
        &["duplicate"],
    );
}

#[test]
fn layer_named_input() {
    bad_description(
        &edit("name = \"s1\"", "name = \"input\""),
        Some("input"),
        Some("name"),
        &["invalid layer name"],
    );
}

#[test]
fn out_bits_out_of_range() {
    bad_description(
        &edit("weight_bits = 6", "weight_bits = 6\nout_bits = 9"),
        Some("c1"),
        Some("out_bits"),
        &["9 bits"],
    );
}

#[test]
fn negative_out_scale() {
    bad_description(
        &edit("out_scale = 0.1", "out_scale = -0.1"),
        Some("fc"),
        Some("out_scale"),
        &["greater than 0"],
    );
}

#[test]
fn weight_bits_on_shift_layer() {
    bad_description(
        &edit("exp_bits = 3", "weight_bits = 4"),
        Some("s1"),
        Some("weight_bits"),
        &["exp_bits"],
    );
}

#[test]
fn exp_bits_on_conv_layer() {
    bad_description(
        &edit("weight_bits = 6", "exp_bits = 2"),
        Some("c1"),
        Some("exp_bits"),
        &["shift layers"],
    );
}

#[test]
fn adder_weight_bits_differ_from_input_bits() {
    bad_description(
        &edit("stride = 2", "stride = 2\nweight_bits = 6"),
        Some("a1"),
        Some("weight_bits"),
        &["8 bits", "got 6"],
    );
}

#[test]
fn add_of_different_shapes() {
    let add = "name = \"sum\"\nop = \"add\"\ninputs = [\"c1\", \"a1\"]\nout_scale = 0.1\n\n[[layer]]\nname = \"fc\"";
    bad_description(
        &edit("name = \"fc\"", add),
        Some("sum"),
        Some("inputs"),
        &["4x8x8", "4x4x4"],
    );
}

#[test]
fn add_with_three_inputs() {
    let add = "name = \"sum\"\nop = \"add\"\ninputs = [\"a1\", \"a1\", \"a1\"]\nout_scale = 0.1\n\n[[layer]]\nname = \"fc\"";
    bad_description(
        &edit("name = \"fc\"", add),
        Some("sum"),
        Some("inputs"),
        &["exactly 2"],
    );
}

#[test]
fn maxpool_with_multiplier() {
    let pool =
        "name = \"mp\"\nop = \"maxpool\"\nkernel = 2\nmultiplier = 3\n\n[[layer]]\nname = \"fc\"";
    bad_description(
        &edit("name = \"fc\"", pool),
        Some("mp"),
        Some("multiplier"),
        &["max pooling"],
    );
}

#[test]
fn dead_layer() {
    let desc = edit(
        "weights = \"w.safetensors\"",
        "weights = \"w.safetensors\"\noutput = \"a1\"",
    );
    bad_description(&desc, Some("fc"), None, &["never used"]);
}

#[test]
fn output_not_a_layer() {
    let desc = edit(
        "weights = \"w.safetensors\"",
        "weights = \"w.safetensors\"\noutput = \"nope\"",
    );
    bad_description(&desc, None, Some("network.output"), &["`nope`"]);
}

#[test]
fn empty_network() {
    let desc = &BASE[..BASE.find("[[layer]]").unwrap()];
    bad_description(desc, None, Some("layer"), &["no layers"]);
}

/// A layer whose parameters cannot be held in memory is invalid input, not an abort.
#[test]
fn oversized_input() {
    let desc = "[network]\nname = \"h\"\nweights = \"w.safetensors\"\n[input]\nchannels = 4096\nheight = 4096\nwidth = 4096\nscale = 0.01\n\
                [[layer]]\nname = \"fc\"\nop = \"linear\"\nkind = \"conv\"\nout_features = 10\nout_scale = 0.1\n";
    bad_description(desc, None, Some("input.channels"), &["limit"]);
}

#[test]
fn oversized_layer() {
    // 64x64x64 inputs times 65536 outputs: 2^34 weights, over the per-layer limit.
    let desc = "[network]\nname = \"h\"\nweights = \"w.safetensors\"\n[input]\nchannels = 64\nheight = 64\nwidth = 64\nscale = 0.01\n\
                [[layer]]\nname = \"fc\"\nop = \"linear\"\nkind = \"conv\"\nout_features = 65536\nout_scale = 0.1\n";
    bad_description(desc, Some("fc"), Some("out_features"), &["limit"]);
}

#[test]
fn description_without_weights_file() {
    let tmp = tempfile::tempdir().unwrap();
    let desc = edit("weights = \"w.safetensors\"\n", "");
    let out = nasa(tmp.path(), Some(&desc), &["check", "{dir}/net.toml"]);
    assert_invalid(
        &out,
        &tmp.path().join("net.toml"),
        None,
        Some("network.weights"),
        &["no weights file"],
    );
}

// --- Weights ----------------------------------------------------------------

/// Runs `golden --dump` on the base description with `weights` as its
/// weights file (or none) and checks the failure names that file.
fn bad_weights_file(weights: Option<&[u8]>, words: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if let Some(bytes) = weights {
        std::fs::write(dir.join("w.safetensors"), bytes).unwrap();
    }
    let args = [
        "golden",
        "{dir}/net.toml",
        "--input",
        "{dir}/img.idx",
        "--dump",
        "{dir}/dump",
    ];
    let out = nasa(dir, Some(BASE), &args);
    assert_invalid(&out, &dir.join("w.safetensors"), None, None, words);
    assert!(!dir.join("dump").exists());
}

#[test]
fn weights_file_missing() {
    bad_weights_file(None, &["cannot read weights"]);
}

#[test]
fn weights_file_corrupt() {
    bad_weights_file(
        Some(b"this is not a safetensors file"),
        &["not a valid safetensors"],
    );
}

#[test]
fn tensor_missing() {
    bad_weights(
        |t| {
            t.remove("s1.bias");
        },
        Some("s1"),
        Some("bias"),
        &["`s1.bias`", "missing"],
    );
}

#[test]
fn weight_wrong_dtype() {
    bad_weights(
        |t| {
            t.insert(
                "c1.weight".into(),
                (Dtype::F32, vec![4, 1, 3, 3], vec![0; 36 * 4]),
            );
        },
        Some("c1"),
        Some("weight"),
        &["F32", "I8"],
    );
}

#[test]
fn weight_wrong_shape() {
    bad_weights(
        |t| t.get_mut("c1.weight").unwrap().1 = vec![4, 9],
        Some("c1"),
        Some("weight"),
        &["[4, 9]", "[4, 1, 3, 3]"],
    );
}

#[test]
fn weight_outside_weight_bits() {
    bad_weights(
        |t| t.get_mut("c1.weight").unwrap().2[5] = 32,
        Some("c1"),
        Some("weight"),
        &["value 32", "6-bit", "[0, 0, 1, 2]"],
    );
}

#[test]
fn shift_code_outside_exp_bits() {
    bad_weights(
        |t| t.get_mut("s1.weight").unwrap().2[0] = (-9i8) as u8,
        Some("s1"),
        Some("weight"),
        &["shift code -9", "exp_bits = 3"],
    );
}

#[test]
fn requant_shift_too_large() {
    bad_weights(
        |t| set_i32(t, "c1.shift", 2, 63),
        Some("c1"),
        Some("shift"),
        &["channel 2", "63", "0..=62"],
    );
}

#[test]
fn requant_shift_negative() {
    bad_weights(
        |t| set_i32(t, "fc.shift", 0, -1),
        Some("fc"),
        Some("shift"),
        &["-1", "0..=62"],
    );
}

#[test]
fn accumulator_times_multiplier_exceeds_64_bits() {
    let huge = |t: &mut Tensors| {
        set_i32(t, "c1.bias", 0, i32::MAX);
        set_i32(t, "c1.multiplier", 1, i32::MAX);
    };
    bad_weights(huge, Some("c1"), Some("multiplier"), &["64-bit"]);
}

#[test]
fn extra_unused_tensor() {
    bad_weights(
        |t| {
            t.insert("c1.scale".into(), (Dtype::I32, vec![4], vec![0; 16]));
        },
        Some("c1"),
        None,
        &["`c1.scale`", "not used"],
    );
}

// --- Input data -------------------------------------------------------------

#[test]
fn golden_input_of_wrong_image_size() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    valid_base(dir);
    let mut img = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 5];
    img.extend([0; 25]);
    std::fs::write(dir.join("small.idx"), img).unwrap();
    let out = nasa(
        dir,
        None,
        &[
            "golden",
            "{dir}/net.toml",
            "--input",
            "{dir}/small.idx",
            "--dump",
            "{dir}/dump",
        ],
    );
    assert_invalid(
        &out,
        &dir.join("small.idx"),
        None,
        None,
        &["1x5x5", "1x8x8"],
    );
    assert!(!dir.join("dump").exists());
}

#[test]
fn golden_index_past_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    valid_base(dir);
    for index in ["1", "18446744073709551615"] {
        let out = nasa(
            dir,
            None,
            &[
                "golden",
                "{dir}/net.toml",
                "--input",
                "{dir}/img.idx",
                "--index",
                index,
            ],
        );
        assert_invalid(&out, &dir.join("img.idx"), None, None, &["holds 1"]);
    }
}

#[test]
fn eval_with_missing_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let out = nasa(
        tmp.path(),
        None,
        &[
            "eval",
            "--dataset",
            "fashion-mnist",
            "--data",
            "/nonexistent",
        ],
    );
    let file = Path::new("/nonexistent/t10k-images-idx3-ubyte");
    assert_invalid(
        &out,
        file,
        None,
        None,
        &["not found", "apt-get install dataset-fashion-mnist"],
    );
}

// --- JSON errors ------------------------------------------------------------

#[test]
fn json_error_object() {
    let tmp = tempfile::tempdir().unwrap();
    let desc = edit("weight_bits = 6", "weight_bits = 6\nout_bits = 9");
    let out = nasa(
        tmp.path(),
        Some(&desc),
        &["--json", "check", "{dir}/net.toml"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(out.stdout.is_empty());
    let v: serde_json::Value =
        serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("{e}: {err}"));
    let file = tmp.path().join("net.toml").display().to_string();
    assert_eq!(v["exit_code"], 3, "{v}");
    assert_eq!(v["file"], file.as_str(), "{v}");
    assert_eq!(v["layer"], "c1", "{v}");
    assert_eq!(v["field"], "out_bits", "{v}");
    let msg = v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error string: {v}"));
    assert!(msg.contains(&file) && msg.contains("9 bits"), "{v}");
}

#[test]
fn train_refuses_a_grouped_convolution_it_cannot_train() {
    let dir = tempfile::tempdir().unwrap();
    let desc = edit("height = 8\nwidth = 8", "height = 28\nwidth = 28").replacen(
        "exp_bits = 3",
        "exp_bits = 3\ngroups = 2",
        1,
    );
    let out = nasa(
        dir.path(),
        Some(&desc),
        &["train", "net.toml", "--out", "run", "--epochs", "1"],
    );
    assert_invalid(
        &out,
        Path::new("net.toml"),
        Some("s1"),
        Some("groups"),
        &["depthwise", "not trainable"],
    );
    assert!(
        !dir.path().join("run").exists(),
        "no output directory on error"
    );
}

#[test]
fn train_refuses_a_network_whose_input_does_not_fit_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = nasa(
        dir.path(),
        Some(BASE),
        &["train", "net.toml", "--out", "run", "--epochs", "1"],
    );
    assert_invalid(
        &out,
        Path::new("net.toml"),
        None,
        Some("input"),
        &["1x8x8", "fashion-mnist"],
    );
    assert!(
        !dir.path().join("run").exists(),
        "no output directory on error"
    );
}
