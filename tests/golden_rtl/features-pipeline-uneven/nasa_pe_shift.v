// nasa 0.1.0 `features-pipeline-uneven`: PE cell from rust_hdl (src/hw/pe.rs); network features description sha256 323025ceefc852400f4befac4c46943ca7a39c390a936655bf47dd0fcac87ce5 architecture sha256 c9e45aa2a21b19d93925d3cafeadd500ebad2b55c3b3e4e34fe4b67fd51a5b89


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
