// nasa 0.1.0 `geometry-shift-tiles`: PE cell from rust_hdl (src/hw/pe.rs); network geometry-shift description sha256 9e9502ff0fe68e4a22736c1947e7b4db63950efe56c5f1df256f4bf1593e2846 architecture sha256 3ba61d534fe52067f32ab1659fea6a7f43c40ff3ca45077ff2b13d5199dfd694


module nasa_pe_shift(x,w,acc_in,acc_out);
    
    // Module arguments
    input wire  [31:0] x;
    input wire  [7:0] w;
    input wire  [31:0] acc_in;
    output reg  [31:0] acc_out;
    
    // Constant declarations
    localparam  one = 8'h1;
    
    // Local signals
    reg  [7:0] mag;
    reg  [31:0] shifted;
    
    // Update code
    always @(*) begin
        mag = w;
        if (w[32'h7]) begin
            mag = ~w + one;
        end
        shifted = x << (mag - one);
        acc_out = acc_in;
        if (|w) begin
            if (w[32'h7]) begin
                acc_out = acc_in - shifted;
            end
            else begin
                acc_out = acc_in + shifted;
            end
        end
    end
    
endmodule // top
