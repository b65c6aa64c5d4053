"""quantize stage (installed as convbert_edge.quantize)."""
