import sys

from codegym.cli import main

sys.exit(main())
