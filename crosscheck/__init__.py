"""crosscheck: a reference validator for backpropagation.

Public API: ``case`` and ``inputs`` to write cases, ``Tolerance`` and
``Expected`` and ``Training`` to qualify them, ``discover`` to load case files and ``run`` to
judge them. Everything else is internal.
"""

from . import inputs
from .catalogue import Expected, Training, case, discover
from .compare import Tolerance
from .runner import run

__version__ = "0.1.0"
__all__ = ["Expected", "Tolerance", "Training", "case", "discover", "inputs", "run", "__version__"]
