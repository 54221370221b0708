"""``python -m course_lib.reproduce``: see :mod:`course_lib.reproduce.cli`."""

import sys

from course_lib.reproduce.cli import main

sys.exit(main())
