//! The three processing-element datapath cells, one per arithmetic kind:
//! `acc_out = acc_in + term(x, w)` with the term of docs/arithmetic.md
//! (K1 multiply, K2 shift, K3 adder) and a 32-bit accumulator that wraps
//! modulo 2^32 (the generator only maps networks whose accumulators fit in
//! 32 bits, so the wrap never happens on a valid network). The cells are
//! combinational; the arrays around them register the accumulator.
//!
//! Ports: `x` is the 8-bit activation sign-extended by the array to 32
//! bits (`{{24{x[7]}}, x}`; 16 bits for the multiply PE); `w` is the
//! weight sign-extended to 16 bits (multiply), the 8-bit shift code
//! (shift) or the weight sign-extended to 32 bits (adder). Everything is unsigned `Bits` in two's
//! complement and every operator has operands of one width, so the Verilog
//! rust_hdl emits is `verilator -Wall` clean. The multiply is one 16 x
//! 16-bit `*` (the width rust_hdl multiplies) of the operands' magnitudes,
//! which Yosys maps to a DSP block.

use rust_hdl::prelude::*;

use crate::model::quant::Kind;

/// Accumulator width of the PE cells.
pub const ACC_BITS: usize = 32;
const ACC: usize = ACC_BITS;

/// Multiply-accumulate PE (CLP): `acc + x * w` as one 16 x 16-bit
/// multiply of the operands' magnitudes (what rust_hdl multiplies, and
/// what Yosys maps to a DSP block: DSP48E1 in `synth_xilinx`, MULT18X18D
/// in `synth_ecp5`), added or subtracted by the product's sign. `x` is the
/// activation and `w` the weight, both sign-extended to 16 bits by the
/// array: `x` is -128 to 127, or +128 (a shift code's +128 computed as
/// `(-x) * (-128)`, docs/arithmetic.md K4), `w` -128 to 127, so `|x * w|
/// <= 2^14` and the magnitudes fit.
#[derive(LogicBlock)]
pub struct MacPe {
    pub x: Signal<In, Bits<MAC_BITS>>,
    pub w: Signal<In, Bits<MAC_BITS>>,
    pub acc_in: Signal<In, Bits<ACC>>,
    pub acc_out: Signal<Out, Bits<ACC>>,
    xmag: Signal<Local, Bits<16>>,
    wmag: Signal<Local, Bits<16>>,
    prod: Signal<Local, Bits<ACC>>,
    one16: Constant<Bits<16>>,
}

/// Width of the multiply PE's operand ports (both sign-extended by the array).
pub const MAC_BITS: usize = 16;

impl Default for MacPe {
    fn default() -> Self {
        MacPe {
            x: Default::default(),
            w: Default::default(),
            acc_in: Default::default(),
            acc_out: Default::default(),
            xmag: Default::default(),
            wmag: Default::default(),
            prod: Default::default(),
            one16: Constant::new(1_u64.into()),
        }
    }
}

impl Logic for MacPe {
    #[hdl_gen]
    fn update(&mut self) {
        self.xmag.next = self.x.val();
        if self.x.val().get_bit(15) {
            self.xmag.next = !self.x.val() + self.one16.val();
        }
        self.wmag.next = self.w.val();
        if self.w.val().get_bit(15) {
            self.wmag.next = !self.w.val() + self.one16.val();
        }
        self.prod.next = self.xmag.val() * self.wmag.val();
        self.acc_out.next = self.acc_in.val() + self.prod.val();
        if self.x.val().get_bit(15) {
            if !self.w.val().get_bit(15) {
                self.acc_out.next = self.acc_in.val() - self.prod.val();
            }
        } else if self.w.val().get_bit(15) {
            self.acc_out.next = self.acc_in.val() - self.prod.val();
        }
    }
}

/// Shift-accumulate PE (SLP): `w` is a shift code (W2): 0 adds nothing,
/// `c > 0` adds `x << (c - 1)`, `c < 0` subtracts `x << (-c - 1)`.
#[derive(LogicBlock)]
pub struct ShiftPe {
    pub x: Signal<In, Bits<ACC>>,
    pub w: Signal<In, Bits<8>>,
    pub acc_in: Signal<In, Bits<ACC>>,
    pub acc_out: Signal<Out, Bits<ACC>>,
    mag: Signal<Local, Bits<8>>,
    shifted: Signal<Local, Bits<ACC>>,
    one: Constant<Bits<8>>,
}

impl Default for ShiftPe {
    fn default() -> Self {
        ShiftPe {
            x: Default::default(),
            w: Default::default(),
            acc_in: Default::default(),
            acc_out: Default::default(),
            mag: Default::default(),
            shifted: Default::default(),
            one: Constant::new(1_u64.into()),
        }
    }
}

impl Logic for ShiftPe {
    #[hdl_gen]
    fn update(&mut self) {
        self.mag.next = self.w.val();
        if self.w.val().get_bit(7) {
            self.mag.next = !self.w.val() + self.one.val();
        }
        self.shifted.next = self.x.val() << (self.mag.val() - self.one.val());
        self.acc_out.next = self.acc_in.val();
        if self.w.val().any() {
            if self.w.val().get_bit(7) {
                self.acc_out.next = self.acc_in.val() - self.shifted.val();
            } else {
                self.acc_out.next = self.acc_in.val() + self.shifted.val();
            }
        }
    }
}

/// Adder PE (ALP): `acc - |x - w|`.
#[derive(LogicBlock)]
pub struct AdderPe {
    pub x: Signal<In, Bits<ACC>>,
    pub w: Signal<In, Bits<ACC>>,
    pub acc_in: Signal<In, Bits<ACC>>,
    pub acc_out: Signal<Out, Bits<ACC>>,
    diff: Signal<Local, Bits<ACC>>,
    mag: Signal<Local, Bits<ACC>>,
    one: Constant<Bits<ACC>>,
}

impl Default for AdderPe {
    fn default() -> Self {
        AdderPe {
            x: Default::default(),
            w: Default::default(),
            acc_in: Default::default(),
            acc_out: Default::default(),
            diff: Default::default(),
            mag: Default::default(),
            one: Constant::new(1_u64.into()),
        }
    }
}

impl Logic for AdderPe {
    #[hdl_gen]
    fn update(&mut self) {
        self.diff.next = self.x.val() - self.w.val();
        self.mag.next = self.diff.val();
        if self.diff.val().get_bit(31) {
            self.mag.next = !self.diff.val() + self.one.val();
        }
        self.acc_out.next = self.acc_in.val() - self.mag.val();
    }
}

/// Verilog module name of a kind's PE cell.
pub fn module_name(kind: Kind) -> String {
    format!("nasa_pe_{}", kind.name())
}

/// The Verilog of a kind's PE cell, as a module named [`module_name`].
pub fn verilog(kind: Kind) -> String {
    let text = match kind {
        Kind::Conv => {
            let mut uut = MacPe::default();
            uut.connect_all();
            generate_verilog(&uut)
        }
        Kind::Shift => {
            let mut uut = ShiftPe::default();
            uut.connect_all();
            generate_verilog(&uut)
        }
        Kind::Adder => {
            let mut uut = AdderPe::default();
            uut.connect_all();
            generate_verilog(&uut)
        }
    };
    text.replacen("module top(", &format!("module {}(", module_name(kind)), 1)
}
