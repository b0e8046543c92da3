"""The lab: real throwaway Debian hosts on this machine (`orch lab`), for users and for orch's tests."""

from orchestrator.lab.fleet import HostOptions, LabFleet, LabHost
from orchestrator.lab.system import AddressInUseError, LabError

__all__ = ["AddressInUseError", "HostOptions", "LabError", "LabFleet", "LabHost"]
