"""Layer 1, core: what every technique stands on. The Subject (a frozen model with its input convention,
`capture` of any layer through `LayerTap`), the layer graph (one dry run: shapes, channel axes, data-flow edges),
the model zoo (`load`, `wrap`, checkpoints), images and datasets (one decoder), BatchNorm folding, the output rule,
autograd checks, errors, seeding, progress, strict JSON. Imports nothing of convscope above it."""
