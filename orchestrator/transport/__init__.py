"""Transports: how the controller talks to a host (SSH via paramiko, or local)."""

from orchestrator.transport.base import BecomeSpec, CommandResult, Connection, ConnectionSpec, TransportStats

__all__ = ["BecomeSpec", "CommandResult", "Connection", "ConnectionSpec", "TransportStats"]
