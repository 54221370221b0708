"""course_lib: the tested PyTorch library behind the autoencoder course.

Layers go one way: ``profile, data, nets -> models -> train, zoo -> metrics,
viz -> widgets, grading``. Nothing imports upward.
"""

__version__ = "0.1.0"
