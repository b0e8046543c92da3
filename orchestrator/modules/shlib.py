"""The shell functions every module script may call, defined once per persistent shell.

Kept POSIX: the target may have only sh + coreutils. transport.shell.ShellLibrary sends them to
a shell that has not had them yet, so a task's script carries only its own lines.
"""

from __future__ import annotations

from orchestrator.transport.shell import ShellLibrary

# Output, failure, stat and checksum helpers.
_BASE_SH = r"""
orch_fail() { printf '%s\n' "$*" >&2; exit 1; }
orch_kv() { printf '%s=%s\n' "$1" "$2"; }
# Opens section $1 of the output (modules/wire.py): what the script prints next, up to the next
# section or its end, is that section's content, byte for byte. $__orch_wire is this run's token.
orch_section() { printf '\n%s %s\n' "$__orch_wire" "$1"; }
orch_stat() {
  # state mode owner group size mtime of $1, or "absent"
  if [ -L "$1" ]; then printf 'state=link\ntarget=%s\n' "$(readlink "$1")"
  elif [ -d "$1" ]; then echo state=directory
  elif [ -f "$1" ]; then echo state=file
  elif [ -e "$1" ]; then echo state=other
  else echo state=absent; return 0; fi
  stat -c 'mode=%a
owner=%U
group=%G
uid=%u
gid=%g
size=%s
mtime=%Y' -- "$1"
}
orch_sha1() { sha1sum < "$1" | cut -d' ' -f1; }
# orch_tilde PATH: __tl = PATH with a leading ~ or ~user replaced by that home directory (this
# shell's $HOME for ~), as Ansible's path arguments are expanded on the host.
orch_tilde() {
  __tl=$1
  case "$__tl" in
    "~"|"~/"*) __tl="$HOME${__tl#"~"}" ;;
    "~"*) __u=${__tl%%/*}; __u=${__u#"~"}
          if orch_ent passwd "$__u"; then __h=${__ent#*:*:*:*:*:}; __tl="${__h%%:*}${__tl#"~$__u"}"; fi ;;
  esac
}
"""

# File attribute and content helpers (fileops.py builds the scripts that call them).
FILE_SH = r"""
orch_nl='
'
orch_statvars() {
  st_state=absent st_mode= st_owner= st_group= st_uid= st_gid= st_size= st_target=
  if [ -L "$1" ]; then st_state=link; st_target=$(readlink -- "$1")
  elif [ -d "$1" ]; then st_state=directory
  elif [ -f "$1" ]; then st_state=file
  elif [ -e "$1" ]; then st_state=other
  else return 0; fi
  orch_pf_stat "$1" || { __s=$(stat -c '%a %U %G %u %g %s' -- "$1") || return 1; }
  set -- $__s
  st_mode=$1 st_owner=$2 st_group=$3 st_uid=$4 st_gid=$5 st_size=$6
}
# Prefetch for the held commands of a pipelined batch (executor/pipeline.py): they only read, so
# the host's state cannot change between them. Before the first of them the batch calls
# orch_prefetch_stats and orch_prefetch_sums with the paths they declared: one `stat` and one
# `sha1sum` for all, instead of one or two process starts per task. orch_pf_stat / orch_pf_sum
# answer from them only while __orch_hold is set; the batch empties them (__pf_sn=0 __pf_cn=0) at
# its start and end.
orch_prefetch_stats() {
  __pf_sn=0
  for __f do shift; if [ -e "$__f" ] || [ -L "$__f" ]; then set -- "$@" "$__f"; fi; done
  [ $# -gt 0 ] || return 0
  __o=$(stat -c '%a %U %G %u %g %s' -- "$@" 2>/dev/null) && orch_pf_keep s "$__o" "$@"
}
orch_prefetch_sums() {
  __pf_cn=0
  # sha1sum escapes names holding a backslash or a newline: those are summed by the task itself
  for __f do shift; if [ -f "$__f" ] && [ ! -L "$__f" ]; then case "$__f" in *\\*|*"$orch_nl"*) ;; *) set -- "$@" "$__f" ;; esac; fi; done
  [ $# -gt 0 ] || return 0
  __o=$(sha1sum -- "$@" 2>/dev/null) && orch_pf_keep c "$__o" "$@"
}
# orch_pf_keep KIND OUTPUT PATH...: line i of OUTPUT is the value prefetched for path i (KIND: s
# stat fields, c sha1sum's line).
orch_pf_keep() {
  __k=$1 __o=$2; shift 2; __i=0
  for __f do
    __i=$((__i + 1)); __l=${__o%%"$orch_nl"*}; __o=${__o#*"$orch_nl"}
    eval "__pf_${__k}p$__i=\$__f __pf_${__k}v$__i=\$__l"
  done
  eval "__pf_${__k}n=$__i"
}
# orch_pf_find KIND PATH: __v = the value prefetched for PATH; fails when there is none.
orch_pf_find() {
  [ -n "${__orch_hold-}" ] || return 1
  eval "__i=\${__pf_${1}n:-0}"
  while [ "$__i" -gt 0 ]; do
    eval "__l=\$__pf_${1}p$__i"
    if [ "$__l" = "$2" ]; then eval "__v=\$__pf_${1}v$__i"; return 0; fi
    __i=$((__i - 1))
  done
  return 1
}
# orch_pf_stat PATH: __s = PATH's prefetched `stat` fields. orch_pf_sum PATH: __c = its sha1.
orch_pf_stat() { orch_pf_find s "$1" && __s=$__v; }
orch_pf_sum() { orch_pf_find c "$1" && __c=${__v%% *}; }
# key=value, the value hex-encoded: safe for paths and link targets holding newlines. A value of
# only plain path characters goes as "=value" (hex never starts with "="): od and tr are two
# process starts per value, and most paths need no encoding.
orch_kvx() {
  case "$2" in
    '') printf '%s=\n' "$1" ;;
    *[!A-Za-z0-9/._@+,:%~-]*) printf '%s=' "$1"; printf '%s' "$2" | od -An -v -tx1 | tr -d ' \n'; echo ;;
    *) printf '%s==%s\n' "$1" "$2" ;;
  esac
}
# The orch_statvars values as key=value lines, keys prefixed with $1 (e.g. "after_").
orch_report_stat() {
  orch_kv "${1}state" "$st_state"; orch_kv "${1}mode" "$st_mode"; orch_kv "${1}owner" "$st_owner"
  orch_kv "${1}group" "$st_group"; orch_kv "${1}uid" "$st_uid"; orch_kv "${1}gid" "$st_gid"
  orch_kv "${1}size" "$st_size"
  [ -n "$st_target" ] && orch_kvx "${1}target" "$st_target"; return 0
}
# The mode `$2` (octal or symbolic) would give to path $1 (whose current mode is $3): octal, no zeros.
orch_want_mode() {
  case "$2" in
    [0-7]|[0-7][0-7]|[0-7][0-7][0-7]|[0-7][0-7][0-7][0-7]|[0-7][0-7][0-7][0-7][0-7]) printf '%o\n' "0$2"; return;;
  esac
  # Symbolic: apply it to a scratch file of the same type and current mode, read the result.
  __d=$(mktemp -d) || return 1
  if [ -d "$1" ]; then mkdir "$__d/x"; else : > "$__d/x"; fi
  # chmod's own complaint about a bad mode is noise: the caller fails with a clear message.
  chmod "${3:-644}" "$__d/x" && chmod -- "$2" "$__d/x" 2>/dev/null && stat -c '%a' "$__d/x"; __r=$?
  rm -rf "$__d"; return $__r
}
# Sets attr_change=1 when owner/group/mode of $1 differ from want_owner/want_group/want_mode.
orch_check_attrs() {
  attr_change=0
  if [ -n "$want_owner" ] && [ "$want_owner" != "$st_owner" ] && [ "$want_owner" != "$st_uid" ]; then
    id -u -- "$want_owner" >/dev/null 2>&1 || orch_fail "chown failed: failed to look up user $want_owner"
    attr_change=1; fi
  if [ -n "$want_group" ] && [ "$want_group" != "$st_group" ] && [ "$want_group" != "$st_gid" ]; then
    attr_change=1; fi
  if [ -n "$want_mode" ]; then
    case "$want_mode" in
      # Octal: orch_want_mode's printf '%o' is the digits without leading zeros; no subshell.
      [0-7]|[0-7][0-7]|[0-7][0-7][0-7]|[0-7][0-7][0-7][0-7]|[0-7][0-7][0-7][0-7][0-7])
        want_octal=${want_mode#"${want_mode%%[!0]*}"}; want_octal=${want_octal:-0} ;;
      *) want_octal=$(orch_want_mode "$1" "$want_mode" "$st_mode") || orch_fail "mode must be in octal or symbolic form: $want_mode" ;;
    esac
    [ "$want_octal" = "$st_mode" ] || attr_change=1
  fi
}
orch_apply_attrs() {
  orch_apply_owner "$1"
  if [ -n "$want_mode" ] && [ ! -L "$1" ]; then chmod -- "$want_mode" "$1"; fi
}
# Owner and group in one chown when both are wanted; if that fails, the two separate commands
# run, so the outcome and the error message are those of chown then chgrp.
orch_apply_owner() {
  if [ -n "$want_owner" ] && [ -n "$want_group" ] && chown -h -- "$want_owner:$want_group" "$1" 2>/dev/null; then return 0; fi
  if [ -n "$want_owner" ]; then chown -h -- "$want_owner" "$1"; fi
  if [ -n "$want_group" ]; then chgrp -h -- "$want_group" "$1"; fi
}
# Sets __dir to what `dirname -- "$1"` prints (without starting a process).
orch_dirname() {
  __dir=$1
  case "$__dir" in '') __dir=.; return ;; *[!/]*) ;; *) __dir=/; return ;; esac
  while :; do case "$__dir" in */) __dir=${__dir%/} ;; *) break ;; esac; done
  case "$__dir" in */*) ;; *) __dir=.; return ;; esac
  __dir=${__dir%/*}
  while :; do case "$__dir" in */) __dir=${__dir%/} ;; *) break ;; esac; done
  [ -n "$__dir" ] || __dir=/
}
# Creates file $1, empty and mode 0600; fails if the name exists in any form (O_EXCL: a planted
# file or symlink is never opened). The subshell keeps umask and noclobber to itself.
orch_create_private() { ( umask 077; set -C; : > "$1" ); }
# rm -f -- FILES..., starting rm only for files that exist (the usual case at exit: none).
orch_rm_existing() {
  for __f in "$@"; do
    if [ -e "$__f" ] || [ -L "$__f" ]; then rm -f -- "$@"; return; fi
  done
}
# A timestamped copy beside $1, named as Ansible's backup_local names it.
orch_backup() {
  backup_file="$1.$$.$(date +%Y-%m-%d@%H:%M:%S)~"
  cp -p -- "$1" "$backup_file" && orch_kvx backup_file "$backup_file"
}
"""

# Account lookups in shell builtins (user, group modules).
#
# `getent` is a process start per lookup; a no-op user task made five of them. These helpers read
# /etc/passwd, /etc/group, /etc/shadow with the shell's own `read` and fall back to `getent` only
# when the entry is not in the local file, so entries from other NSS sources (LDAP, systemd's
# synthesized users) are still found, and a local entry reads exactly as `getent` prints it (the
# nsswitch default puts `files` first).

NSS_SH = r"""
# orch_ent DB KEY: sets __ent to the DB entry for KEY as `getent DB KEY` prints it (without the
# newline); status 2 and __ent empty when there is none. A numeric KEY is a uid/gid, as for getent.
orch_ent() {
  __ent=
  if [ -r "/etc/$1" ]; then
    case "$2" in
      ''|*[!0-9]*)
        while IFS= read -r __l || [ -n "$__l" ]; do
          case "$__l" in "$2":*) __ent=$__l; return 0 ;; esac
        done < "/etc/$1" ;;
      *)
        while IFS= read -r __l || [ -n "$__l" ]; do
          __r=${__l#*:}; __r=${__r#*:}
          [ "${__r%%:*}" = "$2" ] && case "$__l" in *:*:*:*) __ent=$__l; return 0 ;; esac
        done < "/etc/$1" ;;
    esac
  fi
  __ent=$(getent "$1" "$2") && [ -n "$__ent" ] && return 0
  __ent=; return 2
}
# orch_getent DB KEY: prints what orch_ent finds, like `getent DB KEY`.
orch_getent() { orch_ent "$1" "$2" && printf '%s\n' "$__ent"; }
# orch_groups_of USER: the groups whose member list names USER, like
# `getent group | awk -F: '... split($4, m, ",") ...'` over the local file. Other NSS group
# sources cannot be enumerated from a file: then getent is used.
orch_groups_of() {
  __srcs=
  if [ -r /etc/nsswitch.conf ]; then
    while IFS= read -r __l || [ -n "$__l" ]; do
      case "$__l" in group:*) __srcs=${__l#group:} ;; esac
    done < /etc/nsswitch.conf
  fi
  case $- in *f*) __nf=1 ;; *) __nf=; set -f ;; esac  # split into words, never glob "[...]"
  for __s in $__srcs; do
    case "$__s" in files|systemd|\[*) ;; *) __srcs=other ;; esac
  done
  [ -n "$__nf" ] || set +f
  if [ "$__srcs" = other ] || [ ! -r /etc/group ]; then
    getent group | awk -F: -v u="$1" '{k=split($4,m,","); for (i=1;i<=k;i++) if (m[i]==u) print $1}'
    return
  fi
  while IFS= read -r __l || [ -n "$__l" ]; do
    case "$__l" in *:*:*:*) ;; *) continue ;; esac
    __m=${__l#*:*:*:}; __m=${__m%%:*}
    case ",$__m," in *,"$1",*) printf '%s\n' "${__l%%:*}" ;; esac
  done < /etc/group
}
"""

# All of them, defined once in each persistent shell (see transport.shell.ShellLibrary): the file
# helpers alone are 4 KB, which every file task used to send and the host to parse, twice.
LIBRARY = ShellLibrary(_BASE_SH + FILE_SH + NSS_SH)
