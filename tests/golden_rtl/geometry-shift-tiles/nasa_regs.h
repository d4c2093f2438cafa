/* nasa 0.1.0 `geometry-shift-tiles`: register map of nasa_axi.v, generated with it; do not edit; network geometry-shift description sha256 9e9502ff0fe68e4a22736c1947e7b4db63950efe56c5f1df256f4bf1593e2846 weights sha256 9aba928aff7193d1783665ba8404c1246a454c507bb25f50ea286a0baf960f29 architecture sha256 3ba61d534fe52067f32ab1659fea6a7f43c40ff3ca45077ff2b13d5199dfd694 */
#ifndef NASA_REGS_H
#define NASA_REGS_H

/* Byte offsets of the 32-bit registers on the AXI4-Lite slave. */
#define NASA_REG_CTRL             0x00u /* RW: run control (START and RELOAD read as 0) */
#define NASA_REG_STATUS           0x04u /* RO: run status */
#define NASA_REG_IRQ_ENABLE       0x08u /* RW: interrupt enable */
#define NASA_REG_IRQ_STATUS       0x0cu /* RW1C: interrupt status (irq = IRQ_ENABLE & IRQ_STATUS) */
#define NASA_REG_N_IMAGES         0x10u /* RW: images a START runs (reset value 1; 0 finishes at once) */
#define NASA_REG_IMAGES_DONE      0x14u /* RO: images of this run whose output is in memory */
#define NASA_REG_LAYER            0x18u /* RO: the layer the image in flight is at (a pipeline: 0xFFFF) */
#define NASA_REG_CYCLES_LO        0x20u /* RO: clock cycles since START while busy, low word */
#define NASA_REG_CYCLES_HI        0x24u /* RO: clock cycles since START while busy, high word */
#define NASA_REG_INPUT_BASE_LO    0x28u /* RW: byte address of image 0's input (line-aligned), low word */
#define NASA_REG_INPUT_BASE_HI    0x2cu /* RW: byte address of image 0's input, high word */
#define NASA_REG_OUTPUT_BASE_LO   0x30u /* RW: byte address of image 0's output (line-aligned), low word */
#define NASA_REG_OUTPUT_BASE_HI   0x34u /* RW: byte address of image 0's output, high word */
#define NASA_REG_WEIGHT_BASE_LO   0x38u /* RW: byte address of the weight image wgt_ext.hex (line-aligned), low word */
#define NASA_REG_WEIGHT_BASE_HI   0x3cu /* RW: byte address of the weight image, high word */
#define NASA_REG_SCRATCH_BASE_LO  0x40u /* RW: byte address of SCRATCH_BYTES of working memory (line-aligned), low word */
#define NASA_REG_SCRATCH_BASE_HI  0x44u /* RW: byte address of the working memory, high word */
#define NASA_REG_INPUT_STRIDE     0x48u /* RO: bytes from one image's input to the next */
#define NASA_REG_OUTPUT_STRIDE    0x4cu /* RO: bytes from one image's output to the next */
#define NASA_REG_WEIGHT_BYTES     0x50u /* RO: bytes of the weight image */
#define NASA_REG_SCRATCH_BYTES    0x54u /* RO: bytes of working memory the design may use */
#define NASA_REG_ID               0x58u /* RO: 0x4E415341 ("NASA") */

/* Register bits. */
#define NASA_CTRL_START              (1u << 0) /* write 1 while idle: run N_IMAGES images */
#define NASA_CTRL_FLUSH_ALL          (1u << 1) /* every layer's output is also written to scratch memory (debugging) */
#define NASA_CTRL_RELOAD             (1u << 2) /* with START: load the weights from WEIGHT_BASE again first */
#define NASA_STATUS_BUSY             (1u << 0) /* a run (or the weights' load) is in progress */
#define NASA_STATUS_DONE             (1u << 1) /* the last image's output is in memory; cleared by START */
#define NASA_STATUS_ERROR            (1u << 2) /* memory answered SLVERR or DECERR since START */
#define NASA_STATUS_LOADED           (1u << 3) /* the weights are loaded */
#define NASA_IRQ_ENABLE_DONE         (1u << 0) /* raise irq when a run ends */
#define NASA_IRQ_STATUS_DONE         (1u << 0) /* a run ended; write 1 to clear */

/* This design's sizes (also readable from the registers). */
#define NASA_ID              0x4e415341u /* value of NASA_REG_ID */
#define NASA_LINE_BYTES      8u /* AXI4 data bytes per beat; bases are aligned to it */
#define NASA_INPUT_BYTES     243u /* bytes of one image's input (int8, CHW) */
#define NASA_INPUT_STRIDE    248u /* bytes from one image's input to the next */
#define NASA_OUTPUT_BYTES    3u /* bytes of one image's output (int8) */
#define NASA_OUTPUT_STRIDE   8u /* bytes from one image's output to the next */
#define NASA_WEIGHT_BYTES    1480u /* bytes of the weight image wgt_ext.hex */
#define NASA_SCRATCH_BYTES   912u /* bytes of working memory */

#endif /* NASA_REGS_H */
