"""``python -m vmgui`` is the ``vmgui`` launcher."""
import sys

from vmgui.app import main

sys.exit(main())
