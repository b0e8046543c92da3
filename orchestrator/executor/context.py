"""Moved: the module API lives in orchestrator.modules.context (issue 17).

Kept only so branches written before the move still import; modules must import
orchestrator.modules.context (tests/unit/test_import_graph.py rejects modules -> executor).
"""

from orchestrator.modules.context import CHANGE_NEEDED, Converged, ModuleContext

__all__ = ["CHANGE_NEEDED", "Converged", "ModuleContext"]
