"""Attribution: LRP / Deep Taylor relevance at every layer, filter ranking, gradient methods, Grad-CAM, occlusion.

`attribute(subject, images, method)` runs any method; `LRP(subject, composite).explain(...)` gives relevance at
every layer. See docs/attribution.md. The model is never modified (folded BatchNorm parameters are substituted
at run time and every hook is removed, also after an error).

References (each module names the equations it implements):
    Bach et al. 2015 and Montavon et al. 2017 / 2019 (LRP, Deep Taylor decomposition: `rules`, `composites`,
    `mode`, `explainer`); Simonyan et al. 2014, Springenberg et al. 2015, Zeiler & Fergus 2014, Sundararajan et al.
    2017 (`gradients`); Selvaraju et al. 2017 (`cam`); Zeiler & Fergus 2014 (`occlusion`); Achtibat et al. 2023
    (`relevant`); Barsch & Eilertsen 2018 (heatmaps, filter ranking, relevance-guided visualization).
"""

from .cam import grad_cam
from .composites import COMPOSITES, Composite
from .explainer import LRP, lrp
from .gradients import gradient_attribution, integrated_gradients
from .occlusion import occlusion
from .ranking import rank_filters
from .report import METHODS, attribute
from .result import Attribution
from .rules import Rule

__all__ = [
    "COMPOSITES",
    "LRP",
    "METHODS",
    "Attribution",
    "Composite",
    "Rule",
    "attribute",
    "grad_cam",
    "gradient_attribution",
    "integrated_gradients",
    "lrp",
    "occlusion",
    "rank_filters",
]
