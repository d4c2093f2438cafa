// nasa 0.1.0 `geometry-adder-tiles`: hand-written primitive (templates/arith/); network geometry-adder description sha256 9670e0d8e30d830512734bfed1bbb6e6e940ee3a0159b403fd1dcc5fcab1e0c5 architecture sha256 87715261c8a406a8bfc70676ad3380bea8da8c1495520133d85a4ae712b5fcb7
// Hand-written arithmetic primitive of nasa's tile engine (docs/arithmetic.md);
// `nasa gen` copies it into every tile-engine design. A module of its own so
// that synthesis keeps each lane whole (Yosys shares resources within a
// module only).
`default_nettype none

module nasa_addq (
    input  wire        clk,
    input  wire [7:0]  a,
    input  wire [7:0]  b,
    // The layer's operation, multipliers, shift and clamp, held while its
    // values pass.
    input  wire        add,
    input  wire [31:0] ma,
    input  wire [31:0] mb,
    input  wire [31:0] s,
    input  wire [31:0] lo,
    input  wire [31:0] hi,
    // A1 of a and b two cycles before.
    output wire [7:0]  y
);
    // A1: clamp(rshift_round(a * ma + b * mb, s)); without add, clamp(b).
    // The operands registered, then the sum of products, then the rounding
    // and clamp, combinational, into the caller's write.
    reg [7:0] a_q, b_q;
    reg signed [63:0] v_q;
    // A wire of its own: inside the conditional below, the unsigned
    // concatenation would make the products unsigned.
    wire signed [63:0] sum = $signed(a_q) * $signed(ma) + $signed(b_q) * $signed(mb);
    always @(posedge clk) begin
        a_q <= a;
        b_q <= b;
        v_q <= add ? sum : { {56{b_q[7]}}, b_q };
    end
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] sh = add ? s : 32'd0;
    /* verilator lint_on UNUSEDSIGNAL */
    nasa_round_clamp rc (.v(v_q), .s(sh[7:0]), .lo(lo), .hi(hi), .y(y));
endmodule
`default_nettype wire
