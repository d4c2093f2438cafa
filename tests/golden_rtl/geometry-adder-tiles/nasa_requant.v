// nasa 0.1.0 `geometry-adder-tiles`: hand-written primitive (templates/arith/); network geometry-adder description sha256 9670e0d8e30d830512734bfed1bbb6e6e940ee3a0159b403fd1dcc5fcab1e0c5 architecture sha256 87715261c8a406a8bfc70676ad3380bea8da8c1495520133d85a4ae712b5fcb7
// Hand-written arithmetic primitive of nasa's tile engine (docs/arithmetic.md);
// `nasa gen` copies it into every tile-engine design. A module of its own so
// that synthesis keeps each lane whole (Yosys shares resources within a
// module only).
`default_nettype none

module nasa_requant (
    input  wire        clk,
    input  wire [31:0] acc,
    // {bias[31:0], multiplier[31:0], shift[7:0]}
    input  wire [71:0] par,
    input  wire [31:0] lo,
    input  wire [31:0] hi,
    // R4 of acc and par two cycles before (lo and hi: the layer's, held).
    output wire [7:0]  y
);
    // R4: clamp(rshift_round((acc + bias) * multiplier, shift)), in three
    // stages of about one adder, one multiplier and one shift-and-clamp
    // each: the sum registered, then the product, then the rounding and
    // clamp, combinational, into the caller's write. The product fits 64
    // bits (acc_bits + multiplier bits <= 64, checked at load).
    reg signed [32:0] sum_q;
    reg signed [31:0] m_q;
    reg [7:0] s_q, s_qq;
    reg signed [63:0] prod_q;
    always @(posedge clk) begin
        sum_q <= $signed({ acc[31], acc }) + $signed({ par[71], par[71:40] });
        m_q <= par[39:8];
        s_q <= par[7:0];
        prod_q <= sum_q * m_q;
        s_qq <= s_q;
    end
    nasa_round_clamp rc (.v(prod_q), .s(s_qq), .lo(lo), .hi(hi), .y(y));
endmodule
`default_nettype wire
