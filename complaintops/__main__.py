import sys

from complaintops.cli import main

sys.exit(main())
