nasa_top.v
nasa_round_clamp.v
nasa_requant.v
nasa_scale.v
nasa_addq.v
nasa_spad.v
nasa_pe_shift.v
