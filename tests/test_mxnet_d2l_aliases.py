"""The d2l alias tests (``test_d2l_aliases.py``) in the MXNet environment."""

from test_d2l_aliases import *
