// nasa 0.1.0 `features-pipeline-uneven`: PE cell from rust_hdl (src/hw/pe.rs); network features description sha256 323025ceefc852400f4befac4c46943ca7a39c390a936655bf47dd0fcac87ce5 architecture sha256 c9e45aa2a21b19d93925d3cafeadd500ebad2b55c3b3e4e34fe4b67fd51a5b89


module nasa_pe_conv(x,w,acc_in,acc_out);
    
    // Module arguments
    input wire  [31:0] x;
    input wire  [7:0] w;
    input wire  [31:0] acc_in;
    output reg  [31:0] acc_out;
    
    // Local signals
    reg  [31:0] sum;
    
    // Update code
    always @(*) begin
        sum = acc_in;
        if (w[32'h0]) begin
            sum = sum + x;
        end
        if (w[32'h1]) begin
            sum = sum + (x << 64'h1);
        end
        if (w[32'h2]) begin
            sum = sum + (x << 64'h2);
        end
        if (w[32'h3]) begin
            sum = sum + (x << 64'h3);
        end
        if (w[32'h4]) begin
            sum = sum + (x << 64'h4);
        end
        if (w[32'h5]) begin
            sum = sum + (x << 64'h5);
        end
        if (w[32'h6]) begin
            sum = sum + (x << 64'h6);
        end
        if (w[32'h7]) begin
            sum = sum - (x << 64'h7);
        end
        acc_out = sum;
    end
    
endmodule // top
