"""The command line's parser class and help pages: what each command is for, examples, exit
codes and the environment variables it reads. Kept apart from cli.py so commands stay short.

Importing this module must stay cheap (argparse and difflib only): `orch --version` and
`orch CMD --help` never load the engine.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import Any, NoReturn

from orchestrator.exitcodes import EXIT_BAD_OPTIONS, EXIT_CODES


class Parser(argparse.ArgumentParser):
    """argparse with Ansible's exit code for bad options (5) and did-you-mean suggestions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_OPTIONS, f"{self.prog}: error: {message}{self._suggestion(message)}\n")

    def _suggestion(self, message: str) -> str:
        choice = re.match(r"argument \S+: invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:  # a mistyped subcommand or choice value
            options = re.findall(r"'([^']*)'", choice.group(2))
            return _did_you_mean(choice.group(1), options)
        return ""

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        # argparse (3.11) leaves an optional positional unfilled when it follows options
        # (`orch explain VAR --host h1 site.yml`): take it from the leftovers.
        for action in self._actions:
            unfilled = (
                action.nargs == "?"
                and not action.option_strings
                and getattr(parsed, action.dest, None) is None
            )
            if unfilled and extras and not extras[0].startswith("-"):
                setattr(parsed, action.dest, extras.pop(0))
        unknown = [word for word in extras if word.startswith("-") and len(word) > 1]
        if unknown and self._subparsers is None:
            # The subcommand's parser knows its own options: suggest from those (`--chek`).
            word = unknown[0].split("=", 1)[0]
            options = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
            self.error(f"unrecognized arguments: {' '.join(extras)}{_did_you_mean(word, options)}")
        return parsed, extras


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def epilog(examples: str, environment: str = "") -> str:
    """The text after a command's options: examples, exit codes, environment variables."""
    codes = "\n".join(f"  {code:<3} {meaning}" for code, meaning in EXIT_CODES)
    parts = [f"examples:\n{examples.rstrip()}", f"exit codes:\n{codes}"]
    if environment:
        parts.append(f"environment:\n{environment.rstrip()}")
    return "\n\n".join(parts)


# Every setting also comes from ansible.cfg and its ANSIBLE_* variable: `orch config` lists them.
RUN_ENVIRONMENT = """\
  ANSIBLE_CONFIG          the ansible.cfg to read (else ./ansible.cfg, ~/.ansible.cfg,
                          /etc/ansible/ansible.cfg); `orch config` shows every setting and its source
  ANSIBLE_INVENTORY, ORCH_INVENTORY   inventory when no -i is given
  ANSIBLE_REMOTE_USER, ANSIBLE_PRIVATE_KEY_FILE, ANSIBLE_FORKS, ANSIBLE_TIMEOUT,
  ANSIBLE_BECOME, ANSIBLE_BECOME_USER, ANSIBLE_BECOME_METHOD, ANSIBLE_SSH_ARGS,
  ANSIBLE_ROLES_PATH, ANSIBLE_HOST_KEY_CHECKING   as the same-named ansible.cfg settings
  ORCH_HOST_KEY_CHECKING  accept-new (default), strict or off
  ORCH_VAULT_PASSWORD     a vault password (for CI); ORCH_VAULT_PASSWORD_FILE,
                          ANSIBLE_VAULT_PASSWORD_FILE: a vault password file or script
  NO_COLOR                plain Ansible-style output even on a terminal"""

PLAY_DESCRIPTION = """\
Run Ansible playbooks against the hosts of an inventory. Everything is loaded and checked
first (YAML, modules and their arguments, templates, vault values); only then are hosts
contacted. Settings not given on the command line come from ANSIBLE_* variables and
ansible.cfg, as with ansible-playbook."""

PLAY_EXAMPLES = """\
  orch play site.yml                                 inventory etc. from ansible.cfg
  orch play site.yml -i inventories/prod -l web1     one host
  orch play site.yml -i inventories/prod -C -D       check mode with diffs: changes nothing
  orch play site.yml -e version=1.2 -e @vars.yml     extra variables (k=v, JSON/YAML, @file)
  orch play site.yml --syntax-check                  validate only
  orch play site.yml -i inventories/prod -t deploy --json run.json"""

RUN_DESCRIPTION = """\
Run one module on the hosts matching PATTERN (Ansible's ad-hoc `ansible` command). The default
module is `command`, which needs its command line in -a."""

RUN_EXAMPLES = """\
  orch run all -i inventories/lab -a "uptime" -o
  orch run 'web:!web3' -m copy -a "content='hello\\n' dest=/tmp/hello mode=0644"
  orch run db -m apt -a "name=postgresql state=present" -b"""

INVENTORY_DESCRIPTION = """\
Show the inventory as orch reads it: files (YAML, INI), directories, executable inventory
scripts (--list/--host JSON) and 'h1,h2,' lists, merged as Ansible merges them."""

INVENTORY_EXAMPLES = """\
  orch inventory -i inventories/lab --graph
  orch inventory -i inventories/lab --host h1
  orch inventory -i ./cmdb.py --list              an inventory script"""

EXPLAIN_DESCRIPTION = """\
Show a variable's value for one host and every place it is defined, lowest precedence first
(the last one wins). Exits 1 when the variable is not defined for the host before the run
(facts, set_fact and register only exist while a playbook runs)."""

EXPLAIN_EXAMPLES = """\
  orch explain http_port --host web1 -i inventories/prod
  orch explain app_dir --host h1 -i inventories/lab playbooks/deploy.yml"""

CONFIG_DESCRIPTION = """\
Show the effective settings and where each comes from: the command line is not involved here;
an ANSIBLE_* environment variable beats ansible.cfg, which beats orch's default. The ansible.cfg
used is the first of $ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg, /etc/ansible/ansible.cfg."""

CONFIG_EXAMPLES = """\
  orch config                    every setting orch knows, its value and source
  orch config --only-changed     only those not at their default
  orch config -v                 also the ansible.cfg settings orch does not use"""

VAULT_DESCRIPTION = """\
Encrypt, decrypt and edit files in ansible-vault's format (1.1 and 1.2 with vault ids), and make
`!vault |` values for YAML files. Passwords come from --vault-password-file, --vault-id,
--ask-vault-pass, ORCH_VAULT_PASSWORD or a password file named by ANSIBLE_VAULT_PASSWORD_FILE
or ansible.cfg's vault_password_file."""

VAULT_EXAMPLES = """\
  orch vault create secrets.yml --vault-password-file ~/.vault_pass
  orch vault edit group_vars/prod/vault.yml
  orch vault view secrets.yml
  orch vault encrypt_string --name db_password 's3cret'
  orch vault rekey secrets.yml --new-vault-password-file new_pass"""

VAULT_ENVIRONMENT = """\
  ORCH_VAULT_PASSWORD     the vault password itself (for CI)
  ORCH_VAULT_PASSWORD_FILE, ANSIBLE_VAULT_PASSWORD_FILE   a password file or script
  ANSIBLE_CONFIG          the ansible.cfg whose vault_password_file is used
  EDITOR, VISUAL          the editor of create and edit (default vi)"""
