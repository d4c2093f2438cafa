// nasa 0.1.0 `geometry-shift-tiles`: hand-written primitive (templates/arith/); network geometry-shift description sha256 9e9502ff0fe68e4a22736c1947e7b4db63950efe56c5f1df256f4bf1593e2846 architecture sha256 3ba61d534fe52067f32ab1659fea6a7f43c40ff3ca45077ff2b13d5199dfd694
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
