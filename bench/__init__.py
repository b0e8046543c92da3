"""orch's benchmark against Ansible and pyinfra on a lab fleet: `python -m bench` (or bench/run)."""
