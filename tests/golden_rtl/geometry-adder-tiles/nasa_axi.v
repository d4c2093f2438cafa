// nasa 0.1.0 `geometry-adder-tiles`: generated; do not edit; network geometry-adder description sha256 9670e0d8e30d830512734bfed1bbb6e6e940ee3a0159b403fd1dcc5fcab1e0c5 weights sha256 fac85a0a1732537ba7d26cd16b1a8bfe3b648f730ceeafa072c2e4caf63555ee architecture sha256 87715261c8a406a8bfc70676ad3380bea8da8c1495520133d85a4ae712b5fcb7
//
// AXI4 wrapper of nasa_top (docs/axi.md): an AXI4-Lite slave of control
// and status registers (the map below, and nasa_regs.h, are rendered from
// one table in src/hw/gen/axi.rs) and an AXI4 master for external memory.
//
// The accelerator's own memory port (one request at a time, a line per
// beat) becomes AXI4 INCR transactions of
// 4-byte beats (AxSIZE 2), split where a burst would cross a 4 KB
// boundary or exceed 256 beats; one transaction is in flight at a time,
// reads and writes alike, and a write is acknowledged to the accelerator
// only with its last response (BVALID), so everything it wrote is in
// memory before it reads again or reports done. The accelerator's
// addresses are relocated by region: its input (243 bytes) to
// INPUT_BASE + image * INPUT_STRIDE, its output (3 bytes) to
// OUTPUT_BASE + image * OUTPUT_STRIDE, its resident weights (5128 bytes) to
// WEIGHT_BASE, and every other address (activations in external memory:
// streamed bands, a debugging run's flushes) to SCRATCH_BASE + address.
// Bases are 4-byte aligned (their low 2 bits read as zero).
//
// Control: START runs N_IMAGES images, one after another; the first START
// after reset (or one with RELOAD set) first loads the weights from
// WEIGHT_BASE. DONE and the DONE interrupt rise when the last image's output
// is in memory; irq is IRQ_ENABLE & IRQ_STATUS.
`default_nettype none

module nasa_axi #(
    parameter integer ADDR_W = 32,  // AXI4 master address bits (at least 13)
    parameter integer ID_W = 4,     // AXI4 master ID bits
    parameter [ID_W-1:0] ID = {ID_W{1'b0}}, // the ID of every transaction
    parameter integer LITE_AW = 8   // AXI4-Lite address bits (at least 7)
) (
    input  wire                 clk,
    input  wire                 rst_n,
    output wire                 irq,
    // ---- AXI4-Lite slave: control and status registers (32-bit)
    input  wire [LITE_AW-1:0]   s_axil_awaddr,
    input  wire [2:0]           s_axil_awprot,
    input  wire                 s_axil_awvalid,
    output wire                 s_axil_awready,
    input  wire [31:0]          s_axil_wdata,
    input  wire [3:0]           s_axil_wstrb,
    input  wire                 s_axil_wvalid,
    output wire                 s_axil_wready,
    output reg  [1:0]           s_axil_bresp,
    output reg                  s_axil_bvalid,
    input  wire                 s_axil_bready,
    input  wire [LITE_AW-1:0]   s_axil_araddr,
    input  wire [2:0]           s_axil_arprot,
    input  wire                 s_axil_arvalid,
    output wire                 s_axil_arready,
    output reg  [31:0]          s_axil_rdata,
    output reg  [1:0]           s_axil_rresp,
    output reg                  s_axil_rvalid,
    input  wire                 s_axil_rready,
    // ---- AXI4 master: external memory (32-bit data)
    output wire [ID_W-1:0]      m_axi_awid,
    output reg  [ADDR_W-1:0]    m_axi_awaddr,
    output reg  [7:0]           m_axi_awlen,
    output wire [2:0]           m_axi_awsize,
    output wire [1:0]           m_axi_awburst,
    output wire                 m_axi_awlock,
    output wire [3:0]           m_axi_awcache,
    output wire [2:0]           m_axi_awprot,
    output wire [3:0]           m_axi_awqos,
    output wire                 m_axi_awvalid,
    input  wire                 m_axi_awready,
    output wire [31:0]          m_axi_wdata,
    output wire [3:0]           m_axi_wstrb,
    output wire                 m_axi_wlast,
    output wire                 m_axi_wvalid,
    input  wire                 m_axi_wready,
    input  wire [ID_W-1:0]      m_axi_bid,
    input  wire [1:0]           m_axi_bresp,
    input  wire                 m_axi_bvalid,
    output wire                 m_axi_bready,
    output wire [ID_W-1:0]      m_axi_arid,
    output reg  [ADDR_W-1:0]    m_axi_araddr,
    output reg  [7:0]           m_axi_arlen,
    output wire [2:0]           m_axi_arsize,
    output wire [1:0]           m_axi_arburst,
    output wire                 m_axi_arlock,
    output wire [3:0]           m_axi_arcache,
    output wire [2:0]           m_axi_arprot,
    output wire [3:0]           m_axi_arqos,
    output wire                 m_axi_arvalid,
    input  wire                 m_axi_arready,
    input  wire [ID_W-1:0]      m_axi_rid,
    input  wire [31:0]          m_axi_rdata,
    input  wire [1:0]           m_axi_rresp,
    input  wire                 m_axi_rlast,
    input  wire                 m_axi_rvalid,
    output wire                 m_axi_rready
);
    // ---------------------------------------------------------------- register map
    localparam [6:0] R_CTRL = 7'h00; // RW: run control (START and RELOAD read as 0)
    localparam [6:0] R_STATUS = 7'h04; // RO: run status
    localparam [6:0] R_IRQ_ENABLE = 7'h08; // RW: interrupt enable
    localparam [6:0] R_IRQ_STATUS = 7'h0c; // RW1C: interrupt status (irq = IRQ_ENABLE & IRQ_STATUS)
    localparam [6:0] R_N_IMAGES = 7'h10; // RW: images a START runs (reset value 1; 0 finishes at once)
    localparam [6:0] R_IMAGES_DONE = 7'h14; // RO: images of this run whose output is in memory
    localparam [6:0] R_LAYER = 7'h18; // RO: the layer the image in flight is at (a pipeline: 0xFFFF)
    localparam [6:0] R_CYCLES_LO = 7'h20; // RO: clock cycles since START while busy, low word
    localparam [6:0] R_CYCLES_HI = 7'h24; // RO: clock cycles since START while busy, high word
    localparam [6:0] R_INPUT_BASE_LO = 7'h28; // RW: byte address of image 0's input (line-aligned), low word
    localparam [6:0] R_INPUT_BASE_HI = 7'h2c; // RW: byte address of image 0's input, high word
    localparam [6:0] R_OUTPUT_BASE_LO = 7'h30; // RW: byte address of image 0's output (line-aligned), low word
    localparam [6:0] R_OUTPUT_BASE_HI = 7'h34; // RW: byte address of image 0's output, high word
    localparam [6:0] R_WEIGHT_BASE_LO = 7'h38; // RW: byte address of the weight image wgt_ext.hex (line-aligned), low word
    localparam [6:0] R_WEIGHT_BASE_HI = 7'h3c; // RW: byte address of the weight image, high word
    localparam [6:0] R_SCRATCH_BASE_LO = 7'h40; // RW: byte address of SCRATCH_BYTES of working memory (line-aligned), low word
    localparam [6:0] R_SCRATCH_BASE_HI = 7'h44; // RW: byte address of the working memory, high word
    localparam [6:0] R_INPUT_STRIDE = 7'h48; // RO: bytes from one image's input to the next
    localparam [6:0] R_OUTPUT_STRIDE = 7'h4c; // RO: bytes from one image's output to the next
    localparam [6:0] R_WEIGHT_BYTES = 7'h50; // RO: bytes of the weight image
    localparam [6:0] R_SCRATCH_BYTES = 7'h54; // RO: bytes of working memory the design may use
    localparam [6:0] R_ID = 7'h58; // RO: 0x4E415341 ("NASA")
    // Design constants, also in nasa_regs.h.
    localparam [31:0] IN_EXT = 32'd0;
    localparam [31:0] IN_END = 32'd244;
    localparam [31:0] OUT_EXT = 32'd880;
    localparam [31:0] OUT_END = 32'd884;
    localparam [31:0] WEXT_BASE = 32'd884;
    localparam [31:0] INPUT_STRIDE = 32'd244;
    localparam [31:0] OUTPUT_STRIDE = 32'd4;
    localparam [31:0] WEIGHT_BYTES = 32'd5128;
    localparam [31:0] SCRATCH_BYTES = 32'd884;
    localparam [31:0] MAGIC = 32'h4e415341;
    localparam integer LGL = 2;
    wire rst = !rst_n;

    // ---------------------------------------------------------------- registers
    reg        r_flush, r_ie, r_is, r_err, r_loaded, r_done;
    reg [31:0] r_images, r_count;
    reg [63:0] r_cycles;
    reg [63:0] r_in, r_out, r_wgt, r_scr;
    wire       c_busy;
    wire [15:0] c_layer;
    wire [31:0] images_done;
    // A write is performed once both its address and its data are held.
    reg        aw_got, w_got;
    reg [6:0]  aw_q;
    reg [31:0] w_q;
    reg [3:0]  ws_q;
    assign s_axil_awready = !aw_got && !s_axil_bvalid;
    assign s_axil_wready = !w_got && !s_axil_bvalid;
    wire [6:0] aw_a = aw_got ? aw_q : s_axil_awaddr[6:0];
    wire [31:0] w_d = w_got ? w_q : s_axil_wdata;
    wire [3:0] w_s = w_got ? ws_q : s_axil_wstrb;
    wire have_aw = aw_got || (s_axil_awvalid && s_axil_awready);
    wire have_w = w_got || (s_axil_wvalid && s_axil_wready);
    wire do_write = have_aw && have_w;
    // The written word merged into the old one by the byte strobes.
    function automatic [31:0] merged(input [31:0] old, input [31:0] d, input [3:0] s);
        integer k;
        begin
            for (k = 0; k < 4; k = k + 1) merged[k*8 +: 8] = s[k] ? d[k*8 +: 8] : old[k*8 +: 8];
        end
    endfunction
    wire wr_ctrl = do_write && aw_a == R_CTRL;
    wire start_cmd = wr_ctrl && w_s[0] && w_d[0];
    wire reload_cmd = wr_ctrl && w_s[0] && w_d[2];
    // Known offsets answer OKAY, others SLVERR (reads of them return 0).
    function automatic known(input [6:0] a);
        case (a)
            R_CTRL: known = 1'b1;
            R_STATUS: known = 1'b1;
            R_IRQ_ENABLE: known = 1'b1;
            R_IRQ_STATUS: known = 1'b1;
            R_N_IMAGES: known = 1'b1;
            R_IMAGES_DONE: known = 1'b1;
            R_LAYER: known = 1'b1;
            R_CYCLES_LO: known = 1'b1;
            R_CYCLES_HI: known = 1'b1;
            R_INPUT_BASE_LO: known = 1'b1;
            R_INPUT_BASE_HI: known = 1'b1;
            R_OUTPUT_BASE_LO: known = 1'b1;
            R_OUTPUT_BASE_HI: known = 1'b1;
            R_WEIGHT_BASE_LO: known = 1'b1;
            R_WEIGHT_BASE_HI: known = 1'b1;
            R_SCRATCH_BASE_LO: known = 1'b1;
            R_SCRATCH_BASE_HI: known = 1'b1;
            R_INPUT_STRIDE: known = 1'b1;
            R_OUTPUT_STRIDE: known = 1'b1;
            R_WEIGHT_BYTES: known = 1'b1;
            R_SCRATCH_BYTES: known = 1'b1;
            R_ID: known = 1'b1;
            default: known = 1'b0;
        endcase
    endfunction
    wire run_done;
    always @(posedge clk) begin
        if (rst) begin
            aw_got <= 1'b0; w_got <= 1'b0; s_axil_bvalid <= 1'b0; s_axil_bresp <= 2'b00;
            r_flush <= 1'b0; r_ie <= 1'b0; r_is <= 1'b0;
            r_images <= 32'd1;
            r_in <= 64'd0; r_out <= 64'd0; r_wgt <= 64'd0; r_scr <= 64'd0;
        end else begin
            if (s_axil_bvalid && s_axil_bready) s_axil_bvalid <= 1'b0;
            if (do_write) begin
                aw_got <= 1'b0; w_got <= 1'b0;
                s_axil_bvalid <= 1'b1;
                s_axil_bresp <= known(aw_a) ? 2'b00 : 2'b10;
                case (aw_a)
                    R_CTRL: if (w_s[0]) r_flush <= w_d[1];
                    R_IRQ_ENABLE: if (w_s[0]) r_ie <= w_d[0];
                    R_N_IMAGES: r_images <= merged(r_images, w_d, w_s);
                    R_INPUT_BASE_LO: r_in[31:0] <= merged(r_in[31:0], w_d, w_s) & ~3;
                    R_INPUT_BASE_HI: r_in[63:32] <= merged(r_in[63:32], w_d, w_s);
                    R_OUTPUT_BASE_LO: r_out[31:0] <= merged(r_out[31:0], w_d, w_s) & ~3;
                    R_OUTPUT_BASE_HI: r_out[63:32] <= merged(r_out[63:32], w_d, w_s);
                    R_WEIGHT_BASE_LO: r_wgt[31:0] <= merged(r_wgt[31:0], w_d, w_s) & ~3;
                    R_WEIGHT_BASE_HI: r_wgt[63:32] <= merged(r_wgt[63:32], w_d, w_s);
                    R_SCRATCH_BASE_LO: r_scr[31:0] <= merged(r_scr[31:0], w_d, w_s) & ~3;
                    R_SCRATCH_BASE_HI: r_scr[63:32] <= merged(r_scr[63:32], w_d, w_s);
                    default: ;
                endcase
            end else begin
                if (s_axil_awvalid && s_axil_awready) begin aw_got <= 1'b1; aw_q <= s_axil_awaddr[6:0]; end
                if (s_axil_wvalid && s_axil_wready) begin w_got <= 1'b1; w_q <= s_axil_wdata; ws_q <= s_axil_wstrb; end
            end
            // IRQ_STATUS: set when a run ends, cleared by writing 1.
            if (run_done) r_is <= 1'b1;
            else if (do_write && aw_a == R_IRQ_STATUS && w_s[0] && w_d[0]) r_is <= 1'b0;
        end
    end
    assign irq = r_ie && r_is;

    // Reads: one at a time, answered the cycle after the address.
    assign s_axil_arready = !s_axil_rvalid;
    always @(posedge clk) begin
        if (rst) begin
            s_axil_rvalid <= 1'b0; s_axil_rresp <= 2'b00; s_axil_rdata <= 32'd0;
        end else if (s_axil_arvalid && s_axil_arready) begin
            s_axil_rvalid <= 1'b1;
            s_axil_rresp <= known(s_axil_araddr[6:0]) ? 2'b00 : 2'b10;
            case (s_axil_araddr[6:0])
                R_CTRL: s_axil_rdata <= {30'd0, r_flush, 1'b0};
                R_STATUS: s_axil_rdata <= {28'd0, r_loaded, r_err, r_done, c_busy};
                R_IRQ_ENABLE: s_axil_rdata <= {31'd0, r_ie};
                R_IRQ_STATUS: s_axil_rdata <= {31'd0, r_is};
                R_N_IMAGES: s_axil_rdata <= r_images;
                R_IMAGES_DONE: s_axil_rdata <= images_done;
                R_LAYER: s_axil_rdata <= {16'd0, c_layer};
                R_CYCLES_LO: s_axil_rdata <= r_cycles[31:0];
                R_CYCLES_HI: s_axil_rdata <= r_cycles[63:32];
                R_INPUT_BASE_LO: s_axil_rdata <= r_in[31:0];
                R_INPUT_BASE_HI: s_axil_rdata <= r_in[63:32];
                R_OUTPUT_BASE_LO: s_axil_rdata <= r_out[31:0];
                R_OUTPUT_BASE_HI: s_axil_rdata <= r_out[63:32];
                R_WEIGHT_BASE_LO: s_axil_rdata <= r_wgt[31:0];
                R_WEIGHT_BASE_HI: s_axil_rdata <= r_wgt[63:32];
                R_SCRATCH_BASE_LO: s_axil_rdata <= r_scr[31:0];
                R_SCRATCH_BASE_HI: s_axil_rdata <= r_scr[63:32];
                R_INPUT_STRIDE: s_axil_rdata <= INPUT_STRIDE;
                R_OUTPUT_STRIDE: s_axil_rdata <= OUTPUT_STRIDE;
                R_WEIGHT_BYTES: s_axil_rdata <= WEIGHT_BYTES;
                R_SCRATCH_BYTES: s_axil_rdata <= SCRATCH_BYTES;
                R_ID: s_axil_rdata <= MAGIC;
                default: s_axil_rdata <= 32'd0;
            endcase
        end else if (s_axil_rready) s_axil_rvalid <= 1'b0;
    end

    // ---------------------------------------------------------------- run control
    // C_OFF: the accelerator held in reset (weights not loaded); C_LOAD:
    // its weights load; C_GO: start a run of up to RUN_MAX images (one
    // image); C_RUN: wait for its done.
    localparam [2:0] C_OFF = 3'd0, C_IDLE = 3'd1, C_LOAD = 3'd2, C_GO = 3'd3, C_RUN = 3'd4, C_RELOAD = 3'd5;
    localparam [31:0] RUN_MAX = 32'd1;
    reg [2:0] c_st;
    // An error response from memory (sticky in STATUS.ERROR until START).
    wire m_err = (m_axi_rvalid && m_axi_rready && m_axi_rresp != 2'b00)
              || (m_axi_bvalid && m_axi_bready && m_axi_bresp != 2'b00);
    reg [63:0] in_cur, out_cur, wgt_q, scr_q;
    wire c_rst = rst || c_st == C_OFF || c_st == C_RELOAD;
    wire c_done;
    wire core_busy;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] core_cycles;
    // Images of the next run, and of the run in flight.
    wire [31:0] left = r_images - r_count;
    wire [31:0] next_n = left < RUN_MAX ? left : RUN_MAX;
    reg [31:0] run_n;
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_off UNUSEDSIGNAL */
    wire core_loading;
    /* verilator lint_on UNUSEDSIGNAL */
    assign images_done = r_count;
    wire [63:0] in_step = {32'd0, INPUT_STRIDE};
    wire [63:0] out_step = {32'd0, OUTPUT_STRIDE};
    assign c_busy = c_st != C_OFF && c_st != C_IDLE;
    assign run_done = (c_st == C_RUN && c_done && r_count + run_n == r_images)
                   || (c_st == C_GO && r_images == 32'd0);
    always @(posedge clk) begin
        if (rst) begin
            c_st <= C_OFF; r_loaded <= 1'b0; r_done <= 1'b0; r_err <= 1'b0;
            r_count <= 32'd0; r_cycles <= 64'd0; run_n <= 32'd0;
            in_cur <= 64'd0; out_cur <= 64'd0; wgt_q <= 64'd0; scr_q <= 64'd0;
        end else begin
            if (c_busy) r_cycles <= r_cycles + 64'd1;
            if (m_err) r_err <= 1'b1;
            case (c_st)
                C_OFF, C_IDLE: if (start_cmd) begin
                    r_done <= 1'b0; r_err <= 1'b0; r_count <= 32'd0; r_cycles <= 64'd0;
                    in_cur <= r_in; out_cur <= r_out; wgt_q <= r_wgt; scr_q <= r_scr;
                    if (c_st == C_OFF || reload_cmd) begin
                        r_loaded <= 1'b0;
                        c_st <= c_st == C_OFF ? C_LOAD : C_RELOAD;
                    end else c_st <= C_GO;
                end
                // One cycle in reset, then the weights load again.
                C_RELOAD: c_st <= C_LOAD;
                C_LOAD: if (!core_busy) begin r_loaded <= 1'b1; c_st <= C_GO; end
                C_GO: if (r_images == 32'd0) begin r_done <= 1'b1; c_st <= C_IDLE; end
                      else begin run_n <= next_n; c_st <= C_RUN; end
                C_RUN: if (c_done) begin
                    r_count <= r_count + run_n;
                    in_cur <= in_cur + in_step;
                    out_cur <= out_cur + out_step;
                    if (r_count + run_n == r_images) begin r_done <= 1'b1; c_st <= C_IDLE; end
                    else c_st <= C_GO;
                end
                default: c_st <= C_IDLE;
            endcase
        end
    end

    // ---------------------------------------------------------------- the accelerator
    wire mem_req, mem_we;
    wire [12:0] mem_addr;
    wire [31:0] mem_wdata;
    wire [3:0] mem_wstrb;
    wire mem_ack;
    wire [31:0] mem_rdata;
    wire [15:0] mem_len = 16'd0;
    wire mem_wvalid = 1'b1;
    nasa_top core (
        .clk(clk), .rst(c_rst), .start(c_st == C_GO && r_images != 32'd0), .flush_all(r_flush),
        .busy(core_busy), .done(c_done), .cycles(core_cycles), .layer(c_layer), .loading(core_loading),
        .mem_req(mem_req), .mem_we(mem_we), .mem_addr(mem_addr), .mem_wdata(mem_wdata),
        .mem_wstrb(mem_wstrb), .mem_ack(mem_ack), .mem_rdata(mem_rdata)
    );

    // ---------------------------------------------------------------- AXI4 master
    // The accelerator's address, relocated by region (in 64 bits, of which
    // the bus takes ADDR_W).
    /* verilator lint_off UNUSEDSIGNAL */
    function automatic [63:0] reloc(input [12:0] a);
        reg [63:0] a64;
        begin
            a64 = { {(64-13){1'b0}}, a };
            if (a64 < {32'd0, IN_END}) reloc = in_cur + (a64 - {32'd0, IN_EXT});
            else if (a64 >= {32'd0, OUT_EXT} && a64 < {32'd0, OUT_END}) reloc = out_cur + (a64 - {32'd0, OUT_EXT});
            else if (a64 >= {32'd0, WEXT_BASE}) reloc = wgt_q + (a64 - {32'd0, WEXT_BASE});
            else reloc = scr_q + a64;
        end
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */
    // Beats of a transaction from address lo on, with `left` beats to go:
    // up to the next 4 KB boundary, at most 256.
    function automatic [16:0] beats(input [11:0] lo, input [16:0] left_b);
        reg [16:0] room;
        begin
            room = {4'd0, 13'd4096 - {1'b0, lo}} >> LGL;
            if (room > 17'd256) room = 17'd256;
            beats = left_b < room ? left_b : room;
        end
    endfunction
    /* verilator lint_off UNUSEDSIGNAL */
    wire [63:0] rd_at = reloc(mem_addr);
    wire [63:0] wr_at = reloc(mem_addr);
    /* verilator lint_on UNUSEDSIGNAL */
    // What a write takes from the accelerator.
    wire wr_req = mem_req && mem_we;
    wire wr_valid = mem_wvalid;
    wire [15:0] wr_len = mem_len;

    // Reads. R_IDLE: wait for a request; R_AR: its next transaction's
    // address; R_DATA: its beats, each to the accelerator as it arrives.
    localparam [1:0] R_IDLE = 2'd0, R_AR = 2'd1, R_DATA = 2'd2;
    reg [1:0] r_st;
    reg [ADDR_W-1:0] r_addr;
    reg [16:0] r_left;  // beats of the request not yet in a transaction
    reg [8:0] r_sub;    // beats of the transaction not yet transferred
    wire [16:0] r_n = beats(r_addr[11:0], r_left);
    always @(posedge clk) begin
        if (c_rst) begin
            r_st <= R_IDLE; r_left <= 17'd0; r_sub <= 9'd0; r_addr <= {ADDR_W{1'b0}};
            m_axi_araddr <= {ADDR_W{1'b0}}; m_axi_arlen <= 8'd0;
        end else case (r_st)
            R_IDLE: if (mem_req && !mem_we) begin
                r_addr <= rd_at[ADDR_W-1:0];
                r_left <= {1'b0, mem_len} + 17'd1;
                r_st <= R_AR;
            end
            R_AR: if (r_sub == 9'd0) begin
                m_axi_araddr <= r_addr; m_axi_arlen <= r_n[7:0] - 8'd1;
                r_sub <= r_n[8:0];
                r_left <= r_left - r_n;
                r_addr <= r_addr + ({ {(ADDR_W-9){1'b0}}, r_n[8:0] } << LGL);
            end else if (m_axi_arready) r_st <= R_DATA;
            R_DATA: if (m_axi_rvalid) begin
                r_sub <= r_sub - 9'd1;
                if (m_axi_rlast) r_st <= r_left == 17'd0 ? R_IDLE : R_AR;
            end
            default: r_st <= R_IDLE;
        endcase
    end
    assign m_axi_arvalid = r_st == R_AR && r_sub != 9'd0;
    assign m_axi_rready = r_st == R_DATA;
    wire rd_ack = r_st == R_DATA && m_axi_rvalid;
    assign mem_rdata = m_axi_rdata;

    // Writes. W_IDLE: wait for a request; W_AW: its next transaction's
    // address; W_DATA: its beats, each acknowledged when taken except the
    // request's last; W_RESP: the response, which acknowledges that one.
    localparam [1:0] W_IDLE = 2'd0, W_AW = 2'd1, W_DATA = 2'd2, W_RESP = 2'd3;
    reg [1:0] w_st;
    reg [ADDR_W-1:0] w_addr;
    reg [16:0] w_left;
    reg [8:0] w_sub;
    wire [16:0] w_n = beats(w_addr[11:0], w_left);
    always @(posedge clk) begin
        if (c_rst) begin
            w_st <= W_IDLE; w_left <= 17'd0; w_sub <= 9'd0; w_addr <= {ADDR_W{1'b0}};
            m_axi_awaddr <= {ADDR_W{1'b0}}; m_axi_awlen <= 8'd0;
        end else case (w_st)
            W_IDLE: if (wr_req) begin
                w_addr <= wr_at[ADDR_W-1:0];
                w_left <= {1'b0, wr_len} + 17'd1;
                w_st <= W_AW;
            end
            W_AW: if (w_sub == 9'd0) begin
                m_axi_awaddr <= w_addr; m_axi_awlen <= w_n[7:0] - 8'd1;
                w_sub <= w_n[8:0];
                w_left <= w_left - w_n;
                w_addr <= w_addr + ({ {(ADDR_W-9){1'b0}}, w_n[8:0] } << LGL);
            end else if (m_axi_awready) w_st <= W_DATA;
            W_DATA: if (wr_valid && m_axi_wready) begin
                w_sub <= w_sub - 9'd1;
                if (w_sub == 9'd1) w_st <= W_RESP;
            end
            W_RESP: if (m_axi_bvalid) w_st <= w_left == 17'd0 ? W_IDLE : W_AW;
            default: w_st <= W_IDLE;
        endcase
    end
    assign m_axi_awvalid = w_st == W_AW && w_sub != 9'd0;
    assign m_axi_wvalid = w_st == W_DATA && wr_valid;
    assign m_axi_wdata = mem_wdata;
    assign m_axi_wstrb = mem_wstrb;
    assign m_axi_wlast = w_sub == 9'd1;
    assign m_axi_bready = w_st == W_RESP;
    wire wr_ack = (w_st == W_DATA && wr_valid && m_axi_wready && !(w_sub == 9'd1 && w_left == 17'd0))
               || (w_st == W_RESP && m_axi_bvalid && w_left == 17'd0);
    assign mem_ack = rd_ack || wr_ack;
    assign m_axi_awid = ID;
    assign m_axi_arid = ID;
    assign m_axi_awsize = 3'd2;
    assign m_axi_arsize = 3'd2;
    assign m_axi_awburst = 2'b01;
    assign m_axi_arburst = 2'b01;
    assign m_axi_awlock = 1'b0;
    assign m_axi_arlock = 1'b0;
    // Normal non-cacheable bufferable, unprivileged secure data, no QoS.
    assign m_axi_awcache = 4'b0011;
    assign m_axi_arcache = 4'b0011;
    assign m_axi_awprot = 3'b000;
    assign m_axi_arprot = 3'b000;
    assign m_axi_awqos = 4'd0;
    assign m_axi_arqos = 4'd0;

    // Inputs only a checker would look at.
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused = &{1'b0, s_axil_awprot, s_axil_arprot, m_axi_bid, m_axi_rid,
                    s_axil_araddr, s_axil_awaddr};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule
`default_nettype wire
