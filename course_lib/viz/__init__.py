"""Figures for the book. Every function returns a ``Figure``; none calls ``plt.show()``.

Notebooks display the returned figure with :func:`show`; tests and widgets reuse
the same code, so the static figure in the built HTML and the interactive one
never drift.

The figures draw what they are given. Values that need a fit or a model (2-D
embeddings, decoded latent grids and points, densities on a grid) are computed by
:mod:`course_lib.metrics` (``embed_2d``, ``decode_latent_grid``, ``decode_code_box``,
``decode_points``, ``density_grid``) or a chapter module and passed in; no figure
here fits, decodes or evaluates a density, and one handed a decoder or a density
function instead of its values raises a ``TypeError`` naming the argument.

Modules, by kind of figure:

- :mod:`~course_lib.viz.images`: image grids and rows, signed images, captioned predictions.
- :mod:`~course_lib.viz.curves`: numbers against an epoch or a swept setting, bars, histograms.
- :mod:`~course_lib.viz.latent`: codes in 2-D or 3-D, decoded latent grids, codes over a density.
- :mod:`~course_lib.viz.fields`: 2-D vector fields and trajectories over a density.
- :mod:`~course_lib.viz.spectra`: eigenvalue and singular-value spectra, matrices, unit activations.
"""

from course_lib.viz._common import show
from course_lib.viz.curves import (
    band_curves,
    grouped_bars,
    history_panels,
    loss_curves,
    parzen_sigma_curves,
    rate_distortion,
    staged_curve,
    sweep_curves,
    sweep_errorbars,
    sweep_panels,
    value_histograms,
)
from course_lib.viz.fields import paths_2d, vector_fields
from course_lib.viz.images import (
    grid_array,
    image_grid,
    image_rows,
    images_and_spectrum,
    prediction_rows,
    signed_image_rows,
)
from course_lib.viz.latent import (
    codes_on_density,
    decoded_grid,
    latent_map,
    latent_point,
    latent_scatter,
    latent_scatter_panels,
    point_clouds_3d,
    scatter_panels,
)
from course_lib.viz.spectra import (
    activation_panels,
    matrix_heatmaps,
    spectrum_bands,
    unit_activity_curves,
    variance_spectrum,
)

__all__ = [
    "activation_panels",
    "band_curves",
    "codes_on_density",
    "decoded_grid",
    "grid_array",
    "grouped_bars",
    "history_panels",
    "image_grid",
    "image_rows",
    "images_and_spectrum",
    "latent_map",
    "latent_point",
    "latent_scatter",
    "latent_scatter_panels",
    "loss_curves",
    "matrix_heatmaps",
    "parzen_sigma_curves",
    "paths_2d",
    "point_clouds_3d",
    "prediction_rows",
    "rate_distortion",
    "scatter_panels",
    "show",
    "signed_image_rows",
    "spectrum_bands",
    "staged_curve",
    "sweep_curves",
    "sweep_errorbars",
    "sweep_panels",
    "unit_activity_curves",
    "value_histograms",
    "variance_spectrum",
    "vector_fields",
]
