// nasa 0.1.0 `features-tiles`: hand-written primitive (templates/arith/); network features description sha256 323025ceefc852400f4befac4c46943ca7a39c390a936655bf47dd0fcac87ce5 architecture sha256 2fbb432ffcdcc21a1a74ecfb50becd0afebc95435d40463f0513de4abccb3263
// Hand-written primitive of nasa's tile engine (docs/accelerator.md);
// `nasa gen` copies it into every tile-engine design. A scratchpad of NB
// banks of CW-byte words, each bank split into even and odd words so that
// a read of CW bytes at any byte address takes one cycle.
//
// One read port: every bank reads the same byte address `rd_a`; the next
// cycle `rdat` holds, per bank, the CW bytes from that address on. One
// write port: CW bytes (per bank its own, `wr_db`) at any byte address
// `wr_a`, a byte mask `wr_m`, and a bank enable `wr_en`.
`default_nettype none

module nasa_spad #(
    parameter integer NB = 2,    // banks
    parameter integer CW = 2,    // bytes per word (a power of two)
    parameter integer LGW = 1,   // log2(CW)
    parameter integer HALF = 2,  // words per sub-bank
    parameter integer SAB = 1    // log2(HALF)
) (
    input  wire              clk,
    input  wire [31:0]       rd_a,
    input  wire [31:0]       wr_a,
    input  wire [NB*CW*8-1:0] wr_db,
    input  wire [CW-1:0]     wr_m,
    input  wire [NB-1:0]     wr_en,
    output wire [NB*CW*8-1:0] rdat
);
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] rd_w = rd_a >> LGW;
    wire [31:0] wr_w = wr_a >> LGW;
    wire [31:0] rd_next = (rd_w >> 1) + (rd_w & 32'd1);
    wire [31:0] wr_next = (wr_w >> 1) + (wr_w & 32'd1);
    /* verilator lint_on UNUSEDSIGNAL */
    wire [SAB-1:0] rd_i1 = rd_w[SAB:1];
    wire [SAB-1:0] rd_i0 = rd_next[SAB-1:0];
    wire [SAB-1:0] wr_i1 = wr_w[SAB:1];
    wire [SAB-1:0] wr_i0 = wr_next[SAB-1:0];
    wire [2*CW-1:0] wmwin = { {CW{1'b0}}, wr_m } << wr_a[LGW-1:0];
    // Even words go to sub-bank 0, odd words to sub-bank 1.
    wire [CW-1:0] wm0 = wr_w[0] ? wmwin[2*CW-1:CW] : wmwin[CW-1:0];
    wire [CW-1:0] wm1 = wr_w[0] ? wmwin[CW-1:0] : wmwin[2*CW-1:CW];
    reg rd_odd_q;
    reg [LGW-1:0] rd_off_q;
    always @(posedge clk) begin
        rd_odd_q <= rd_w[0];
        rd_off_q <= rd_a[LGW-1:0];
    end
    genvar gb;
    generate
        for (gb = 0; gb < NB; gb = gb + 1) begin : bank
            reg [CW*8-1:0] sb0 [0:HALF-1];
            reg [CW*8-1:0] sb1 [0:HALF-1];
            reg [CW*8-1:0] q0;
            reg [CW*8-1:0] q1;
            wire [2*CW*8-1:0] wwin = { {(CW*8){1'b0}}, wr_db[gb*CW*8 +: CW*8] } << { wr_a[LGW-1:0], 3'b000 };
            wire [CW*8-1:0] wd0 = wr_w[0] ? wwin[2*CW*8-1:CW*8] : wwin[CW*8-1:0];
            wire [CW*8-1:0] wd1 = wr_w[0] ? wwin[CW*8-1:0] : wwin[2*CW*8-1:CW*8];
            integer k;
            always @(posedge clk) begin
                q0 <= sb0[rd_i0];
                q1 <= sb1[rd_i1];
                if (wr_en[gb]) begin
                    for (k = 0; k < CW; k = k + 1) begin
                        if (wm0[k]) sb0[wr_i0][k*8 +: 8] <= wd0[k*8 +: 8];
                        if (wm1[k]) sb1[wr_i1][k*8 +: 8] <= wd1[k*8 +: 8];
                    end
                end
            end
            wire [2*CW*8-1:0] win = rd_odd_q ? { q0, q1 } : { q1, q0 };
            /* verilator lint_off UNUSEDSIGNAL */
            wire [2*CW*8-1:0] shifted = win >> { rd_off_q, 3'b000 };
            /* verilator lint_on UNUSEDSIGNAL */
            assign rdat[gb*CW*8 +: CW*8] = shifted[CW*8-1:0];
        end
    endgenerate
endmodule
`default_nettype wire
