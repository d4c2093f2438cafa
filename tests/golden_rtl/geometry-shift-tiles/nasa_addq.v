// nasa 0.1.0 `geometry-shift-tiles`: hand-written primitive (templates/arith/); network geometry-shift description sha256 9e9502ff0fe68e4a22736c1947e7b4db63950efe56c5f1df256f4bf1593e2846 architecture sha256 3ba61d534fe52067f32ab1659fea6a7f43c40ff3ca45077ff2b13d5199dfd694
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
