// AXI4 memory model of nasa's AXI testbench (tb_axi.v). Hand-written,
// independent of the network and of the design's sizes; `nasa gen` copies
// it into every design with an AXI4 wrapper. The bench reaches its bytes
// as `mem.mem`.
//
// A slave of BYTES bytes from address BASE. It serves one read and one
// write transaction at a time (each channel accepts its next address once
// the last is answered), INCR, FIXED and WRAP bursts of any size up to
// the data width. Every handshake it takes part in waits a random number
// of cycles, 0 to max_wait, drawn from a xorshift generator seeded with
// `seed`: ARREADY and AWREADY before an address, each WREADY, each read
// beat's RVALID and the write response's BVALID. It never reorders (one
// transaction per channel), and it keeps every VALID and its payload until
// the handshake, as AXI4 requires. An access outside [BASE, BASE + BYTES)
// is answered SLVERR (a read returns zeros, a write changes nothing) and
// reported once as AXI_MEM_RANGE.
`timescale 1ns/1ps
module nasa_axi_mem #(
    parameter integer ADDR_W = 32,
    parameter integer DATA_W = 64,
    parameter integer ID_W = 4,
    parameter [ADDR_W-1:0] BASE = {ADDR_W{1'b0}},
    parameter integer BYTES = 4096
) (
    input  wire                clk,
    input  wire                rst_n,
    input  wire [31:0]         seed,
    input  wire [7:0]          max_wait,
    input  wire [ID_W-1:0]     awid,
    input  wire [ADDR_W-1:0]   awaddr,
    input  wire [7:0]          awlen,
    input  wire [2:0]          awsize,
    input  wire [1:0]          awburst,
    input  wire                awvalid,
    output reg                 awready,
    input  wire [DATA_W-1:0]   wdata,
    input  wire [DATA_W/8-1:0] wstrb,
    input  wire                wlast,
    input  wire                wvalid,
    output reg                 wready,
    output reg  [ID_W-1:0]     bid,
    output reg  [1:0]          bresp,
    output reg                 bvalid,
    input  wire                bready,
    input  wire [ID_W-1:0]     arid,
    input  wire [ADDR_W-1:0]   araddr,
    input  wire [7:0]          arlen,
    input  wire [2:0]          arsize,
    input  wire [1:0]          arburst,
    input  wire                arvalid,
    output reg                 arready,
    output reg  [ID_W-1:0]     rid,
    output reg  [DATA_W-1:0]   rdata,
    output reg  [1:0]          rresp,
    output reg                 rlast,
    output reg                 rvalid,
    input  wire                rready
);
    localparam integer NB = DATA_W / 8;
    reg [7:0] mem [0:BYTES-1];
    reg [31:0] rs;
    reg reported;

    // The next xorshift32 state, and a wait of 0 to max_wait cycles from it.
    function automatic [31:0] xs(input [31:0] x);
        reg [31:0] y;
        begin
            y = x ^ (x << 13);
            y = y ^ (y >> 17);
            xs = y ^ (y << 5);
        end
    endfunction
    function automatic [7:0] pick(input [31:0] x, input [7:0] m);
        pick = (m == 8'd0) ? 8'd0 : x[15:8] % (m + 8'd1);
    endfunction

    // The address of beat `n` of a burst (AXI4 A3.4.1).
    function automatic [ADDR_W-1:0] beat_addr(input [ADDR_W-1:0] a, input [2:0] size,
                                              input [7:0] len, input [1:0] burst, input [8:0] n);
        reg [ADDR_W-1:0] aligned, wrap, step;
        begin
            step = {{(ADDR_W-1){1'b0}}, 1'b1} << size;
            aligned = (a >> size) << size;
            if (burst == 2'b00) beat_addr = a;
            else if (burst == 2'b10) begin
                wrap = step * ({{(ADDR_W-8){1'b0}}, len} + 1);
                beat_addr = (a / wrap) * wrap + ((a + step * n) % wrap);
            end else beat_addr = (n == 9'd0) ? a : aligned + step * n;
        end
    endfunction

    function automatic in_range(input [ADDR_W-1:0] a);
        in_range = a >= BASE && a - BASE < BYTES;
    endfunction

    // Read channel.
    reg r_act;
    reg [ADDR_W-1:0] r_a;
    reg [7:0] r_len;
    reg [2:0] r_size;
    reg [1:0] r_burst;
    reg [8:0] r_n;
    reg [7:0] r_wait, ar_wait;
    // Write channel.
    reg w_act, w_resp;
    reg [ADDR_W-1:0] w_a;
    reg [7:0] w_len;
    reg [2:0] w_size;
    reg [1:0] w_burst;
    reg [8:0] w_n;
    reg [7:0] w_wait, aw_wait, b_wait;
    reg w_err;
    reg [ADDR_W-1:0] ba;
    integer k;

    always @(posedge clk) begin
        if (!rst_n) begin
            rs <= (seed == 32'd0) ? 32'h2545f491 : seed;
            awready <= 1'b0; wready <= 1'b0; bvalid <= 1'b0; arready <= 1'b0; rvalid <= 1'b0;
            rlast <= 1'b0; rresp <= 2'b00; bresp <= 2'b00; rdata <= {DATA_W{1'b0}};
            bid <= {ID_W{1'b0}}; rid <= {ID_W{1'b0}};
            r_act <= 1'b0; w_act <= 1'b0; w_resp <= 1'b0; w_err <= 1'b0;
            ar_wait <= 8'd0; aw_wait <= 8'd0; r_wait <= 8'd0; w_wait <= 8'd0; b_wait <= 8'd0;
            reported <= 1'b0;
        end else begin
            rs <= xs(rs);
            // ---- read address, then beats
            if (!r_act) begin
                if (arvalid && arready) begin
                    arready <= 1'b0;
                    r_act <= 1'b1; r_a <= araddr; r_len <= arlen; r_size <= arsize; r_burst <= arburst;
                    r_n <= 9'd0; rid <= arid; r_wait <= pick(rs, max_wait);
                end else if (!arready) begin
                    if (ar_wait == 8'd0) arready <= 1'b1;
                    else ar_wait <= ar_wait - 8'd1;
                end
            end else if (rvalid) begin
                if (rready) begin
                    rvalid <= 1'b0;
                    if (rlast) begin r_act <= 1'b0; ar_wait <= pick(rs, max_wait); end
                    else begin r_n <= r_n + 9'd1; r_wait <= pick(rs, max_wait); end
                end
            end else if (r_wait != 8'd0) r_wait <= r_wait - 8'd1;
            else begin
                ba = beat_addr(r_a, r_size, r_len, r_burst, r_n);
                rvalid <= 1'b1;
                rlast <= r_n == {1'b0, r_len};
                rresp <= 2'b00;
                for (k = 0; k < NB; k = k + 1) begin
                    if (in_range(ba - (ba % NB) + k)) rdata[k*8 +: 8] <= mem[ba - (ba % NB) + k - BASE];
                    else begin rdata[k*8 +: 8] <= 8'd0; rresp <= 2'b10; end
                end
                if (!in_range(ba) && !reported) begin
                    $display("AXI_MEM_RANGE read at 0x%0h", ba);
                    reported <= 1'b1;
                end
            end
            // ---- write address, beats, then the response
            if (!w_act) begin
                if (awvalid && awready) begin
                    awready <= 1'b0;
                    w_act <= 1'b1; w_resp <= 1'b0; w_a <= awaddr; w_len <= awlen; w_size <= awsize;
                    w_burst <= awburst; w_n <= 9'd0; bid <= awid; w_err <= 1'b0;
                    w_wait <= pick(rs, max_wait);
                end else if (!awready) begin
                    if (aw_wait == 8'd0) awready <= 1'b1;
                    else aw_wait <= aw_wait - 8'd1;
                end
            end else if (!w_resp) begin
                if (wvalid && wready) begin
                    wready <= 1'b0;
                    ba = beat_addr(w_a, w_size, w_len, w_burst, w_n);
                    for (k = 0; k < NB; k = k + 1)
                        if (wstrb[k]) begin
                            if (in_range(ba - (ba % NB) + k)) mem[ba - (ba % NB) + k - BASE] <= wdata[k*8 +: 8];
                            else w_err <= 1'b1;
                        end
                    if (!in_range(ba) && !reported) begin
                        $display("AXI_MEM_RANGE write at 0x%0h", ba);
                        reported <= 1'b1;
                    end
                    if (w_n == {1'b0, w_len}) begin w_resp <= 1'b1; b_wait <= pick(rs, max_wait); end
                    else begin w_n <= w_n + 9'd1; w_wait <= pick(rs, max_wait); end
                end else if (!wready) begin
                    if (w_wait == 8'd0) wready <= 1'b1;
                    else w_wait <= w_wait - 8'd1;
                end
            end else if (bvalid) begin
                if (bready) begin bvalid <= 1'b0; w_act <= 1'b0; aw_wait <= pick(rs, max_wait); end
            end else if (b_wait != 8'd0) b_wait <= b_wait - 8'd1;
            else begin bvalid <= 1'b1; bresp <= w_err ? 2'b10 : 2'b00; end
        end
    end
endmodule
