"""Reading codes: frame sources, decoders, serial 2D scanners."""
