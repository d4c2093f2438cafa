//! The three processing-element datapath cells, one per arithmetic kind:
//! `acc_out = acc_in + term(x, w)` with the term of docs/arithmetic.md
//! (K1 multiply, K2 shift, K3 adder) and a 32-bit accumulator that wraps
//! modulo 2^32 (the generator only maps networks whose accumulators fit in
//! 32 bits, so the wrap never happens on a valid network). The cells are
//! combinational; the arrays around them register the accumulator.
//!
//! Ports: `x` is the 8-bit activation sign-extended to 32 bits by the
//! array (`{{24{x[7]}}, x}`); `w` is the raw 8-bit weight (multiply), the
//! 8-bit shift code (shift) or the weight sign-extended to 32 bits (adder).
//! Everything is unsigned `Bits` in two's complement and every operator has
//! operands of one width, so the Verilog rust_hdl emits is `verilator -Wall`
//! clean. The multiply is a shift-and-add over the weight's 8 bits (bit 7
//! with negative weight): exact, and with no `*` whose widths rust_hdl
//! cannot express (it only multiplies 16 x 16 bits).

use rust_hdl::prelude::*;

use crate::model::quant::Kind;

/// Accumulator width of the PE cells.
pub const ACC_BITS: usize = 32;
const ACC: usize = ACC_BITS;

/// Multiply-accumulate PE (CLP): `acc + x * w`.
#[derive(LogicBlock, Default)]
pub struct MacPe {
    pub x: Signal<In, Bits<ACC>>,
    pub w: Signal<In, Bits<8>>,
    pub acc_in: Signal<In, Bits<ACC>>,
    pub acc_out: Signal<Out, Bits<ACC>>,
    sum: Signal<Local, Bits<ACC>>,
}

impl Logic for MacPe {
    #[hdl_gen]
    fn update(&mut self) {
        self.sum.next = self.acc_in.val();
        if self.w.val().get_bit(0) {
            self.sum.next = self.sum.val() + self.x.val();
        }
        if self.w.val().get_bit(1) {
            self.sum.next = self.sum.val() + (self.x.val() << 1_u64);
        }
        if self.w.val().get_bit(2) {
            self.sum.next = self.sum.val() + (self.x.val() << 2_u64);
        }
        if self.w.val().get_bit(3) {
            self.sum.next = self.sum.val() + (self.x.val() << 3_u64);
        }
        if self.w.val().get_bit(4) {
            self.sum.next = self.sum.val() + (self.x.val() << 4_u64);
        }
        if self.w.val().get_bit(5) {
            self.sum.next = self.sum.val() + (self.x.val() << 5_u64);
        }
        if self.w.val().get_bit(6) {
            self.sum.next = self.sum.val() + (self.x.val() << 6_u64);
        }
        // Two's complement: the sign bit weighs -2^7.
        if self.w.val().get_bit(7) {
            self.sum.next = self.sum.val() - (self.x.val() << 7_u64);
        }
        self.acc_out.next = self.sum.val();
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
