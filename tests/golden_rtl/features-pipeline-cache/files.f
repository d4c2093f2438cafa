nasa_top.v
nasa_engine_conv.v
nasa_engine_shift.v
nasa_engine_adder.v
nasa_pe_conv.v
nasa_pe_shift.v
nasa_pe_adder.v
