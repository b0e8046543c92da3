"""git module: what it builds on the controller (the remote part runs in
tests/integration/test_module_git.py against real repositories on lab hosts)."""

from __future__ import annotations

from orchestrator.modules.library.git import Git, _ssh_command, shown_repo
from orchestrator.modules.spec import validate_args


def test_credentials_in_urls_are_hidden() -> None:
    assert shown_repo("https://user:hunter2@git.example.com/app.git") == "https://***@git.example.com/app.git"
    assert shown_repo("ssh://git@github.com/org/app.git") == "ssh://***@github.com/org/app.git"
    assert shown_repo("git@github.com:org/app.git") == "git@github.com:org/app.git"  # no secret in scp form
    assert shown_repo("/srv/git/app.git") == "/srv/git/app.git"


def test_ssh_options_as_ansible_maps_them() -> None:
    assert _ssh_command({}) == ""
    assert _ssh_command({"key_file": "/home/d/.ssh/id ed", "accept_hostkey": True}) == (
        "ssh -i '/home/d/.ssh/id ed' -o IdentitiesOnly=yes -o StrictHostKeyChecking=no"
    )
    assert _ssh_command({"accept_newhostkey": True, "ssh_opts": "-p 2222"}) == (
        "ssh -o StrictHostKeyChecking=accept-new -p 2222"
    )


def test_spec_defaults_aliases_and_errors() -> None:
    args, errors = validate_args(Git.spec, {"name": "https://x/app.git", "dest": "/srv/app"})
    assert errors == [] and args["repo"] == "https://x/app.git"
    assert (args["version"], args["remote"], args["clone"], args["update"], args["force"]) == (
        "HEAD", "origin", True, True, False,
    )  # fmt: skip
    _, errors = validate_args(Git.spec, {"repo": "x", "verison": "main", "accept_hostkey": True, "accept_newhostkey": True})
    assert "unsupported parameter 'verison' (did you mean 'version'?)" in errors
    assert "missing required parameter 'dest'" in errors
    assert "parameters are mutually exclusive: accept_hostkey, accept_newhostkey" in errors
