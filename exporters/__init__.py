"""exporters stage (installed as convbert_edge.exporters)."""
