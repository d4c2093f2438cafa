// nasa 0.1.0 `geometry-adder-tiles`: arithmetic primitive (templates/arith/); network geometry-adder description sha256 9670e0d8e30d830512734bfed1bbb6e6e940ee3a0159b403fd1dcc5fcab1e0c5 architecture sha256 87715261c8a406a8bfc70676ad3380bea8da8c1495520133d85a4ae712b5fcb7
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
