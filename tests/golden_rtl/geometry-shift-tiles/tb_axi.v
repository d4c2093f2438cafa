// nasa 0.1.0 `geometry-shift-tiles`: generated; do not edit; network geometry-shift description sha256 9e9502ff0fe68e4a22736c1947e7b4db63950efe56c5f1df256f4bf1593e2846 weights sha256 9aba928aff7193d1783665ba8404c1246a454c507bb25f50ea286a0baf960f29 architecture sha256 3ba61d534fe52067f32ab1659fea6a7f43c40ff3ca45077ff2b13d5199dfd694
//
// Self-checking testbench of the AXI4 wrapper nasa_axi.v: a host that
// drives the AXI4-Lite registers, an AXI4 memory (nasa_axi_mem.v) that
// inserts random wait states on every handshake, and protocol checkers
// (nasa_axi_check.v) on both interfaces that stop the run at the first
// violation. The memory lies at 0x80000000; the bench places the scratch
// area, the images' inputs, the outputs and the weights there at
// unaligned offsets of their own, so the wrapper's relocation is
// exercised. Plusargs: +images=N (default 1, at most MAX_IMAGES), +seed=S
// (the wait states' seed, default 1), +max_wait=K (longest wait, default 3).
// Prints RESULT images= mismatches= cycles= (CYCLES, the register) and
// exits non-zero on a mismatch, a protocol violation, a register that
// reads wrong, or a timeout.
`timescale 1ns/1ps
module tb_axi;
    localparam integer ID_W = 4;
    localparam integer ADDR_W = 32;
    localparam integer DW = 64;
    localparam integer LB = 8;
    localparam integer MAX_IMAGES = 64;
    localparam integer IN_LEN = 243;
    localparam integer OUT_LEN = 3;
    localparam integer IN_STRIDE = 248;
    localparam integer OUT_STRIDE = 8;
    localparam integer SCRATCH_BYTES = 912;
    localparam integer WEIGHT_BYTES = 1480;
    localparam [63:0] TIMEOUT = 64'd25492;
    // Where the bench puts things, as offsets into the memory.
    localparam [31:0] MEM_BASE = 32'h80000000;
    localparam integer SCR_OFF = 5 * LB;
    localparam integer IN_OFF = ((SCR_OFF + SCRATCH_BYTES + 4095) / 4096) * 4096 - 3 * LB;
    localparam integer OUT_OFF = IN_OFF + MAX_IMAGES * IN_STRIDE + 7 * LB;
    localparam integer W_OFF = OUT_OFF + MAX_IMAGES * OUT_STRIDE + 11 * LB;
    localparam integer MEM_BYTES = W_OFF + WEIGHT_BYTES;

    reg clk = 1'b0;
    reg rst_n = 1'b0;
    always #5 clk = ~clk;
    wire irq;
    reg [31:0] seed;
    reg [7:0] max_wait;

    // ---- AXI4-Lite
    reg  [7:0]  awaddr = 8'd0, araddr = 8'd0;
    reg         awvalid = 1'b0, wvalid = 1'b0, bready = 1'b0, arvalid = 1'b0, rready = 1'b0;
    reg  [31:0] wdata = 32'd0;
    reg  [3:0]  wstrb = 4'd0;
    wire        awready, wready, bvalid, arready, rvalid;
    wire [1:0]  bresp, rresp;
    wire [31:0] rdata;
    // ---- AXI4
    wire [ID_W-1:0] awid, bid, arid, rid;
    wire [ADDR_W-1:0] awaddr_m, araddr_m;
    wire [7:0] awlen, arlen;
    wire [2:0] awsize, arsize, awprot_m, arprot_m;
    wire [1:0] awburst, arburst, bresp_m, rresp_m;
    wire [3:0] awcache, arcache, awqos, arqos;
    wire awlock, arlock, awvalid_m, awready_m, wlast_m, wvalid_m, wready_m, bvalid_m, bready_m;
    wire arvalid_m, arready_m, rlast_m, rvalid_m, rready_m;
    wire [DW-1:0] wdata_m, rdata_m;
    wire [LB-1:0] wstrb_m;

    nasa_axi #(.ADDR_W(ADDR_W), .ID_W(ID_W), .ID(4'd5)) dut (
        .clk(clk), .rst_n(rst_n), .irq(irq),
        .s_axil_awaddr(awaddr), .s_axil_awprot(3'd0), .s_axil_awvalid(awvalid), .s_axil_awready(awready),
        .s_axil_wdata(wdata), .s_axil_wstrb(wstrb), .s_axil_wvalid(wvalid), .s_axil_wready(wready),
        .s_axil_bresp(bresp), .s_axil_bvalid(bvalid), .s_axil_bready(bready),
        .s_axil_araddr(araddr), .s_axil_arprot(3'd0), .s_axil_arvalid(arvalid), .s_axil_arready(arready),
        .s_axil_rdata(rdata), .s_axil_rresp(rresp), .s_axil_rvalid(rvalid), .s_axil_rready(rready),
        .m_axi_awid(awid), .m_axi_awaddr(awaddr_m), .m_axi_awlen(awlen), .m_axi_awsize(awsize),
        .m_axi_awburst(awburst), .m_axi_awlock(awlock), .m_axi_awcache(awcache), .m_axi_awprot(awprot_m),
        .m_axi_awqos(awqos), .m_axi_awvalid(awvalid_m), .m_axi_awready(awready_m),
        .m_axi_wdata(wdata_m), .m_axi_wstrb(wstrb_m), .m_axi_wlast(wlast_m), .m_axi_wvalid(wvalid_m),
        .m_axi_wready(wready_m), .m_axi_bid(bid), .m_axi_bresp(bresp_m), .m_axi_bvalid(bvalid_m),
        .m_axi_bready(bready_m), .m_axi_arid(arid), .m_axi_araddr(araddr_m), .m_axi_arlen(arlen),
        .m_axi_arsize(arsize), .m_axi_arburst(arburst), .m_axi_arlock(arlock), .m_axi_arcache(arcache),
        .m_axi_arprot(arprot_m), .m_axi_arqos(arqos), .m_axi_arvalid(arvalid_m), .m_axi_arready(arready_m),
        .m_axi_rid(rid), .m_axi_rdata(rdata_m), .m_axi_rresp(rresp_m), .m_axi_rlast(rlast_m),
        .m_axi_rvalid(rvalid_m), .m_axi_rready(rready_m)
    );

    nasa_axi_mem #(.ADDR_W(ADDR_W), .DATA_W(DW), .ID_W(ID_W), .BASE(MEM_BASE), .BYTES(MEM_BYTES)) mem (
        .clk(clk), .rst_n(rst_n), .seed(seed), .max_wait(max_wait),
        .awid(awid), .awaddr(awaddr_m), .awlen(awlen), .awsize(awsize), .awburst(awburst),
        .awvalid(awvalid_m), .awready(awready_m), .wdata(wdata_m), .wstrb(wstrb_m), .wlast(wlast_m),
        .wvalid(wvalid_m), .wready(wready_m), .bid(bid), .bresp(bresp_m), .bvalid(bvalid_m), .bready(bready_m),
        .arid(arid), .araddr(araddr_m), .arlen(arlen), .arsize(arsize), .arburst(arburst),
        .arvalid(arvalid_m), .arready(arready_m), .rid(rid), .rdata(rdata_m), .rresp(rresp_m),
        .rlast(rlast_m), .rvalid(rvalid_m), .rready(rready_m)
    );

    nasa_axi4_check #(.ADDR_W(ADDR_W), .DATA_W(DW), .ID_W(ID_W)) check_m (
        .clk(clk), .rst_n(rst_n),
        .awid(awid), .awaddr(awaddr_m), .awlen(awlen), .awsize(awsize), .awburst(awburst),
        .awvalid(awvalid_m), .awready(awready_m), .wdata(wdata_m), .wstrb(wstrb_m), .wlast(wlast_m),
        .wvalid(wvalid_m), .wready(wready_m), .bid(bid), .bresp(bresp_m), .bvalid(bvalid_m), .bready(bready_m),
        .arid(arid), .araddr(araddr_m), .arlen(arlen), .arsize(arsize), .arburst(arburst),
        .arvalid(arvalid_m), .arready(arready_m), .rid(rid), .rdata(rdata_m), .rresp(rresp_m),
        .rlast(rlast_m), .rvalid(rvalid_m), .rready(rready_m)
    );

    nasa_axil_check #(.ADDR_W(8)) check_s (
        .clk(clk), .rst_n(rst_n),
        .awaddr(awaddr), .awvalid(awvalid), .awready(awready), .wdata(wdata), .wstrb(wstrb),
        .wvalid(wvalid), .wready(wready), .bresp(bresp), .bvalid(bvalid), .bready(bready),
        .araddr(araddr), .arvalid(arvalid), .arready(arready), .rdata(rdata), .rresp(rresp),
        .rvalid(rvalid), .rready(rready)
    );

    // ---- the host's register accesses: VALID raised after a falling
    // edge, READY sampled before the rising one (a handshake at that edge);
    // BREADY and RREADY raised a random 0 to max_wait cycles after VALID.
    reg aw_done, w_done;
    reg [31:0] host_rs;
    integer hw_k;
    task automatic host_wait;
        begin
            host_rs = host_rs ^ (host_rs << 13);
            host_rs = host_rs ^ (host_rs >> 17);
            host_rs = host_rs ^ (host_rs << 5);
            for (hw_k = 0; hw_k < (max_wait == 8'd0 ? 0 : host_rs[15:8] % (max_wait + 8'd1)); hw_k = hw_k + 1)
                @(negedge clk);
        end
    endtask
    task automatic reg_write(input [7:0] a, input [31:0] d);
        begin
            @(negedge clk);
            awaddr = a; awvalid = 1'b1; wdata = d; wstrb = 4'hf; wvalid = 1'b1;
            aw_done = 1'b0; w_done = 1'b0;
            while (!(aw_done && w_done)) begin
                if (awvalid && awready) aw_done = 1'b1;
                if (wvalid && wready) w_done = 1'b1;
                @(negedge clk);
                if (aw_done) awvalid = 1'b0;
                if (w_done) wvalid = 1'b0;
            end
            while (!bvalid) @(negedge clk);
            host_wait;
            if (bresp != 2'b00) begin
                $display("ERROR register write 0x%02h answered %0d", a, bresp);
                $fatal(1, "register write refused");
            end
            bready = 1'b1;
            @(negedge clk);
            bready = 1'b0;
        end
    endtask
    task automatic reg_read(input [7:0] a, output [31:0] d);
        begin
            @(negedge clk);
            araddr = a; arvalid = 1'b1;
            while (!arready) @(negedge clk);
            @(negedge clk);
            arvalid = 1'b0;
            while (!rvalid) @(negedge clk);
            host_wait;
            d = rdata;
            if (rresp != 2'b00) begin
                $display("ERROR register read 0x%02h answered %0d", a, rresp);
                $fatal(1, "register read refused");
            end
            rready = 1'b1;
            @(negedge clk);
            rready = 1'b0;
        end
    endtask
    task automatic expect_reg(input [7:0] a, input [31:0] want, input [8*16-1:0] name);
        reg [31:0] got;
        begin
            reg_read(a, got);
            if (got !== want) begin
                $display("ERROR register %0s reads 0x%08h, expected 0x%08h", name, got, want);
                $fatal(1, "a register reads wrong");
            end
        end
    endtask

    // The master's traffic: transactions, bursts (more than one beat) and beats.
    // Bursts that end exactly on a 4 KB boundary (where the wrapper splits
    // a request that would cross it) are counted apart.
    reg [63:0] n_trans = 64'd0, n_bursts = 64'd0, n_beats = 64'd0, n_at4k = 64'd0;
    wire [12:0] ar_end = {1'b0, araddr_m[11:0]} + (({5'd0, arlen} + 13'd1) << awsize);
    wire [12:0] aw_end = {1'b0, awaddr_m[11:0]} + (({5'd0, awlen} + 13'd1) << awsize);
    always @(posedge clk) begin
        if (arvalid_m && arready_m) begin
            n_trans <= n_trans + 64'd1;
            if (arlen != 8'd0) n_bursts <= n_bursts + 64'd1;
            if (arlen != 8'd0 && ar_end == 13'd4096) n_at4k <= n_at4k + 64'd1;
        end
        if (awvalid_m && awready_m) begin
            n_trans <= n_trans + 64'd1;
            if (awlen != 8'd0) n_bursts <= n_bursts + 64'd1;
            if (awlen != 8'd0 && aw_end == 13'd4096) n_at4k <= n_at4k + 64'd1;
        end
        if ((rvalid_m && rready_m) || (wvalid_m && wready_m)) n_beats <= n_beats + 64'd1;
    end

    reg [7:0] inputs [0:MAX_IMAGES*IN_LEN-1];
    reg [7:0] expected [0:MAX_IMAGES*OUT_LEN-1];
    integer images, i, j, mismatches;
    reg [63:0] waited;
    reg [31:0] v, cyc_lo, cyc_hi;
    reg [7:0] got;

    initial begin
        if (!$value$plusargs("images=%d", images)) images = 1;
        if (!$value$plusargs("seed=%d", seed)) seed = 32'd1;
        if (!$value$plusargs("max_wait=%d", max_wait)) max_wait = 8'd3;
        host_rs = seed ^ 32'h9e3779b9;
        if (images < 1 || images > MAX_IMAGES) begin
            $display("ERROR images=%0d outside 1..%0d", images, MAX_IMAGES);
            $fatal(1, "too many images");
        end
        $readmemh("input.hex", inputs, 0, images*IN_LEN-1);
        $readmemh("expected.hex", expected, 0, images*OUT_LEN-1);
        $readmemh("wgt_ext.hex", mem.mem, W_OFF);
        for (i = 0; i < images; i = i + 1)
            for (j = 0; j < IN_LEN; j = j + 1) mem.mem[IN_OFF + i*IN_STRIDE + j] = inputs[i*IN_LEN + j];
        repeat (4) @(negedge clk);
        rst_n = 1'b1;
        // The registers the design describes itself with.
        expect_reg(8'h58, 32'h4e415341, "ID");
        expect_reg(8'h48, IN_STRIDE, "INPUT_STRIDE");
        expect_reg(8'h4c, OUT_STRIDE, "OUTPUT_STRIDE");
        expect_reg(8'h50, WEIGHT_BYTES, "WEIGHT_BYTES");
        expect_reg(8'h54, SCRATCH_BYTES, "SCRATCH_BYTES");
        expect_reg(8'h04, 32'd0, "STATUS");
        reg_write(8'h28, MEM_BASE + IN_OFF);
        reg_write(8'h30, MEM_BASE + OUT_OFF);
        reg_write(8'h38, MEM_BASE + W_OFF);
        reg_write(8'h40, MEM_BASE + SCR_OFF);
        expect_reg(8'h38, MEM_BASE + W_OFF, "WEIGHT_BASE_LO");
        reg_write(8'h10, images);
        reg_write(8'h08, 32'd1);
        reg_write(8'h00, 32'd1);
        waited = 0;
        // Watch the run through the registers while it goes.
        while (!irq && waited < TIMEOUT * images * (64'd2 + {56'd0, max_wait})) begin
            repeat (97) @(negedge clk);
            waited = waited + 97;
            reg_read(8'h04, v);
        end
        if (!irq) begin
            $display("TIMEOUT images=%0d after %0d cycles", images, waited);
            $fatal(1, "the design did not finish");
        end
        expect_reg(8'h04, 32'ha, "STATUS");
        expect_reg(8'h14, images, "IMAGES_DONE");
        expect_reg(8'h0c, 32'd1, "IRQ_STATUS");
        reg_read(8'h20, cyc_lo);
        reg_read(8'h24, cyc_hi);
        reg_write(8'h0c, 32'd1);
        @(negedge clk);
        if (irq) $fatal(1, "irq stayed high after IRQ_STATUS was cleared");
        mismatches = 0;
        for (i = 0; i < images; i = i + 1)
            for (j = 0; j < OUT_LEN; j = j + 1) begin
                got = mem.mem[OUT_OFF + i*OUT_STRIDE + j];
                if (got !== expected[i*OUT_LEN + j]) begin
                    mismatches = mismatches + 1;
                    if (mismatches <= 10)
                        $display("MISMATCH image=%0d output=%0d got=%0d expected=%0d", i, j,
                                 $signed(got), $signed(expected[i*OUT_LEN + j]));
                end
            end
        $display("AXI transactions=%0d bursts=%0d beats=%0d bursts_to_4k=%0d", n_trans, n_bursts, n_beats, n_at4k);
        $display("RESULT images=%0d mismatches=%0d cycles=%0d", images, mismatches, {cyc_hi, cyc_lo});
        if (mismatches != 0) $fatal(1, "%0d outputs differ from expected.hex", mismatches);
        $finish;
    end
endmodule
