// nasa 0.1.0 `geometry-adder-tiles`: hand-written primitive (templates/arith/); network geometry-adder description sha256 9670e0d8e30d830512734bfed1bbb6e6e940ee3a0159b403fd1dcc5fcab1e0c5 architecture sha256 87715261c8a406a8bfc70676ad3380bea8da8c1495520133d85a4ae712b5fcb7
// Hand-written arithmetic primitive of nasa's tile engine (docs/arithmetic.md);
// `nasa gen` copies it into every tile-engine design. A module of its own so
// that synthesis keeps each lane whole (Yosys shares resources within a
// module only).
`default_nettype none

module nasa_round_clamp (
    input  wire signed [63:0] v,
    input  wire [7:0]  s,
    input  wire [31:0] lo,
    input  wire [31:0] hi,
    output wire [7:0]  y
);
    // R2 then R5, with no 64-bit adder or comparator (the last stage of
    // every requantiser and scaler):
    // - rshift_round(v, s) = (v >>> s) + bit s - 1 of v: the half added
    //   before a flooring shift carries into the quotient exactly when that
    //   bit is set. One shift of {v, 0} by s gives both (s = 0: v and 0).
    // - lo and hi lie inside int8 (R5; activations have at most 8 bits), so
    //   the value saturates to int8 first and is clamped in 8 bits.
    wire signed [64:0] t = $signed({ v, 1'b0 }) >>> s;
    wire [63:0] q = t[64:1];
    wire up = t[0];
    wire fits = &q[63:7] || ~|q[63:7];
    wire [7:0] sat = !fits ? (q[63] ? 8'h80 : 8'h7f)
                   : (up && q[7:0] == 8'h7f) ? 8'h7f : q[7:0] + { 7'd0, up };
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] lo_u = lo;
    wire [31:0] hi_u = hi;
    /* verilator lint_on UNUSEDSIGNAL */
    wire signed [7:0] r = sat;
    wire signed [7:0] l = lo_u[7:0];
    wire signed [7:0] h = hi_u[7:0];
    assign y = (r < l) ? l : (r > h) ? h : r;
endmodule
`default_nettype wire
