"""runtime stage (installed as convbert_edge.runtime)."""
