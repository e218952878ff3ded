"""Layer 2, techniques: one module per technique, computing tensors (no files, no JSON). Inspection (`predict`,
`activations`), feature visualization (`objectives`, `param`, `transforms`, `render`, `dream`, `datainit`),
data-driven views (`examples`, `selectivity`, `facets`), inverse sets (`generators`, `inverse_set`) and
`attribution/` (LRP rules, composites, canonizers, the gradient family, Grad-CAM, occlusion). Imports only core."""
