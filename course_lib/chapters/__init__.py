"""One module per chapter: its cached training recipes, sweeps and measurements.

A chapter notebook imports its module (``from course_lib.chapters import ch06_vae as ch``)
and the library; it trains nothing itself. :mod:`course_lib.chapters.common` holds what
several chapters share: the recipe that trains on clean MNIST and the frozen MNIST judge.
"""
