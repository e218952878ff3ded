"""Layer 3, artifacts: results turned into files (activation-map tiles and grids, contact sheets, selectivity
plots, the demo's page) and shown inline in notebooks. Techniques compute; this layer writes."""
