nasa_top.v
nasa_pe_conv.v
nasa_pe_shift.v
nasa_pe_adder.v
