// nasa 0.1.0 `features-pipeline-uneven`: hand-written primitive (templates/arith/); network features description sha256 323025ceefc852400f4befac4c46943ca7a39c390a936655bf47dd0fcac87ce5 architecture sha256 c9e45aa2a21b19d93925d3cafeadd500ebad2b55c3b3e4e34fe4b67fd51a5b89
// Hand-written arithmetic primitive of nasa's tile engine (docs/arithmetic.md);
// `nasa gen` copies it into every tile-engine design. A module of its own so
// that synthesis keeps each lane whole (Yosys shares resources within a
// module only).
`default_nettype none

module nasa_addq (
    input  wire [7:0]  a,
    input  wire [7:0]  b,
    input  wire        add,
    input  wire [31:0] ma,
    input  wire [31:0] mb,
    input  wire [31:0] s,
    input  wire [31:0] lo,
    input  wire [31:0] hi,
    output wire [7:0]  y
);
    // A1: clamp(rshift_round(a * ma + b * mb, s)); without add, clamp(b).
    wire signed [63:0] sum = $signed(a) * $signed(ma) + $signed(b) * $signed(mb);
    wire signed [63:0] v = add ? sum : { {56{b[7]}}, b };
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] sh = add ? s : 32'd0;
    /* verilator lint_on UNUSEDSIGNAL */
    nasa_round_clamp rc (.v(v), .s(sh[7:0]), .lo(lo), .hi(hi), .y(y));
endmodule
`default_nettype wire
