"""``python -m arnn_lite.classroom``: the teacher's command line (student edition, convention
check, grading); see ``python -m arnn_lite.classroom --help``."""

import sys

from . import main

sys.exit(main())
