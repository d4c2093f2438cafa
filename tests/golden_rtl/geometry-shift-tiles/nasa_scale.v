// nasa 0.1.0 `geometry-shift-tiles`: hand-written primitive (templates/arith/); network geometry-shift description sha256 9e9502ff0fe68e4a22736c1947e7b4db63950efe56c5f1df256f4bf1593e2846 architecture sha256 3ba61d534fe52067f32ab1659fea6a7f43c40ff3ca45077ff2b13d5199dfd694
// Hand-written arithmetic primitive of nasa's tile engine (docs/arithmetic.md);
// `nasa gen` copies it into every tile-engine design. A module of its own so
// that synthesis keeps each lane whole (Yosys shares resources within a
// module only).
`default_nettype none

module nasa_scale (
    input  wire        clk,
    input  wire signed [31:0] v,
    // The layer's multiplier, shift and clamp, held while its values pass.
    input  wire [31:0] m,
    input  wire [31:0] s,
    input  wire [31:0] lo,
    input  wire [31:0] hi,
    // P2 of v two cycles before.
    output wire [7:0]  y
);
    // P2: clamp(rshift_round(v * m, s)): v registered, then the product,
    // then the rounding and clamp, combinational, into the caller's write.
    reg signed [31:0] v_q;
    reg signed [63:0] prod_q;
    always @(posedge clk) begin
        v_q <= v;
        prod_q <= v_q * $signed(m);
    end
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] sh = s;
    /* verilator lint_on UNUSEDSIGNAL */
    nasa_round_clamp rc (.v(prod_q), .s(sh[7:0]), .lo(lo), .hi(hi), .y(y));
endmodule
`default_nettype wire
