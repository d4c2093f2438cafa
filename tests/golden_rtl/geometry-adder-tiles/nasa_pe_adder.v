// nasa 0.1.0 `geometry-adder-tiles`: PE cell from rust_hdl (src/hw/pe.rs); network geometry-adder description sha256 9670e0d8e30d830512734bfed1bbb6e6e940ee3a0159b403fd1dcc5fcab1e0c5 architecture sha256 87715261c8a406a8bfc70676ad3380bea8da8c1495520133d85a4ae712b5fcb7


module nasa_pe_adder(x,w,acc_in,acc_out);
    
    // Module arguments
    input wire  [31:0] x;
    input wire  [31:0] w;
    input wire  [31:0] acc_in;
    output reg  [31:0] acc_out;
    
    // Constant declarations
    localparam  one = 32'h1;
    
    // Local signals
    reg  [31:0] diff;
    reg  [31:0] mag;
    
    // Update code
    always @(*) begin
        diff = x - w;
        mag = diff;
        if (diff[32'h1f]) begin
            mag = ~diff + one;
        end
        acc_out = acc_in - mag;
    end
    
endmodule // top
