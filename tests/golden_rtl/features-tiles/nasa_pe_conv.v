// nasa 0.1.0 `features-tiles`: PE cell from rust_hdl (src/hw/pe.rs); network features description sha256 323025ceefc852400f4befac4c46943ca7a39c390a936655bf47dd0fcac87ce5 architecture sha256 2fbb432ffcdcc21a1a74ecfb50becd0afebc95435d40463f0513de4abccb3263


module nasa_pe_conv(x,w,acc_in,acc_out);
    
    // Module arguments
    input wire  [15:0] x;
    input wire  [15:0] w;
    input wire  [31:0] acc_in;
    output reg  [31:0] acc_out;
    
    // Constant declarations
    localparam  one16 = 16'h1;
    
    // Local signals
    reg  [15:0] xmag;
    reg  [15:0] wmag;
    reg  [31:0] prod;
    
    // Update code
    always @(*) begin
        xmag = x;
        if (x[32'hf]) begin
            xmag = ~x + one16;
        end
        wmag = w;
        if (w[32'hf]) begin
            wmag = ~w + one16;
        end
        prod = xmag * wmag;
        acc_out = acc_in + prod;
        if (x[32'hf]) begin
            if (~w[32'hf]) begin
                acc_out = acc_in - prod;
            end
        end
        else if (w[32'hf]) begin
            acc_out = acc_in - prod;
        end
    end
    
endmodule // top
