"""git (ansible.builtin.git): a checkout of a repository at a branch, tag or commit.

Shell only on the target (it needs the `git` command, like Ansible's module). The query asks
the remote (`git ls-remote`, read-only) which commit `version` names and compares it with HEAD,
so check mode knows whether a clone, fetch or checkout would change anything; apply clones or
fetches, then checks out as Ansible does: a branch is reset to the remote branch (`checkout -B`),
a tag or commit is checked out detached. Result keys as Ansible: before / after (commit ids),
remote_url_changed. One round trip when nothing changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

# Shared by query and apply: settings, the remote's commit for $version, the git environment.
_COMMON = r"""
command -v git >/dev/null 2>&1 || orch_fail 'Failed to find required executable "git" in paths'
export GIT_TERMINAL_PROMPT=0
if [ -n "$ssh_cmd" ]; then export GIT_SSH_COMMAND="$ssh_cmd"; fi
orch_git_is_repo() { [ -e "$dest/.git" ] && git -C "$dest" rev-parse --git-dir >/dev/null 2>&1; }
# kind (branch | tag | commit | head) and commit of $version, asking the remote; kind=unknown
# when the remote does not list it (a commit id, which only a fetch can check).
orch_git_resolve() {
  head_branch=
  if [ "$version" = HEAD ]; then
    __refs=$(git ls-remote --symref -- "$repo" HEAD) || orch_fail "Failed to read the remote $repo_shown (git ls-remote)"
    kind=head
    target=$(printf '%s\n' "$__refs" | awk '$1 != "ref:" && $2 == "HEAD" {print $1; exit}')
    head_branch=$(printf '%s\n' "$__refs" | awk '$1 == "ref:" && $3 == "HEAD" {sub("^refs/heads/", "", $2); print $2; exit}')
    return 0
  fi
  __refs=$(git ls-remote -- "$repo" "refs/heads/$version" "refs/tags/$version" "refs/tags/$version^{}") \
    || orch_fail "Failed to read the remote $repo_shown (git ls-remote)"
  __b=$(printf '%s\n' "$__refs" | awk -v r="refs/heads/$version" '$2 == r {print $1; exit}')
  __t=$(printf '%s\n' "$__refs" | awk -v r="refs/tags/$version^{}" '$2 == r {print $1; exit}')
  [ -n "$__t" ] || __t=$(printf '%s\n' "$__refs" | awk -v r="refs/tags/$version" '$2 == r {print $1; exit}')
  if [ -n "$__b" ]; then kind=branch; target=$__b
  elif [ -n "$__t" ]; then kind=tag; target=$__t
  elif printf '%s' "$version" | grep -Eq '^[0-9a-fA-F]{7,40}$'; then
    kind=unknown; target=
    if orch_git_is_repo; then
      __c=$(git -C "$dest" rev-parse --verify --quiet "$version^{commit}" 2>/dev/null) && { kind=commit; target=$__c; }
    fi
  else orch_fail "Failed to find version $version in $repo_shown: no such branch, tag or commit"
  fi
}
"""

_QUERY = r"""
if ! orch_git_is_repo; then
  orch_kv before ""
  # clone=no: only report what a clone would give (Ansible says changed, and touches nothing).
  if [ "$clone" = 0 ]; then orch_git_resolve; orch_kv after "$target"; orch_kv not_cloned 1; return 0; fi
  if [ -e "$dest" ] && [ -n "$(ls -A "$dest" 2>/dev/null)" ]; then
    orch_fail "Destination path $dest already exists and is not an empty directory (and not a git repository)"
  fi
  orch_git_resolve; orch_kv kind "$kind"; orch_kv after "$target"; orch_kv action clone
  return 10
fi
before=$(git -C "$dest" rev-parse --verify --quiet HEAD 2>/dev/null || true)
orch_kv before "$before"
[ "$update" = 1 ] || { orch_kv after "$before"; return 0; }
mods=$(git -C "$dest" status --porcelain --untracked-files=no 2>/dev/null)
local_mods=0
if [ -n "$mods" ]; then
  [ "$force" = 1 ] || orch_fail "Local modifications exist in the destination: $dest (force=no)."
  local_mods=1
fi
url=$(git -C "$dest" config --get "remote.$remote.url" 2>/dev/null || true)
if [ "$url" = "$repo" ]; then orch_kv remote_url_changed 0; else orch_kv remote_url_changed 1; fi
orch_git_resolve; orch_kv kind "$kind"; orch_kv after "$target"
if [ -n "$target" ] && [ "$target" = "$before" ] && [ -z "$mods" ] && [ "$url" = "$repo" ]; then
  # On the right commit; a branch must also be checked out as that branch, not detached.
  case "$kind" in branch) __want=$version;; head) __want=$head_branch;; *) __want=;; esac
  if [ -z "$__want" ] || [ "$(git -C "$dest" symbolic-ref --quiet --short HEAD 2>/dev/null)" = "$__want" ]; then
    return 0
  fi
fi
orch_kv action update
return 10
"""

_APPLY = r"""
# As Ansible: clone (shallow or single-branch only where a branch or tag allows it) or fetch,
# then switch to the version: a branch is checked out tracking the remote branch and reset to it,
# a tag or commit is checked out detached.
if ! orch_git_is_repo; then
  mkdir -p "$(dirname -- "$dest")"
  set -- clone --origin "$remote"
  with_branch=0
  if [ -n "$depth" ]; then
    case "$kind" in
      head) set -- "$@" --depth "$depth";;
      branch|tag) set -- "$@" --depth "$depth" --branch "$version"; with_branch=1;;
      *) echo "Ignoring depth argument. Shallow clones are only available for HEAD, branches, tags or in combination with refspec." >&2;;
    esac
  fi
  if [ "$single_branch" = 1 ]; then
    set -- "$@" --single-branch
    case "$kind" in branch|tag) [ "$with_branch" = 1 ] || set -- "$@" --branch "$version";; esac
  fi
  git "$@" -- "$repo" "$dest" >&2
else
  [ "$local_mods" = 1 ] && git -C "$dest" reset --quiet --hard >&2
  if [ "$(git -C "$dest" config --get "remote.$remote.url" 2>/dev/null)" != "$repo" ]; then
    if git -C "$dest" remote get-url "$remote" >/dev/null 2>&1; then git -C "$dest" remote set-url "$remote" "$repo"
    else git -C "$dest" remote add "$remote" "$repo"; fi
  fi
  set --
  if [ -n "$depth" ]; then
    current=$(git -C "$dest" symbolic-ref --quiet --short HEAD 2>/dev/null || true)
    case "$kind" in
      head) [ -n "$head_branch" ] && set -- "+refs/heads/$head_branch:refs/remotes/$remote/$head_branch";;
      branch) [ "$current" = "$version" ] || set -- "+refs/heads/$version:refs/heads/$version"
              set -- "$@" "+refs/heads/$version:refs/remotes/$remote/$version";;
      tag) set -- "+refs/tags/$version:refs/tags/$version";;
    esac
  fi
  if [ "$#" -gt 0 ]; then git -C "$dest" fetch --quiet --depth "$depth" "$remote" "$@" >&2
  else git -C "$dest" fetch --quiet --tags "$remote" "+refs/heads/*:refs/remotes/$remote/*" >&2; fi
fi
# Branch $1: checked out tracking the remote branch and reset to it.
orch_git_branch() {
  git -C "$dest" show-ref --verify --quiet "refs/remotes/$remote/$1" \
    || git -C "$dest" fetch --quiet ${depth:+--depth "$depth"} "$remote" "+refs/heads/$1:refs/remotes/$remote/$1" >&2
  if git -C "$dest" show-ref --verify --quiet "refs/heads/$1"; then
    git -C "$dest" checkout --quiet --force "$1" >&2
    git -C "$dest" reset --quiet --hard "$remote/$1" >&2
  else git -C "$dest" checkout --quiet --track -b "$1" "$remote/$1" >&2; fi
}
case "$kind" in
  head)
    if [ -n "$head_branch" ]; then orch_git_branch "$head_branch"
    else git -C "$dest" checkout --quiet --force --detach "$target" >&2; fi ;;
  branch) orch_git_branch "$version" ;;
  *)
    # A commit a shallow or single-branch checkout lacks: ask the remote for just that one.
    git -C "$dest" rev-parse --verify --quiet "$version^{commit}" >/dev/null 2>&1 \
      || git -C "$dest" fetch --quiet "$remote" "$version" >&2 \
      || orch_fail "Failed to find commit $version in $repo_shown"
    git -C "$dest" checkout --quiet --force "$version" >&2 ;;
esac
if [ "$recursive" = 1 ] && [ -f "$dest/.gitmodules" ]; then
  git -C "$dest" submodule --quiet update --init --recursive >&2
fi
orch_kv applied_after "$(git -C "$dest" rev-parse HEAD)"
"""

_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


def shown_repo(repo: str) -> str:
    """The repository URL as messages show it: a password in it never reaches output."""
    return _CREDENTIALS.sub(r"\1***@", repo)


@register
class Git(Module):
    """Clone a repository and keep a checkout at a branch, tag or commit."""

    name = "git"
    spec = ArgSpec(
        params={
            "repo": Param("str", required=True, aliases=("name",)),
            "dest": Param("path", required=True),
            "version": Param("str", default="HEAD"),
            "remote": Param("str", default="origin"),
            "clone": Param("bool", default=True),
            "update": Param("bool", default=True),
            "force": Param("bool", default=False),
            "depth": Param("int"),
            "single_branch": Param("bool", default=False),
            "recursive": Param("bool", default=True),
            "accept_hostkey": Param("bool", default=False),
            "accept_newhostkey": Param("bool", default=False),
            "key_file": Param("path"),
            "ssh_opts": Param("str"),
            "executable": Param("path"),
            "umask": Param("raw"),
        },
        mutually_exclusive=(("accept_hostkey", "accept_newhostkey"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        depth = args.get("depth")
        if depth is not None and depth < 1:
            raise ModuleFailed(f"depth must be a positive number, got {depth}")
        repo = args["repo"]
        if repo.startswith("/"):
            repo = "file://" + repo  # as Ansible: some features (depth) need a URL for a local path
        header = "".join(
            f"{key}={quote(value)}\n"
            for key, value in {
                "repo": repo,
                "repo_shown": shown_repo(repo),
                "dest": args["dest"],
                "version": args["version"],
                "remote": args["remote"],
                "clone": _flag(args["clone"]),
                "update": _flag(args["update"]),
                "force": _flag(args["force"]),
                "depth": "" if depth is None else str(depth),
                "single_branch": _flag(args["single_branch"]),
                "recursive": _flag(args["recursive"]),
                "ssh_cmd": _ssh_command(args),
            }.items()
        )
        if args.get("executable"):
            header += f'git() {{ {quote(args["executable"])} "$@"; }}\n'
        if args.get("umask") is not None:
            header += f"umask {quote(str(args['umask']))}\n"
        common = header + _COMMON
        try:
            converged = ctx.converge(common + _QUERY, _APPLY)
        except ModuleFailed as exc:
            raise ModuleFailed(_clean(exc.msg, repo), **exc.result) from None
        fields = converged.fields()
        before = fields.get("before") or None
        after = fields.get("after") or None
        if converged.applied:
            applied = converged.apply.fields.get("applied_after")
            after = applied or after
        result: dict[str, Any] = {
            "changed": converged.changed or bool(fields.get("not_cloned")),
            "before": before,
            "after": after,
        }
        if "remote_url_changed" in fields:  # an existing checkout, as Ansible reports it
            result["remote_url_changed"] = fields["remote_url_changed"] == "1"
        if result["changed"]:
            ctx.add_diff(
                f"{before or '(absent)'}\n",
                f"{after or '(unknown)'}\n",
                f"{args['dest']} (before)",
                f"{args['dest']} (after)",
            )
        return result


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _ssh_command(args: Mapping[str, Any]) -> str:
    """GIT_SSH_COMMAND for the options Ansible maps onto ssh, or "" to leave ssh alone."""
    parts: list[str] = []
    if args.get("key_file"):
        parts += ["-i", quote(args["key_file"]), "-o", "IdentitiesOnly=yes"]
    if args.get("accept_hostkey"):
        parts += ["-o", "StrictHostKeyChecking=no"]
    elif args.get("accept_newhostkey"):
        parts += ["-o", "StrictHostKeyChecking=accept-new"]
    if args.get("ssh_opts"):
        parts.append(args["ssh_opts"])
    return " ".join(["ssh", *parts]) if parts else ""


def _clean(message: str, repo: str) -> str:
    return message.replace(repo, shown_repo(repo)) if repo != shown_repo(repo) else message
