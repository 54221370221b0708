"""nbgrader's configuration for this course (see book/grading.md, "Grading with nbgrader").

Copy this file into your nbgrader course directory, and put each solution
notebook into ``source/<assignment>/`` (e.g. ``source/ps1/01_linear_pca.ipynb``).
"""

c = get_config()  # noqa: F821 - nbgrader provides get_config

c.CourseDirectory.course_id = "autoencoders"
# Run every notebook in the environment nbgrader runs in (course_lib installed there).
c.Execute.kernel_name = "python3"
# The slowest cell of an exercise (a "try it" that trains a small model) takes
# well under a minute on a 2-core laptop at COURSE_PROFILE=smoke; nbgrader's
# default of 30 s per cell is too short for some of them.
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
# Hints live outside the solution regions, so the release keeps them; the
# region becomes nbgrader's usual stub.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
