// External memory model of nasa's self-checking testbenches. Hand-written,
// independent of the network and of the design's sizes (all parameters);
// `nasa gen` copies it into every design beside tb.v, which instantiates it
// as `mem` and reaches its bytes as `mem.ext`.
//
// One request at a time: a request seen while idle is captured, answered
// LATENCY cycles later with a one-cycle `ack` (read data valid in the same
// cycle), and the next request is accepted once `ack` has dropped. A write
// stores the bytes whose `wstrb` bit is set; a read beyond EXT_BYTES reads 0.
// A read burst (`len` > 0, the lines after the first) answers its lines at
// consecutive addresses in consecutive cycles, `ack` high for each; the
// requester holds `req` only until the first. A write burst takes its lines
// as the requester offers them (`wvalid` with `wdata` and `wstrb`, held
// until that line's `ack`), the first with the request; a single write
// stores what came with the request.
//
// A second, write-only channel (`w*`, the write channel of a tile
// pipeline; tied low elsewhere) works the same way on the same bytes,
// independently of the first.
`timescale 1ns/1ps
module nasa_ext_mem #(
    parameter integer AW = 16,        // byte address bits
    parameter integer DW = 64,        // data bits (one line)
    parameter integer EXT_BYTES = 16, // bytes modelled
    parameter integer LATENCY = 8     // cycles from capture to ack
) (
    input wire clk,
    input wire req,
    input wire we,
    input wire [AW-1:0] addr,
    input wire [DW-1:0] wdata,
    input wire [DW/8-1:0] wstrb,
    input wire [15:0] len,
    input wire wvalid,
    output reg ack,
    output reg [DW-1:0] rdata,
    input wire wreq,
    input wire [AW-1:0] waddr,
    input wire [DW-1:0] wwdata,
    input wire [DW/8-1:0] wwstrb,
    output reg wack
);
    localparam integer LB = DW / 8;
    localparam [AW-1:0] LB_A = LB;
    reg [7:0] ext [0:EXT_BYTES-1];
    reg pending;
    reg q_we;
    reg [AW-1:0] q_addr;
    reg [DW-1:0] q_wdata;
    reg [LB-1:0] q_wstrb;
    reg [15:0] q_left;
    reg q_wb;
    // A write burst's line: the one offered now.
    wire [DW-1:0] b_wdata = q_wb ? wdata : q_wdata;
    wire [LB-1:0] b_wstrb = q_wb ? wstrb : q_wstrb;
    integer lat, b;
    initial begin
        ack = 1'b0;
        rdata = {DW{1'b0}};
        pending = 1'b0;
    end
    always @(posedge clk) begin
        ack <= 1'b0;
        if (pending) begin
            if (lat == 0 && (!q_wb || (wvalid && !ack))) begin
                ack <= 1'b1;
                if (q_left == 16'd0) pending <= 1'b0;
                else begin
                    q_left <= q_left - 16'd1;
                    q_addr <= q_addr + LB_A;
                end
                for (b = 0; b < LB; b = b + 1) begin
                    if (q_we) begin
                        if (b_wstrb[b]) ext[q_addr + b] = b_wdata[b*8 +: 8];
                    end else begin
                        rdata[b*8 +: 8] <= (q_addr + b < EXT_BYTES) ? ext[q_addr + b] : 8'd0;
                    end
                end
            end else if (lat != 0) lat <= lat - 1;
        end else if (req && !ack) begin
            pending <= 1'b1;
            lat <= LATENCY;
            q_we <= we;
            q_addr <= addr;
            q_wdata <= wdata;
            q_wstrb <= wstrb;
            q_left <= len;
            q_wb <= we && len != 16'd0;
        end
    end
    // The write channel.
    reg w_pending;
    reg [AW-1:0] w_addr;
    reg [DW-1:0] w_data;
    reg [LB-1:0] w_strb;
    integer w_lat, wb;
    initial begin
        wack = 1'b0;
        w_pending = 1'b0;
    end
    always @(posedge clk) begin
        wack <= 1'b0;
        if (w_pending) begin
            if (w_lat == 0) begin
                w_pending <= 1'b0;
                wack <= 1'b1;
                for (wb = 0; wb < LB; wb = wb + 1)
                    if (w_strb[wb]) ext[w_addr + wb] = w_data[wb*8 +: 8];
            end else w_lat <= w_lat - 1;
        end else if (wreq && !wack) begin
            w_pending <= 1'b1;
            w_lat <= LATENCY;
            w_addr <= waddr;
            w_data <= wwdata;
            w_strb <= wwstrb;
        end
    end
endmodule
