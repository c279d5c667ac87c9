"""The d2l plotting tests (``test_d2l_plot.py``) in the MXNet environment."""

from test_d2l_plot import *
