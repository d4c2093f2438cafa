nasa_top.v
nasa_pe_adder.v
