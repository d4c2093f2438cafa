nasa_top.v
nasa_pe_shift.v
