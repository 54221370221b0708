"""course_lib: the tested PyTorch library behind the autoencoder course.

Layers go one way: ``profile, data, nets -> models -> train, zoo -> metrics,
viz -> widgets, grading``. Nothing imports upward.
"""

__version__ = "0.1.0"

from course_lib.cell_times import register_from_env as _register_cell_timer

_register_cell_timer()  # only when the book build asks for cell times (COURSE_CELL_TIMES)
