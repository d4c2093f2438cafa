// nasa 0.1.0 `geometry-shift-tiles`: arithmetic primitive (templates/arith/); network geometry-shift description sha256 9e9502ff0fe68e4a22736c1947e7b4db63950efe56c5f1df256f4bf1593e2846 architecture sha256 3ba61d534fe52067f32ab1659fea6a7f43c40ff3ca45077ff2b13d5199dfd694
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
    // R2 then R5: round half up by s bits (s = 0: the value itself), clamp.
    wire signed [63:0] r = (s == 8'd0) ? v : (v + (64'sd1 <<< (s - 8'd1))) >>> s;
    wire signed [63:0] l = $signed({ {32{lo[31]}}, lo });
    wire signed [63:0] h = $signed({ {32{hi[31]}}, hi });
    wire signed [63:0] c = (r < l) ? l : (r > h) ? h : r;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [63:0] cu = c;
    /* verilator lint_on UNUSEDSIGNAL */
    assign y = cu[7:0];
endmodule
`default_nettype wire
