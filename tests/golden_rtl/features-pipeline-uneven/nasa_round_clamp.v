// nasa 0.1.0 `features-pipeline-uneven`: hand-written primitive (templates/arith/); network features description sha256 323025ceefc852400f4befac4c46943ca7a39c390a936655bf47dd0fcac87ce5 architecture sha256 c9e45aa2a21b19d93925d3cafeadd500ebad2b55c3b3e4e34fe4b67fd51a5b89
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
