"""``python -m arnn_lite.classroom``: the teacher's command line (student edition, convention
check, class edition, grading); see ``python -m arnn_lite.classroom --help``."""

import sys

from .cli import main

sys.exit(main())
