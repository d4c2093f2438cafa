//! One test per layer kind and edge case of docs/arithmetic.md, each with
//! expected values computed by hand (the arithmetic is in the comments).

use crate::common::{build, header, plain, Params};
use nasa::model::golden::{infer, run, Int};

fn conv(name: &str, kind: &str, out: usize, k: usize, extra: &str) -> String {
    format!("[[layer]]\nname = \"{name}\"\nop = \"conv2d\"\nkind = \"{kind}\"\nout_channels = {out}\nkernel = {k}\nout_scale = 0.1\n{extra}\n")
}

#[test]
fn conv_full_with_bias_and_requant() {
    // x = [1 2; 3 4], w = [1 -1; 2 0]: 1 - 2 + 6 + 0 = 5; + bias 3 = 8;
    // * M 3 = 24; rshift_round(24, 1) = 12.
    let net = build(
        &(header(1, 2, 2) + &conv("c", "conv", 1, 2, "")),
        &[(
            "c",
            Params {
                weight: vec![1, -1, 2, 0],
                bias: vec![3],
                mult: vec![3],
                shift: vec![1],
            },
        )],
    );
    assert_eq!(infer(&net, &[1, 2, 3, 4]), vec![12]);
}

#[test]
fn adder_padding_contributes_minus_abs_w() {
    // 1x1 input x = 5, 3x3 kernel, padding 1: eight padded positions read
    // x = 0 and add -|0 - 2| = -2 each (-16); the centre adds -|5 - 7| = -2.
    let mut w = vec![2i8; 9];
    w[4] = 7;
    let net = build(
        &(header(1, 1, 1) + &conv("a", "adder", 1, 3, "padding = 1")),
        &[("a", plain(w, 1))],
    );
    assert_eq!(infer(&net, &[5]), vec![-18]);
}

#[test]
fn conv_and_shift_padding_adds_nothing() {
    // Same geometry: only the centre counts. conv: 5 * 7 = 35.
    // shift code 3 is +4: 5 << 2 = 20.
    let mut w = vec![2i8; 9];
    w[4] = 7;
    let net = build(
        &(header(1, 1, 1) + &conv("c", "conv", 1, 3, "padding = 1")),
        &[("c", plain(w, 1))],
    );
    assert_eq!(infer(&net, &[5]), vec![35]);
    let mut codes = vec![1i8; 9];
    codes[4] = 3;
    let net = build(
        &(header(1, 1, 1) + &conv("s", "shift", 1, 3, "padding = 1")),
        &[("s", plain(codes, 1))],
    );
    assert_eq!(infer(&net, &[5]), vec![20]);
}

#[test]
fn shift_zero_code_int8_minimum_and_saturation() {
    // Pointwise over 2 channels: x = [-128, 3], codes [-8, 0]:
    // -(-128 << 7) = 16384, the zero code adds 0. rshift_round(16384, 7) = 128,
    // saturated to 127.
    let net = build(
        &(header(2, 1, 1) + &conv("s", "shift", 1, 1, "")),
        &[(
            "s",
            Params {
                weight: vec![-8, 0],
                bias: vec![0],
                mult: vec![1],
                shift: vec![7],
            },
        )],
    );
    assert_eq!(infer(&net, &[-128, 3]), vec![127]);
    // Negative side: x = [-128, -128], codes [8, 8]: -16384 * 2 = -32768,
    // >> 7 = -256, saturated to -128.
    let net = build(
        &(header(2, 1, 1) + &conv("s", "shift", 1, 1, "")),
        &[(
            "s",
            Params {
                weight: vec![8, 8],
                bias: vec![0],
                mult: vec![1],
                shift: vec![7],
            },
        )],
    );
    assert_eq!(infer(&net, &[-128, -128]), vec![-128]);
}

#[test]
fn adder_extremes_of_int8() {
    // |(-128) - 127| = 255: the largest adder term; two of them: -510,
    // M = 1, S = 2: rshift_round(-510, 2) = floor(-508 / 4) = -127.
    let net = build(
        &(header(2, 1, 1) + &conv("a", "adder", 1, 1, "")),
        &[(
            "a",
            Params {
                weight: vec![127, 127],
                bias: vec![0],
                mult: vec![1],
                shift: vec![2],
            },
        )],
    );
    assert_eq!(infer(&net, &[-128, -128]), vec![-127]);
}

#[test]
fn rounding_ties_go_up_in_requantisation() {
    // acc = x * 1 = -5, -3, 5; shift 1: -2.5 -> -2, -1.5 -> -1, 2.5 -> 3.
    let net = build(
        &(header(3, 1, 1) + &conv("c", "conv", 3, 1, "groups = 3")),
        &[(
            "c",
            Params {
                weight: vec![1, 1, 1],
                bias: vec![0; 3],
                mult: vec![1; 3],
                shift: vec![1; 3],
            },
        )],
    );
    assert_eq!(infer(&net, &[-5, -3, 5]), vec![-2, -1, 3]);
}

#[test]
fn depthwise_stride_two_on_odd_size() {
    // Channel 0: x = [1 2 3; 4 5 6; 7 8 9], all weights 1, 3x3, stride 2,
    // padding 1 -> 2x2: (0,0) 1+2+4+5 = 12, (0,1) 2+3+5+6 = 16,
    // (1,0) 4+5+7+8 = 24, (1,1) 5+6+8+9 = 28.
    // Channel 1: x all 1, weights 2: each window holds 4 real pixels -> 8.
    let x: Vec<i64> = (1..=9).chain(std::iter::repeat_n(1, 9)).collect();
    let mut w = vec![1i8; 9];
    w.extend([2i8; 9]);
    let net = build(
        &(header(2, 3, 3) + &conv("d", "conv", 2, 3, "stride = 2\npadding = 1\ngroups = 2")),
        &[("d", plain(w.clone(), 2))],
    );
    assert_eq!(infer(&net, &x), vec![12, 16, 24, 28, 8, 8, 8, 8]);
    // The adder kind on channel 0's first window: real pixels
    // |1-1| + |2-1| + |4-1| + |5-1| = 8, five padded -|0 - 1| = 5: -13.
    let net = build(
        &(header(2, 3, 3) + &conv("d", "adder", 2, 3, "stride = 2\npadding = 1\ngroups = 2")),
        &[("d", plain(w, 2))],
    );
    let y = infer(&net, &x);
    assert_eq!(y[0], -13);
    // Channel 1, window (1,1): four real |1 - 2| = 4, five padded |0 - 2| = 10.
    assert_eq!(y[7], -14);
}

#[test]
fn grouped_convolution_reads_its_own_group() {
    // 4 -> 2 channels in 2 groups: output 0 sees channels 0,1; output 1 sees 2,3.
    let net = build(
        &(header(4, 1, 1) + &conv("g", "conv", 2, 1, "groups = 2")),
        &[("g", plain(vec![1, 2, 3, 4], 2))],
    );
    // out0 = 1*1 + 2*2 = 5; out1 = 3*3 + 4*4 = 25.
    assert_eq!(infer(&net, &[1, 2, 3, 4]), vec![5, 25]);
}

#[test]
fn linear_layers_flatten_chw() {
    // Input 2x1x2 = [1 2 | 3 4] flattens to [1, 2, 3, 4].
    let lin = |kind: &str| {
        header(2, 1, 2)
            + &format!("[[layer]]\nname = \"fc\"\nop = \"linear\"\nkind = \"{kind}\"\nout_features = 2\nout_scale = 0.1\n")
    };
    // conv: [1 0 0 1] -> 1 + 4 = 5; [0 -1 1 0] -> -2 + 3 = 1.
    let net = build(
        &lin("conv"),
        &[("fc", plain(vec![1, 0, 0, 1, 0, -1, 1, 0], 2))],
    );
    assert_eq!(infer(&net, &[1, 2, 3, 4]), vec![5, 1]);
    // adder: [1 2 3 4] -> 0; [4 3 2 1] -> -(3 + 1 + 1 + 3) = -8.
    let net = build(
        &lin("adder"),
        &[("fc", plain(vec![1, 2, 3, 4, 4, 3, 2, 1], 2))],
    );
    assert_eq!(infer(&net, &[1, 2, 3, 4]), vec![0, -8]);
    // shift: codes [1 2 3 4] = [1 2 4 8] -> 1 + 4 + 12 + 32 = 49; [-1 0 0 0] -> -1.
    let net = build(
        &lin("shift"),
        &[("fc", plain(vec![1, 2, 3, 4, -1, 0, 0, 0], 2))],
    );
    assert_eq!(infer(&net, &[1, 2, 3, 4]), vec![49, -1]);
}

#[test]
fn one_by_one_feature_map_through_every_kind() {
    // A 1x1 map with a 3x3 kernel and padding 1 keeps its 1x1 size.
    for (kind, expected) in [("conv", 3 * 4), ("shift", 3 << 3), ("adder", -(1 + 8 * 4))] {
        let w = vec![4i8; 9]; // conv: 4; shift code 4: 2^3; adder: 4
        let net = build(
            &(header(1, 1, 1) + &conv("k", kind, 1, 3, "padding = 1")),
            &[("k", plain(w, 1))],
        );
        assert_eq!(net.layers[0].out.shape.len(), 1);
        assert_eq!(infer(&net, &[3]), vec![expected], "{kind}");
    }
}

#[test]
fn maxpool_ignores_padding() {
    // All-negative input: a padded 0 must never win.
    // [-5 -3 -8; -1 -7 -2; -9 -4 -6], k2 s2 p1 -> (0,0) -5, (0,1) max(-3,-8) = -3,
    // (1,0) max(-1,-9) = -1, (1,1) max(-7,-2,-4,-6) = -2.
    let net = build(
        &(header(1, 3, 3) + "[[layer]]\nname = \"p\"\nop = \"maxpool\"\nkernel = 2\npadding = 1\n"),
        &[],
    );
    assert_eq!(
        infer(&net, &[-5, -3, -8, -1, -7, -2, -9, -4, -6]),
        vec![-5, -3, -1, -2]
    );
}

#[test]
fn average_pooling_rounds_like_requantisation() {
    let net = build(
        &(header(1, 2, 2) + "[[layer]]\nname = \"p\"\nop = \"avgpool\"\nkernel = 2\n"),
        &[],
    );
    // Sum 11, default M 16384, S 16: (180224 + 32768) >> 16 = 3 (2.75 -> 3).
    assert_eq!(infer(&net, &[1, 2, 3, 5]), vec![3]);
    // Sum -10: -2.5 ties up to -2.
    assert_eq!(infer(&net, &[-1, -2, -3, -4]), vec![-2]);
    // Padding counts as zeros: k2 s2 p1 on 2x2 -> 2x2 windows of one real pixel each.
    let net = build(
        &(header(1, 2, 2) + "[[layer]]\nname = \"p\"\nop = \"avgpool\"\nkernel = 2\npadding = 1\n"),
        &[],
    );
    // 8 / 4 = 2; 6 / 4 = 1.5 -> 2; -6 / 4 = -1.5 -> -1; 1 / 4 = 0.25 -> 0.
    assert_eq!(infer(&net, &[8, 6, -6, 1]), vec![2, 2, -1, 0]);
}

#[test]
fn global_average_pooling_of_seven_by_seven() {
    // N = 49: M = floor((65536 + 24) / 49) = 1337. Sum 490 * 1337 = 655130,
    // + 32768 = 687898, >> 16 = 10.
    let net = build(
        &(header(2, 7, 7) + "[[layer]]\nname = \"g\"\nop = \"global_avgpool\"\n"),
        &[],
    );
    let mut x = vec![10i64; 49];
    x.extend(vec![-128i64; 49]); // -6272 * 1337 = -8385664; + 32768 >> 16 = floor(-127.46) = -128.
    assert_eq!(infer(&net, &x), vec![10, -128]);
}

#[test]
fn residual_add_rescales_rounds_and_saturates() {
    // Two inputs of different scales: "a" is the input (scale 0.1), "b" a
    // 1x1 conv with out_scale 0.05; output scale 0.1. Ma = 16384, Mb = 8192, S = 14.
    let toml = header(1, 1, 1)
        + "[[layer]]\nname = \"b\"\nop = \"conv2d\"\nkind = \"conv\"\nout_channels = 1\nkernel = 1\nout_scale = 0.05\n"
        + "[[layer]]\nname = \"s\"\nop = \"add\"\ninputs = [\"input\", \"b\"]\nout_scale = 0.1\n";
    let net = build(&toml, &[("b", plain(vec![1], 1))]);
    // a = 3, b = 3: 49152 + 24576 = 73728; (73728 + 8192) >> 14 = 5 (4.5 ties up).
    assert_eq!(infer(&net, &[3]), vec![5]);
    // a = 100, b = 100: 100 + 50 = 150 saturates to 127.
    assert_eq!(infer(&net, &[100]), vec![127]);
    // With ReLU: a = -50, b = -50 -> -75 -> 0.
    let net = build(
        &toml.replace(
            "out_scale = 0.1\n",
            "out_scale = 0.1\nactivation = \"relu\"\n",
        ),
        &[("b", plain(vec![1], 1))],
    );
    assert_eq!(infer(&net, &[-50]), vec![0]);
}

#[test]
fn relu6_clamps_at_six_in_output_units() {
    // Output scale 0.1: 6 / 0.1 = 60 (IEEE: 59.99999999999999 rounds to 60).
    let toml = header(3, 1, 1) + &conv("c", "conv", 3, 1, "groups = 3\nactivation = \"relu6\"");
    let net = build(&toml, &[("c", plain(vec![1, 1, 1], 3))]);
    assert_eq!(infer(&net, &[70, 30, -5]), vec![60, 30, 0]);
    // A stand-alone relu6 layer uses its input's scale.
    let toml = header(3, 1, 1) + "[[layer]]\nname = \"r\"\nop = \"relu6\"\n";
    let net = build(&toml, &[]);
    assert_eq!(infer(&net, &[70, 30, -5]), vec![60, 30, 0]);
}

#[test]
fn input_pixels_quantise_with_rounding_and_saturation() {
    let net = build(
        &(header(1, 1, 1) + "[[layer]]\nname = \"r\"\nop = \"relu\"\n"),
        &[],
    );
    // Default: (p + 1) >> 1, saturated to 127.
    assert_eq!(net.input.quantize_pixel(0), 0);
    assert_eq!(net.input.quantize_pixel(3), 2);
    assert_eq!(net.input.quantize_pixel(4), 2);
    assert_eq!(net.input.quantize_pixel(253), 127);
    assert_eq!(net.input.quantize_pixel(255), 127);
}

#[test]
fn mbconv_expands_to_documented_layers() {
    let toml = header(4, 5, 5)
        + "[[layer]]\nname = \"b\"\nop = \"mbconv\"\nkind = \"shift\"\nout_channels = 4\nkernel = 3\nexpand = 3\nexpand_scale = 0.1\ndw_scale = 0.1\nout_scale = 0.1\n";
    let net = nasa::model::net::Network::parse(&toml, std::path::Path::new("t.toml")).unwrap();
    let names: Vec<&str> = net.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["b.expand", "b.dw", "b.project", "b.add"]);
    assert_eq!(net.layers[0].out.shape.c, 12);
    assert_eq!(net.layers[1].out.shape, net.layers[0].out.shape);
    let nasa::model::net::Op::Conv(dw) = &net.layers[1].op else {
        panic!()
    };
    assert!(dw.is_depthwise());
    assert_eq!(net.layers[3].inputs, vec![0, 3]);
    // Stride 2 drops the residual.
    let net = nasa::model::net::Network::parse(
        &toml.replace("expand = 3", "expand = 3\nstride = 2"),
        std::path::Path::new("t.toml"),
    )
    .unwrap();
    assert_eq!(net.layers.len(), 3);
    assert_eq!(net.layers[2].out.shape.h, 3);
}

#[test]
fn mbconv_projection_uses_project_scale_with_or_without_residual() {
    // A ReLU6 after the block clamps at 6 / (scale of the projection):
    // project_scale 0.05 gives 120 (out_scale 0.5 would give 12).
    let block = |residual: &str| {
        header(2, 3, 3)
            + &format!("[[layer]]\nname = \"b\"\nop = \"mbconv\"\nkind = \"shift\"\nout_channels = 2\nkernel = 3\nexpand = 1\nexpand_scale = 0.1\ndw_scale = 0.1\nout_scale = 0.5\nproject_scale = 0.05\n{residual}")
            + "[[layer]]\nname = \"r\"\nop = \"relu6\"\n"
    };
    let path = std::path::Path::new("t.toml");
    // Explicitly without a residual, and with it dropped by default (stride 2):
    // the projection is the block's output and keeps project_scale.
    for residual in ["residual = false\n", "stride = 2\n"] {
        let net = nasa::model::net::Network::parse(&block(residual), path).unwrap();
        let names: Vec<&str> = net.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["b.expand", "b.dw", "b.project", "r"], "{residual}");
        assert_eq!(net.layers[2].out.scale, 0.05, "{residual}");
        assert_eq!(net.layers[3].clamp, (0, 120), "{residual}");
    }
    // With the residual add, the add carries out_scale: 6 / 0.5 = 12.
    let net = nasa::model::net::Network::parse(&block("residual = true\n"), path).unwrap();
    assert_eq!(net.layers[2].out.scale, 0.05);
    assert_eq!(net.layers[3].out.scale, 0.5);
    assert_eq!(net.layers[4].clamp, (0, 12));
}

#[test]
fn every_tensor_stays_in_its_range() {
    let features = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models/features"));
    for net in [
        nasa::model::models::default_network().unwrap(),
        nasa::model::net::Network::load(features).unwrap(),
    ] {
        let x: Vec<i64> = (0..784)
            .map(|i| net.input.quantize_pixel((i * 37 % 256) as u8))
            .collect();
        let tensors = run::<Int>(&net, x);
        for (id, t) in tensors.iter().enumerate() {
            let (lo, hi) = nasa::model::quant::signed_range(net.tensor(id).bits);
            assert!(
                t.iter().all(|&v| v >= lo && v <= hi),
                "{}: tensor {id} leaves its range",
                net.name
            );
            assert_eq!(t.len(), net.tensor(id).shape.len());
        }
    }
}
