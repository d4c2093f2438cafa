//! Finite-difference checks of the hand-written backward passes of the
//! trainer and of the search's supernet.
//!
//! Multiply and shift convolutions are linear in the input and in the
//! (rounded) weights, so their gradients must match central differences
//! exactly up to f32 rounding. The adder backward is AdderNet's, not the
//! true gradient of `-|x - w|`: its weight gradient is the exact gradient
//! of the surrogate `-(x - w)^2 / 2` and its input gradient that of
//! `-huber(x - w)` (HardTanh), which is what is checked, together with the
//! sign agreement with the true gradient.

// Each check perturbs coordinate `i` of one buffer and compares with entry
// `i` of another: an index loop says that most plainly.
#![allow(clippy::needless_range_loop)]

use nasa::learn::search::space::{Candidate, Space, SpaceName};
use nasa::learn::search::supernet::{Sharing, Supernet};
use nasa::learn::train::kernels::{conv_backward, conv_forward, ConvGeom};
use nasa::learn::train::model::Mode;
use nasa::learn::train::wquant;
use nasa::model::quant::Kind;
use nasa::model::rng::SplitMix64;

fn geoms() -> Vec<ConvGeom> {
    let g = |c_in, c_out, k, stride, pad, depthwise| ConvGeom {
        c_in,
        h: 5,
        w: 6,
        c_out,
        kh: k,
        kw: k,
        stride,
        pad,
        depthwise,
    };
    vec![
        g(3, 4, 3, 2, 1, false),
        g(3, 4, 1, 1, 0, false),
        g(3, 3, 3, 1, 1, true),
        g(2, 2, 5, 2, 2, true),
        // A kernel wider than the padded input: some taps never meet it.
        ConvGeom {
            c_in: 2,
            h: 2,
            w: 1,
            c_out: 2,
            kh: 5,
            kw: 5,
            stride: 1,
            pad: 2,
            depthwise: true,
        },
    ]
}

fn randn(n: usize, rng: &mut SplitMix64) -> Vec<f32> {
    (0..n).map(|_| rng.normal() as f32).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// Central difference of `f` along coordinate `i` of `v`.
fn central(v: &[f32], i: usize, eps: f32, f: &dyn Fn(&[f32]) -> f64) -> f64 {
    let mut p = v.to_vec();
    p[i] += eps;
    let up = f(&p);
    p[i] -= 2.0 * eps;
    let down = f(&p);
    (up - down) / (2.0 * eps as f64)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// Asserts that `grad` is the gradient of `f` at `v`: every coordinate
/// against a central difference of step 1e-2, within a relative 2e-3.
fn assert_gradient(what: &str, v: &[f32], grad: &[f32], f: &dyn Fn(&[f32]) -> f64) {
    for i in 0..v.len() {
        let fd = central(v, i, 1e-2, f);
        assert!(
            close(fd, grad[i] as f64, 2e-3),
            "{what}[{i}]: finite difference {fd}, backward {}",
            grad[i]
        );
    }
}

#[test]
fn multiply_and_shift_backward_match_finite_differences() {
    let mut rng = SplitMix64::new(11);
    for kind in [Kind::Conv, Kind::Shift] {
        for g in geoms() {
            let n = 2;
            let x = randn(n * g.in_len(), &mut rng);
            let raw = randn(g.weight_len(), &mut rng);
            // Shift layers run on power-of-two weights; the gradient is with
            // respect to those (and passes straight through to the float ones).
            let w = match kind {
                Kind::Shift => wquant::shift(&raw, g.c_out, 3).values,
                _ => raw,
            };
            let dy = randn(n * g.out_len(), &mut rng);
            let (dx, dw) = conv_backward(kind, &g, &x, &w, &dy);
            let loss_x = |xv: &[f32]| dot(&conv_forward(kind, &g, xv, &w), &dy);
            let loss_w = |wv: &[f32]| dot(&conv_forward(kind, &g, &x, wv), &dy);
            assert_gradient(&format!("{kind} {g:?} dx"), &x, &dx, &loss_x);
            assert_gradient(&format!("{kind} {g:?} dw"), &w, &dw, &loss_w);
        }
    }
}

/// Forward of an adder-shaped layer with a custom per-term function
/// (padded inputs are 0, as in the real layer).
fn surrogate(g: &ConvGeom, x: &[f32], w: &[f32], term: fn(f64) -> f64) -> Vec<f64> {
    let n = x.len() / g.in_len();
    let (oh, ow) = (g.oh(), g.ow());
    let mut y = Vec::new();
    for i in 0..n {
        let xi = &x[i * g.in_len()..(i + 1) * g.in_len()];
        for m in 0..g.c_out {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0f64;
                    let chans: Vec<usize> = if g.depthwise {
                        vec![m]
                    } else {
                        (0..g.c_in).collect()
                    };
                    for (ci, &c) in chans.iter().enumerate() {
                        for ky in 0..g.kh {
                            for kx in 0..g.kw {
                                let iy = (oy * g.stride + ky) as isize - g.pad as isize;
                                let ix = (ox * g.stride + kx) as isize - g.pad as isize;
                                let xv = if iy >= 0
                                    && ix >= 0
                                    && (iy as usize) < g.h
                                    && (ix as usize) < g.w
                                {
                                    xi[(c * g.h + iy as usize) * g.w + ix as usize] as f64
                                } else {
                                    0.0
                                };
                                let wv = w[m * g.fan_in() + (ci * g.kh + ky) * g.kw + kx] as f64;
                                acc += term(xv - wv);
                            }
                        }
                    }
                    y.push(acc);
                }
            }
        }
    }
    y
}

fn huber(r: f64) -> f64 {
    if r.abs() <= 1.0 {
        0.5 * r * r
    } else {
        r.abs() - 0.5
    }
}

#[test]
fn adder_backward_is_the_addernet_gradient() {
    let mut rng = SplitMix64::new(12);
    for g in geoms() {
        let n = 2;
        let x = randn(n * g.in_len(), &mut rng);
        let w = randn(g.weight_len(), &mut rng);
        let dy = randn(n * g.out_len(), &mut rng);
        // The fast forward is the definition -sum |x - w|.
        let fwd = conv_forward(Kind::Adder, &g, &x, &w);
        let def = surrogate(&g, &x, &w, |r| -r.abs());
        for (a, b) in fwd.iter().zip(&def) {
            assert!((*a as f64 - b).abs() < 1e-4);
        }
        let (dx, dw) = conv_backward(Kind::Adder, &g, &x, &w, &dy);
        let dyd: Vec<f64> = dy.iter().map(|v| *v as f64).collect();
        let l = |y: Vec<f64>| y.iter().zip(&dyd).map(|(a, b)| a * b).sum::<f64>();
        // Input gradient: d/dx of -huber(x - w) is HardTanh(w - x).
        let loss_x = |xv: &[f32]| l(surrogate(&g, xv, &w, |r| -huber(r)));
        for i in 0..x.len() {
            let fd = central(&x, i, 1e-3, &loss_x);
            assert!(
                close(fd, dx[i] as f64, 2e-3),
                "{g:?} dx[{i}]: fd {fd} vs {}",
                dx[i]
            );
        }
        // Weight gradient: d/dw of -(x - w)^2 / 2 is the full-precision x - w.
        let loss_w = |wv: &[f32]| l(surrogate(&g, &x, wv, |r| -0.5 * r * r));
        let loss_true = |wv: &[f32]| l(surrogate(&g, &x, wv, |r| -r.abs()));
        let mut agree = 0;
        for i in 0..w.len() {
            let fd = central(&w, i, 1e-3, &loss_w);
            assert!(
                close(fd, dw[i] as f64, 2e-3),
                "{g:?} dw[{i}]: fd {fd} vs {}",
                dw[i]
            );
            let truth = central(&w, i, 1e-3, &loss_true);
            agree += (truth.signum() == (dw[i] as f64).signum()) as usize;
        }
        // The surrogate points the same way as the true gradient for most weights.
        assert!(
            agree * 10 >= w.len() * 7,
            "{g:?}: only {agree} of {} signs agree",
            w.len()
        );
    }
}

/// The whole layer graph (BatchNorm with batch statistics, residual add,
/// average pooling, global pooling, linear layer with bias, cross-entropy)
/// against central differences of the loss.
#[test]
fn model_backward_matches_finite_differences() {
    use nasa::learn::train::model::{cross_entropy, Mode, Model};
    use nasa::model::net::Network;
    let text = r#"
[network]
name = "fd"
[input]
channels = 1
height = 6
width = 6
scale = 0.1
[[layer]]
name = "stem"
op = "conv2d"
kind = "conv"
out_channels = 2
kernel = 3
padding = 1
out_scale = 0.1
[[layer]]
name = "c2"
op = "conv2d"
kind = "conv"
out_channels = 2
kernel = 3
padding = 1
out_scale = 0.1
[[layer]]
name = "res"
op = "add"
inputs = ["stem", "c2"]
out_scale = 0.1
[[layer]]
name = "dw"
op = "conv2d"
kind = "conv"
out_channels = 2
groups = 2
kernel = 3
stride = 2
padding = 1
out_scale = 0.1
[[layer]]
name = "pool"
op = "avgpool"
kernel = 1
[[layer]]
name = "gap"
op = "global_avgpool"
[[layer]]
name = "fc"
op = "linear"
kind = "conv"
out_features = 3
out_scale = 0.1
"#;
    let net = Network::parse(text, std::path::Path::new("fd.toml")).expect("valid description");
    let mut model = Model::new(&net, 5).expect("trainable");
    let mut rng = SplitMix64::new(13);
    let x = randn(4 * 36, &mut rng);
    let labels = [0u8, 1, 2, 1];
    let mode = Mode {
        train: true,
        quant: false,
    };
    let loss = |m: &mut Model| {
        let out = m.forward(x.clone(), mode).to_vec();
        cross_entropy(&out, &labels, 3).0
    };
    model.zero_grad();
    let out = model.forward(x.clone(), mode).to_vec();
    let (_, grad, _) = cross_entropy(&out, &labels, 3);
    model.backward(grad, mode);
    let grads: Vec<(String, Vec<f32>)> = model
        .params_mut()
        .into_iter()
        .map(|(n, p)| (n, p.g.clone()))
        .collect();
    let mut checked = 0;
    for (pi, (name, g)) in grads.iter().enumerate() {
        for i in 0..g.len() {
            let eps = 1e-2f32;
            let probe = |d: f32| {
                let mut m = model.clone();
                m.params_mut()[pi].1.v[i] += d;
                loss(&mut m)
            };
            let fd = (probe(eps) - probe(-eps)) / (2.0 * eps as f64);
            assert!(
                (fd - g[i] as f64).abs() <= 2e-3 + 2e-2 * fd.abs(),
                "{name}[{i}]: fd {fd} vs backward {}",
                g[i]
            );
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} parameters checked");
}

/// The supernet's backward through shared weights: two candidates of one
/// family (multiplier k3 e3 and k5 e1, mixed 0.6 / 0.4) read the same
/// stored 5x5, e=6 weights, the 3x3 one through their centre taps (or, with
/// the reference's sharing, separate 3x3 and 5x5 sets); the accumulated
/// weight gradients and the mixing-weight gradients must match central
/// differences of the loss (float mode, batch-statistics BN).
#[test]
fn supernet_shared_weight_gradients_match_finite_differences() {
    for sharing in [Sharing::Wide, Sharing::Reference] {
        supernet_case(sharing);
    }
}

fn supernet_case(sharing: Sharing) {
    let space = Space::scaled(SpaceName::Compact, (1, 8, 8), 3, 0.2, 0.25);
    let mut rng = SplitMix64::new(5);
    let x = randn(4 * 64, &mut rng);
    let r = randn(4 * 3, &mut rng);
    let mode = Mode {
        train: true,
        quant: false,
    };
    let conv = |kernel, expand| Candidate::Mb {
        kind: Kind::Conv,
        kernel,
        expand,
    };
    let base = Supernet::new(&space, 3, sharing);
    let paths = |w: f32| -> Vec<Vec<(usize, f32)>> {
        base.blocks
            .iter()
            .map(|b| {
                let i = b.candidates.iter().position(|&c| c == conv(3, 3)).unwrap();
                let j = b.candidates.iter().position(|&c| c == conv(5, 1)).unwrap();
                vec![(i, w), (j, 1.0 - w)]
            })
            .collect()
    };
    let loss =
        |net: &mut Supernet, w: f32| -> f64 { dot(&net.forward(x.clone(), &paths(w), mode), &r) };

    let mut net = base.clone();
    let _ = net.forward(x.clone(), &paths(0.6), mode);
    let dmix = net.backward(r.clone(), mode);
    // d/dw of the block's mixture: perturb the weight of block 1's first
    // path only (the second keeps 0.4).
    let mix_fd = {
        let b = 1;
        let one = |w: f32| -> f64 {
            let mut n = base.clone();
            let mut p = paths(0.6);
            p[b][0].1 = w;
            dot(&n.forward(x.clone(), &p, mode), &r)
        };
        (one(0.6 + 1e-3) - one(0.6 - 1e-3)) / 2e-3
    };
    assert!(
        close(dmix[1][0], mix_fd, 2e-2),
        "mixing-weight gradient {} against finite difference {mix_fd}",
        dmix[1][0]
    );

    let grads: Vec<(String, Vec<f32>)> = net
        .params_mut()
        .into_iter()
        .map(|(n, _, p)| (n, p.g.clone()))
        .collect();
    let mut checked = 0;
    for (name, g) in grads.iter().filter(|(n, _)| n.starts_with("b1.conv")) {
        if !(name.ends_with(".exp") || name.ends_with(".dw") || name.ends_with(".proj")) {
            continue;
        }
        // Check the first channel's 25 taps (centre and border) and a few more.
        for i in (0..g.len()).filter(|i| i % 7 == 0 || *i < 25).take(30) {
            // ReLUs and batch statistics make the loss piecewise smooth: a
            // coordinate whose step crosses a kink is retried with a smaller step.
            let fd_at = |eps: f32| {
                let f = |delta: f32| {
                    let mut n = base.clone();
                    for (pn, _, p) in n.params_mut() {
                        if &pn == name {
                            p.v[i] += delta;
                        }
                    }
                    loss(&mut n, 0.6)
                };
                (f(eps) - f(-eps)) / (2.0 * eps as f64)
            };
            let fds = [fd_at(2e-3), fd_at(4e-4)];
            assert!(
                fds.iter().any(|&fd| close(g[i] as f64, fd, 2e-2)),
                "{name}[{i}]: backward {} against finite differences {fds:?}",
                g[i]
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 60,
        "{sharing:?}: only {checked} coordinates checked"
    );
    let dw = |name: &str| grads.iter().find(|(n, _)| n == name).map(|(_, g)| g);
    match sharing {
        // One stored 5x5 set: taps outside the 3x3 centre are used by the k5
        // path only, and must have received gradient as well as the inside.
        Sharing::Wide => {
            let g = dw("b1.conv5.dw").unwrap();
            assert!(g[0] != 0.0 && g[12] != 0.0);
            assert!(dw("b1.conv3.dw").is_none() && dw("b1.shift5.dw").is_none());
        }
        // A set per kind and kernel.
        Sharing::Reference => {
            assert_eq!(
                dw("b1.conv3.dw").unwrap().len() * 25,
                dw("b1.conv5.dw").unwrap().len() * 9
            );
            assert!(dw("b1.shift3.dw").is_some());
        }
    }
}

/// The distillation loss's gradient in the student's logits, against
/// central differences; with `alpha = 0` it is the cross-entropy's.
#[test]
fn distillation_gradient_matches_finite_differences() {
    use nasa::learn::train::model::{cross_entropy, distillation};
    let mut rng = SplitMix64::new(21);
    let (n, classes) = (3, 5);
    let logits = randn(n * classes, &mut rng);
    let teacher: Vec<f32> = randn(n * classes, &mut rng)
        .iter()
        .map(|v| 3.0 * v)
        .collect();
    let labels = [0u8, 3, 4];
    for (alpha, t) in [(0.5f32, 4.0f32), (0.9, 2.0), (1.0, 1.0)] {
        let f = |v: &[f32]| distillation(v, &labels, &teacher, classes, alpha, t).0;
        let (_, grad, _) = distillation(&logits, &labels, &teacher, classes, alpha, t);
        assert_gradient(&format!("alpha {alpha} T {t} logits"), &logits, &grad, &f);
        // A teacher equal to the student adds nothing to the gradient.
        let (_, same, _) = distillation(&logits, &labels, &logits, classes, alpha, t);
        let (_, ce, _) = cross_entropy(&logits, &labels, classes);
        for (a, b) in same.iter().zip(&ce) {
            assert!((a - (1.0 - alpha) * b).abs() < 1e-6);
        }
    }
}
