"""Inventories: YAML/INI/host-list sources, host ranges, group_vars/host_vars, host patterns.

The executor and CLI use `load_inventory(sources)` and the `Inventory` it returns; see
`model.py` for the Ansible rules followed (membership, variable precedence, pattern order).
"""

from orchestrator.inventory.export import inventory_graph, inventory_host_vars, inventory_list_json
from orchestrator.inventory.model import LOCALHOST_NAMES, Group, Host, Inventory, VarsLayer
from orchestrator.inventory.sources import load_inventory
from orchestrator.inventory.varsfiles import read_vars_file, set_vault_decryptor

__all__ = [
    "LOCALHOST_NAMES",
    "Group",
    "Host",
    "Inventory",
    "VarsLayer",
    "inventory_graph",
    "inventory_host_vars",
    "inventory_list_json",
    "load_inventory",
    "read_vars_file",
    "set_vault_decryptor",
]
