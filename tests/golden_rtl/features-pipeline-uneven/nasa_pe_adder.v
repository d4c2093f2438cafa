// nasa 0.1.0 `features-pipeline-uneven`: PE cell from rust_hdl (src/hw/pe.rs); network features description sha256 323025ceefc852400f4befac4c46943ca7a39c390a936655bf47dd0fcac87ce5 architecture sha256 c9e45aa2a21b19d93925d3cafeadd500ebad2b55c3b3e4e34fe4b67fd51a5b89


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
