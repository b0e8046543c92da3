"""orch: an agentless remote orchestrator that runs Ansible-style playbooks over SSH."""

__version__ = "0.1.0"
