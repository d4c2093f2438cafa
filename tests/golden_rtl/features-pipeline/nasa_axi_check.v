// AXI4 and AXI4-Lite protocol checkers of nasa's AXI testbench (tb_axi.v).
// Hand-written, independent of the design; `nasa gen` copies them into
// every design with an AXI4 wrapper. Each watches one interface, both
// directions, on every rising clock edge, and stops the run at the first
// violation with a line `PROTOCOL <interface> <rule>: <detail>` and
// $fatal, so that the simulator exits non-zero.
//
// Rules (AMBA AXI4, ARM IHI 0022, sections A3.1 to A3.4, B1):
// - reset: no VALID high in a cycle that began in reset (A3.1.2);
// - no VALID, READY or LAST unknown (X or Z) out of reset;
// - stable: a VALID, once high, stays high with its payload unchanged
//   until its READY (A3.2.1), on every channel, master and slave side;
// - burst: AxBURST not reserved; AxSIZE no wider than the bus; a WRAP
//   burst aligned, of 2, 4, 8 or 16 beats; a FIXED burst of 16 beats or
//   fewer; an INCR burst inside one 4 KB page (A3.4.1);
// - order: WLAST on exactly the AWLEN + 1-th beat of its burst, RLAST on
//   the ARLEN + 1-th; a read beat only for an accepted read address, a
//   write response only once the write's address and last beat are both
//   in (A3.3.1); RID and BID those of the request (one ID in flight).
// One deliberate limit: write data before its address is legal AXI4 but
// reported here (W_BEFORE_AW), since nasa's wrapper never sends it.
// AXI4-Lite (B1): the stable and unknown rules, and a response only for
// an accepted request.
`timescale 1ns/1ps
module nasa_axi4_check #(
    parameter integer ADDR_W = 32,
    parameter integer DATA_W = 64,
    parameter integer ID_W = 4
) (
    input wire                clk,
    input wire                rst_n,
    input wire [ID_W-1:0]     awid,
    input wire [ADDR_W-1:0]   awaddr,
    input wire [7:0]          awlen,
    input wire [2:0]          awsize,
    input wire [1:0]          awburst,
    input wire                awvalid,
    input wire                awready,
    input wire [DATA_W-1:0]   wdata,
    input wire [DATA_W/8-1:0] wstrb,
    input wire                wlast,
    input wire                wvalid,
    input wire                wready,
    input wire [ID_W-1:0]     bid,
    input wire [1:0]          bresp,
    input wire                bvalid,
    input wire                bready,
    input wire [ID_W-1:0]     arid,
    input wire [ADDR_W-1:0]   araddr,
    input wire [7:0]          arlen,
    input wire [2:0]          arsize,
    input wire [1:0]          arburst,
    input wire                arvalid,
    input wire                arready,
    input wire [ID_W-1:0]     rid,
    input wire [DATA_W-1:0]   rdata,
    input wire [1:0]          rresp,
    input wire                rlast,
    input wire                rvalid,
    input wire                rready
);
    localparam integer MAXSIZE = $clog2(DATA_W / 8);
    reg in_reset;  // the previous edge saw reset
    reg p_awv, p_awr, p_wv, p_wr, p_bv, p_br, p_arv, p_arr, p_rv, p_rr;
    reg [ID_W+ADDR_W+8+3+2-1:0] p_aw, p_ar;
    reg [DATA_W+DATA_W/8:0] p_w;
    reg [ID_W+2-1:0] p_b;
    reg [ID_W+DATA_W+2:0] p_r;
    // Accepted write addresses not yet answered, and their lengths and IDs
    // (at most 8 in flight).
    reg [7:0] aw_len [0:7];
    reg [ID_W-1:0] aw_id [0:7];
    reg [2:0] aw_head, aw_tail;
    reg [3:0] aw_n;     // addresses whose data is not all in
    reg [3:0] wdone_n;  // writes whose data is all in, not yet answered
    reg [8:0] w_beats;
    reg [7:0] ar_len [0:7];
    reg [ID_W-1:0] ar_id [0:7];
    reg [2:0] ar_head, ar_tail;
    reg [3:0] ar_n;
    reg [8:0] r_beats;
    reg [63:0] cycle;
    // The oldest write not yet answered (3 bits: the index wraps).
    wire [2:0] b_idx = aw_head - wdone_n[2:0];

    task automatic fail(input [8*24-1:0] rule, input [8*96-1:0] detail);
        begin
            $display("PROTOCOL m_axi %0s: %0s (cycle %0d)", rule, detail, cycle);
            $fatal(1, "AXI protocol violation");
        end
    endtask

    task automatic check_addr(input [8*2-1:0] ch, input [ADDR_W-1:0] a, input [7:0] len,
                              input [2:0] size, input [1:0] burst);
        reg [12:0] end_off;
        begin
            if (burst == 2'b11) fail("BURST_RESERVED", {ch, "BURST is 2'b11"});
            if (size > MAXSIZE) fail("SIZE_WIDER_THAN_BUS", {ch, "SIZE exceeds the data width"});
            if (burst == 2'b10) begin
                if (len != 8'd1 && len != 8'd3 && len != 8'd7 && len != 8'd15)
                    fail("WRAP_LENGTH", {ch, "LEN of a WRAP burst not 1, 3, 7 or 15"});
                if ((a & ((1 << size) - 1)) != 0) fail("WRAP_UNALIGNED", {ch, "ADDR of a WRAP burst unaligned"});
            end
            if (burst == 2'b00 && len > 8'd15) fail("FIXED_LENGTH", {ch, "LEN of a FIXED burst above 15"});
            if (burst == 2'b01) begin
                end_off = {1'b0, a[11:0]} - ({1'b0, a[11:0]} & ((13'd1 << size) - 13'd1))
                        + (({5'd0, len} + 13'd1) << size);
                if (end_off > 13'd4096) fail("CROSSES_4KB", {ch, "INCR burst crosses a 4 KB boundary"});
            end
        end
    endtask

    always @(posedge clk) begin
        cycle <= cycle + 64'd1;
        if (!rst_n) begin
            in_reset <= 1'b1;
            if (in_reset && (awvalid === 1'b1 || wvalid === 1'b1 || arvalid === 1'b1))
                fail("VALID_IN_RESET", "master VALID high during reset");
            if (in_reset && (rvalid === 1'b1 || bvalid === 1'b1))
                fail("VALID_IN_RESET", "slave VALID high during reset");
            p_awv <= 1'b0; p_wv <= 1'b0; p_bv <= 1'b0; p_arv <= 1'b0; p_rv <= 1'b0;
            aw_head <= 3'd0; aw_tail <= 3'd0; aw_n <= 4'd0; wdone_n <= 4'd0; w_beats <= 9'd0;
            ar_head <= 3'd0; ar_tail <= 3'd0; ar_n <= 4'd0; r_beats <= 9'd0;
        end else begin
            in_reset <= 1'b0;
            if ((^{awvalid, awready, wvalid, wready, wlast, bvalid, bready, arvalid, arready,
                   rvalid, rready, rlast}) === 1'bx)
                fail("UNKNOWN", "a VALID, READY or LAST is X or Z");
            // ---- stable until the handshake
            if (p_awv && !p_awr) begin
                if (!awvalid) fail("AWVALID_DROPPED", "AWVALID fell before AWREADY");
                if ({awid, awaddr, awlen, awsize, awburst} !== p_aw) fail("AW_CHANGED", "AW payload changed while waiting");
            end
            if (p_wv && !p_wr) begin
                if (!wvalid) fail("WVALID_DROPPED", "WVALID fell before WREADY");
                if ({wdata, wstrb, wlast} !== p_w) fail("W_CHANGED", "W payload changed while waiting");
            end
            if (p_arv && !p_arr) begin
                if (!arvalid) fail("ARVALID_DROPPED", "ARVALID fell before ARREADY");
                if ({arid, araddr, arlen, arsize, arburst} !== p_ar) fail("AR_CHANGED", "AR payload changed while waiting");
            end
            if (p_rv && !p_rr) begin
                if (!rvalid) fail("RVALID_DROPPED", "RVALID fell before RREADY");
                if ({rid, rdata, rresp, rlast} !== p_r) fail("R_CHANGED", "R payload changed while waiting");
            end
            if (p_bv && !p_br) begin
                if (!bvalid) fail("BVALID_DROPPED", "BVALID fell before BREADY");
                if ({bid, bresp} !== p_b) fail("B_CHANGED", "B payload changed while waiting");
            end
            // ---- bursts and their order
            if (awvalid && awready) begin
                check_addr("AW", awaddr, awlen, awsize, awburst);
                aw_len[aw_tail] <= awlen; aw_id[aw_tail] <= awid; aw_tail <= aw_tail + 3'd1;
            end
            if (arvalid && arready) begin
                check_addr("AR", araddr, arlen, arsize, arburst);
                ar_len[ar_tail] <= arlen; ar_id[ar_tail] <= arid; ar_tail <= ar_tail + 3'd1;
            end
            if (wvalid && wready) begin
                if (aw_n == 4'd0 && !(awvalid && awready)) fail("W_BEFORE_AW", "write data before its address");
                else begin
                    if (wlast != (w_beats == {1'b0, aw_len[aw_head]}))
                        fail("WLAST", "WLAST not on the burst's last beat");
                    if (wlast) w_beats <= 9'd0;
                    else w_beats <= w_beats + 9'd1;
                end
            end
            if (bvalid && bready) begin
                if (wdone_n == 4'd0) fail("B_EARLY", "write response before the write's last beat");
                else if (bid !== aw_id[b_idx]) fail("BID", "BID not the write's AWID");
            end
            if (rvalid && rready) begin
                if (ar_n == 4'd0) fail("R_UNREQUESTED", "read data with no read address accepted");
                else begin
                    if (rid !== ar_id[ar_head]) fail("RID", "RID not the read's ARID");
                    if (rlast != (r_beats == {1'b0, ar_len[ar_head]}))
                        fail("RLAST", "RLAST not on the burst's last beat");
                    if (rlast) begin r_beats <= 9'd0; ar_head <= ar_head + 3'd1; end
                    else r_beats <= r_beats + 9'd1;
                end
            end
            // Counts: addresses in flight, writes complete and unanswered.
            aw_n <= aw_n + ((awvalid && awready) ? 4'd1 : 4'd0) - ((wvalid && wready && wlast) ? 4'd1 : 4'd0);
            if (wvalid && wready && wlast) aw_head <= aw_head + 3'd1;
            wdone_n <= wdone_n + ((wvalid && wready && wlast) ? 4'd1 : 4'd0) - ((bvalid && bready) ? 4'd1 : 4'd0);
            ar_n <= ar_n + ((arvalid && arready) ? 4'd1 : 4'd0) - ((rvalid && rready && rlast) ? 4'd1 : 4'd0);
            p_awv <= awvalid; p_awr <= awready; p_aw <= {awid, awaddr, awlen, awsize, awburst};
            p_wv <= wvalid; p_wr <= wready; p_w <= {wdata, wstrb, wlast};
            p_arv <= arvalid; p_arr <= arready; p_ar <= {arid, araddr, arlen, arsize, arburst};
            p_rv <= rvalid; p_rr <= rready; p_r <= {rid, rdata, rresp, rlast};
            p_bv <= bvalid; p_br <= bready; p_b <= {bid, bresp};
        end
    end
    initial cycle = 64'd0;
endmodule

module nasa_axil_check #(
    parameter integer ADDR_W = 8
) (
    input wire              clk,
    input wire              rst_n,
    input wire [ADDR_W-1:0] awaddr,
    input wire              awvalid,
    input wire              awready,
    input wire [31:0]       wdata,
    input wire [3:0]        wstrb,
    input wire              wvalid,
    input wire              wready,
    input wire [1:0]        bresp,
    input wire              bvalid,
    input wire              bready,
    input wire [ADDR_W-1:0] araddr,
    input wire              arvalid,
    input wire              arready,
    input wire [31:0]       rdata,
    input wire [1:0]        rresp,
    input wire              rvalid,
    input wire              rready
);
    reg in_reset;
    reg p_awv, p_awr, p_wv, p_wr, p_bv, p_br, p_arv, p_arr, p_rv, p_rr;
    reg [ADDR_W-1:0] p_awa, p_ara;
    reg [35:0] p_w;
    reg [1:0] p_b;
    reg [33:0] p_r;
    reg [3:0] aw_n, w_n, ar_n;
    reg [63:0] cycle;

    task automatic fail(input [8*24-1:0] rule, input [8*96-1:0] detail);
        begin
            $display("PROTOCOL s_axil %0s: %0s (cycle %0d)", rule, detail, cycle);
            $fatal(1, "AXI4-Lite protocol violation");
        end
    endtask

    always @(posedge clk) begin
        cycle <= cycle + 64'd1;
        if (!rst_n) begin
            in_reset <= 1'b1;
            if (in_reset && (rvalid === 1'b1 || bvalid === 1'b1))
                fail("VALID_IN_RESET", "slave VALID high during reset");
            p_awv <= 1'b0; p_wv <= 1'b0; p_bv <= 1'b0; p_arv <= 1'b0; p_rv <= 1'b0;
            aw_n <= 4'd0; w_n <= 4'd0; ar_n <= 4'd0;
        end else begin
            in_reset <= 1'b0;
            if ((^{awvalid, awready, wvalid, wready, bvalid, bready, arvalid, arready, rvalid, rready}) === 1'bx)
                fail("UNKNOWN", "a VALID or READY is X or Z");
            if (p_awv && !p_awr && (!awvalid || awaddr !== p_awa)) fail("AW_UNSTABLE", "AW dropped or changed before AWREADY");
            if (p_wv && !p_wr && (!wvalid || {wdata, wstrb} !== p_w)) fail("W_UNSTABLE", "W dropped or changed before WREADY");
            if (p_arv && !p_arr && (!arvalid || araddr !== p_ara)) fail("AR_UNSTABLE", "AR dropped or changed before ARREADY");
            if (p_rv && !p_rr && (!rvalid || {rdata, rresp} !== p_r)) fail("R_UNSTABLE", "R dropped or changed before RREADY");
            if (p_bv && !p_br && (!bvalid || bresp !== p_b)) fail("B_UNSTABLE", "B dropped or changed before BREADY");
            // A response needs its request: B both the address and the data
            // of a write, R a read's address (accepted in an earlier cycle).
            if (bvalid && !p_bv && (aw_n == 4'd0 || w_n == 4'd0)) fail("B_UNREQUESTED", "write response with no write accepted");
            if (rvalid && !p_rv && ar_n == 4'd0) fail("R_UNREQUESTED", "read data with no read accepted");
            aw_n <= aw_n + ((awvalid && awready) ? 4'd1 : 4'd0) - ((bvalid && bready) ? 4'd1 : 4'd0);
            w_n <= w_n + ((wvalid && wready) ? 4'd1 : 4'd0) - ((bvalid && bready) ? 4'd1 : 4'd0);
            ar_n <= ar_n + ((arvalid && arready) ? 4'd1 : 4'd0) - ((rvalid && rready) ? 4'd1 : 4'd0);
            p_awv <= awvalid; p_awr <= awready; p_awa <= awaddr;
            p_wv <= wvalid; p_wr <= wready; p_w <= {wdata, wstrb};
            p_arv <= arvalid; p_arr <= arready; p_ara <= araddr;
            p_rv <= rvalid; p_rr <= rready; p_r <= {rdata, rresp};
            p_bv <= bvalid; p_br <= bready; p_b <= bresp;
        end
    end
    initial cycle = 64'd0;
endmodule
