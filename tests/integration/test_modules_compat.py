"""Modules added for the compatibility corpus (issue 15) on real lab hosts: mount, pam_limits,
selinux, dnf, each through cycle() (check+diff touches nothing -> changed -> ok), plus their
bad-input errors naming the key."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from test_modules_system import Play, cycle, recap

from orchestrator.lab.testing import LabSession


def test_mount_tmpfs_cycle_then_unmount_and_absent(hosts: LabSession, play: Play) -> None:
    task = "- mount: {path: /mnt/orch-scratch, src: tmpfs, fstype: tmpfs, opts: 'size=1m,mode=0755', state: mounted}"
    cycle(hosts, play, "h1", task)
    fstab = hosts.ssh("h1", "cat /etc/fstab").stdout
    assert "tmpfs /mnt/orch-scratch tmpfs size=1m,mode=0755 0 0\n" in fstab
    assert hosts.ssh("h1", "awk '$5 == \"/mnt/orch-scratch\"' /proc/self/mountinfo").stdout.strip()
    # new options: the line is rewritten and the mount point remounted
    changed = play("h1", task.replace("size=1m", "size=2m"))
    assert changed.returncode == 0 and recap(changed.stdout, "h1")["changed"] == 1, changed.stdout
    assert "size=2048k" in hosts.ssh("h1", "grep /mnt/orch-scratch /proc/self/mounts").stdout
    gone = play(
        "h1",
        "- mount: {path: /mnt/orch-scratch, state: unmounted}\n- mount: {path: /mnt/orch-scratch, state: absent}",
    )
    assert gone.returncode == 0 and recap(gone.stdout, "h1")["changed"] == 2, gone.stdout
    assert "orch-scratch" not in hosts.ssh("h1", "cat /etc/fstab /proc/self/mountinfo").stdout
    assert hosts.ssh("h1", "test -e /mnt/orch-scratch").returncode != 0
    bad = play("h1", "- mount: {path: /mnt/x, src: tmpfs, state: mounted}")
    assert bad.returncode != 0 and "fstype" in bad.stdout + bad.stderr
    failing = play(
        "h1", "- mount: {path: /mnt/orch-bad, src: /dev/no-such-disk, fstype: ext4, state: mounted}"
    )
    assert failing.returncode == 2 and "Error mounting /mnt/orch-bad" in failing.stdout, failing.stdout
    assert "orch-bad" not in hosts.ssh("h1", "cat /etc/fstab").stdout  # the old fstab is back


def test_pam_limits_cycle(hosts: LabSession, play: Play) -> None:
    cycle(hosts, play, "h1", """
    - pam_limits: {dest: /etc/security/limits.d/20-orch.conf, domain: '*', limit_type: hard, limit_item: core, value: '0', comment: no dumps}
    - community.general.pam_limits: {dest: /etc/security/limits.d/20-orch.conf, domain: '@ops', limit_type: soft, limit_item: nofile, value: '4096'}
    """)  # fmt: skip
    text = hosts.ssh(
        "h1", "cat /etc/security/limits.d/20-orch.conf; stat -c %a /etc/security/limits.d/20-orch.conf"
    ).stdout
    # community.general carries the first line's comment, newline included, to a new line that has
    # none: hence the empty line (test_compat_modules_units checks this against its code)
    assert text == "*\thard\tcore\t0\t#no dumps\n@ops\tsoft\tnofile\t4096\t#no dumps\n\n644\n"
    bigger = play(
        "h1",
        "- pam_limits: {dest: /etc/security/limits.d/20-orch.conf, domain: '@ops', limit_type: soft, limit_item: nofile, value: '1024', use_max: true}",
    )
    assert bigger.returncode == 0 and recap(bigger.stdout, "h1")["changed"] == 0, bigger.stdout
    bad = play("h1", "- pam_limits: {domain: '*', limit_type: hard, limit_item: cores, value: '0'}")
    assert bad.returncode != 0 and "limit_item" in bad.stdout + bad.stderr
    missing_dir = play(
        "h1",
        "- pam_limits: {dest: /etc/no-such-dir/x.conf, domain: '*', limit_type: hard, limit_item: core, value: '0'}",
    )
    assert missing_dir.returncode == 2 and hosts.ssh("h1", "test -e /etc/no-such-dir").returncode != 0


def test_selinux_config_on_a_host_without_selinux(hosts: LabSession, play: Play) -> None:
    # Debian runs without SELinux: the config file is managed, the live state waits for a reboot.
    hosts.ssh("h2", "mkdir -p /etc/selinux/default/policy /etc/selinux/targeted/policy && "
              "printf '# SELinux\\nSELINUX=disabled\\nSELINUXTYPE=default\\n' > /etc/selinux/config", check=True)  # fmt: skip
    cycle(hosts, play, "h2", "- ansible.posix.selinux: {policy: targeted, state: permissive}")
    warned = play("h2", """
    - selinux: {policy: targeted, state: permissive}
      register: r
    - assert:
        that:
          - r.reboot_required and not r.changed
          - r.warnings == ["Reboot is required to set SELinux state to 'permissive'"]
    """)  # fmt: skip
    assert warned.returncode == 0, warned.stdout
    assert (
        hosts.ssh("h2", "cat /etc/selinux/config").stdout
        == "# SELinux\nSELINUX=permissive\nSELINUXTYPE=targeted\n"
    )
    bad = play("h2", "- selinux: {policy: nosuch, state: enforcing}")
    assert bad.returncode == 2 and "Policy nosuch does not exist in /etc/selinux/" in bad.stdout, bad.stdout
    no_policy = play("h2", "- selinux: {state: enforcing}")
    assert no_policy.returncode == 2 and "Policy is required" in no_policy.stdout
    bad_state = play("h2", "- selinux: {state: strict}")
    assert bad_state.returncode != 0 and "state" in bad_state.stdout + bad_state.stderr
    hosts.ssh("h2", "rm -rf /etc/selinux", check=True)


def test_locale_gen_cycle(hosts: LabSession, play: Play) -> None:
    hosts.ssh("h2", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq locales >/dev/null 2>&1 || "
              "(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq locales >/dev/null)",
              check=True, timeout=600)  # fmt: skip
    cycle(hosts, play, "h2", "- community.general.locale_gen: {name: [de_DE.UTF-8, C.UTF-8]}")
    assert "de_DE.utf8" in hosts.ssh("h2", "locale -a").stdout
    assert "\nde_DE.UTF-8 UTF-8\n" in hosts.ssh("h2", "cat /etc/locale.gen").stdout
    removed = play("h2", "- locale_gen: {name: de_DE.UTF-8, state: absent}")
    assert removed.returncode == 0 and recap(removed.stdout, "h2")["changed"] == 1, removed.stdout
    assert "de_DE" not in hosts.ssh("h2", "locale -a").stdout
    unknown = play("h2", "- locale_gen: {name: xx_YY.FOO}")
    assert unknown.returncode == 2 and "not available on your system: xx_YY.FOO" in unknown.stdout


SPEC = """Name: orch-hello
Version: %s
Release: 1
Summary: test package
License: MIT
BuildArch: noarch
%%description
test
%%install
mkdir -p %%{buildroot}/usr/share/orch-hello
echo %s > %%{buildroot}/usr/share/orch-hello/version
%%files
/usr/share/orch-hello/version
"""


@pytest.mark.slow  # installs dnf, rpm and createrepo-c on the host (minutes)
def test_dnf_from_a_local_repository(hosts: LabSession, play: Play) -> None:
    # Debian packages dnf and rpm: a repository built on the host gives dnf real work to do.
    setup = (
        "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends"
        " dnf rpm createrepo-c >/dev/null && mkdir -p /srv/orch-repo /etc/yum.repos.d && "
        "printf '[orch]\\nname=orch\\nbaseurl=file:///srv/orch-repo\\ngpgcheck=0\\nenabled=1\\n' > /etc/yum.repos.d/orch.repo"
    )
    hosts.ssh("h3", setup, check=True, timeout=900)

    def publish(version: str) -> None:
        spec = SPEC % (version, version)
        hosts.ssh("h3", "cat > /root/orch-hello.spec && rpmbuild -bb --quiet /root/orch-hello.spec >/dev/null"
                  " && cp /root/rpmbuild/RPMS/noarch/*.rpm /srv/orch-repo/ && createrepo_c -q /srv/orch-repo"
                  " && dnf -q clean all", input=spec, check=True, timeout=300)  # fmt: skip

    publish("1.0")
    cycle(hosts, play, "h3", "- dnf: {name: orch-hello, state: present}", diff=False)
    assert hosts.ssh("h3", "cat /usr/share/orch-hello/version").stdout == "1.0\n"
    publish("1.1")
    latest = play("h3", "- ansible.builtin.dnf: {name: orch-hello, state: latest}")
    assert latest.returncode == 0 and recap(latest.stdout, "h3")["changed"] == 1, latest.stdout
    assert hosts.ssh("h3", "cat /usr/share/orch-hello/version").stdout == "1.1\n"
    again = play("h3", "- ansible.builtin.dnf: {name: orch-hello, state: latest}")
    assert recap(again.stdout, "h3")["changed"] == 0, again.stdout
    removed = play(
        "h3",
        "- dnf: {name: orch-hello, state: absent}\n  register: gone\n"
        "- assert: {that: [\"gone.results == ['Removed: orch-hello-1.1-1.noarch']\"]}\n"
        "- dnf: {name: orch-hello, state: absent}",
    )
    assert removed.returncode == 0 and recap(removed.stdout, "h3")["changed"] == 1, removed.stdout
    assert hosts.ssh("h3", "rpm -q orch-hello").returncode != 0
    missing = play("h3", "- dnf: {name: no-such-package-orch, state: present}")
    assert missing.returncode == 2, missing.stdout
    bad = play("h3", "- dnf: {name: orch-hello, state: newest}")
    assert bad.returncode != 0 and "state" in bad.stdout + bad.stderr


PG_SECRET = "s3cret-'quoted\"-$HOME"  # quotes and shell syntax: quoted all the way to psql
BECOME_POSTGRES = "  become: true\n  become_user: postgres\n"


@pytest.mark.slow  # installs PostgreSQL on the host
def test_postgresql_user_db_privs(hosts: LabSession, play: Play) -> None:
    hosts.ssh(
        "h4",
        "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends"
        " postgresql >/dev/null && service postgresql start >/dev/null",
        check=True,
        timeout=900,
    )
    # Debian creates the cluster on the next free port: the lab hosts share one network namespace
    port = hosts.ssh("h4", "pg_lsclusters -h | awk '{print $3}'", check=True).stdout.strip()
    conn = f"login_unix_socket: /var/run/postgresql, port: {port}"

    def tasks(*lines: str) -> str:
        return "".join(f"- {line.replace('@CONN', conn)}\n{BECOME_POSTGRES}" for line in lines)

    def psql(sql: str) -> str:
        return hosts.ssh("h4", f"cd / && su postgres -c 'psql -p {port} -At'", input=sql, check=True).stdout

    def pg_cycle(playbook: str, state_sql: str) -> str:
        """cycle() with the database's own view as the state: PostgreSQL's files (WAL, caches)
        change whenever anyone connects, check mode or not."""
        before = psql(state_sql)
        checked = play("h4", playbook, "--check")
        assert checked.returncode == 0 and recap(checked.stdout, "h4")["changed"] > 0, checked.stdout
        assert psql(state_sql) == before, "check mode changed the database"
        first = play("h4", playbook)
        assert first.returncode == 0 and recap(first.stdout, "h4")["changed"] > 0, first.stdout
        assert psql(state_sql) != before
        again = play("h4", playbook)
        assert again.returncode == 0 and recap(again.stdout, "h4")["changed"] == 0, again.stdout
        return first.stdout + first.stderr + checked.stdout + again.stdout

    user = tasks(f"postgresql_user: {{name: app, password: {json.dumps(PG_SECRET)}, @CONN}}")
    user += "  environment: {PGOPTIONS: '-c password_encryption=scram-sha-256'}\n"
    output = pg_cycle(user, "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = 'app'")
    assert PG_SECRET not in output
    assert psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'app'").startswith("SCRAM-SHA-256$")
    # the same password again is recognised from the SCRAM verifier (cycle's last run: ok); a new one is set
    changed = play("h4", user.replace("s3cret", "other") + "  register: r\n- debug: {var: r.queries}\n")
    assert recap(changed.stdout, "h4")["changed"] == 1, changed.stdout
    assert "other-" not in changed.stdout and "%(password)s" in changed.stdout, changed.stdout
    pg_cycle(tasks(
        "postgresql_db: {name: appdb, owner: app, encoding: UTF-8, lc_collate: C.UTF-8, lc_ctype: C.UTF-8,"
        " template: template0, @CONN}",
        "postgresql_user: {name: reader, @CONN}",
    ), "SELECT datname, datacl FROM pg_database UNION ALL SELECT rolname, NULL FROM pg_roles ORDER BY 1")  # fmt: skip
    # (its own cycle: in check mode the database it connects to would not exist yet, in Ansible too)
    pg_cycle(tasks("postgresql_privs: {db: appdb, roles: reader, privs: CONNECT, type: database, objs: appdb, @CONN}"),
             "SELECT datacl FROM pg_database WHERE datname = 'appdb'")  # fmt: skip
    acl = psql("SELECT datacl, pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'appdb'")
    assert "reader=c/" in acl and acl.strip().endswith("|app"), acl
    wrong = play("h4", tasks("postgresql_db: {name: appdb, encoding: LATIN1, @CONN}"))
    assert wrong.returncode == 2 and "Changing database encoding is not supported" in wrong.stdout, wrong.stdout
    no_role = play("h4", tasks("postgresql_privs: {db: appdb, roles: ghost, privs: CONNECT, type: database, @CONN}"))
    assert no_role.returncode == 2 and "Role ghost does not exist" in no_role.stdout, no_role.stdout
    bad = play("h4", "- postgresql_user: {nam: x}")
    assert bad.returncode != 0 and "nam" in bad.stdout + bad.stderr
    dropped = play("h4", tasks("postgresql_db: {name: appdb, state: absent, @CONN}",
                               "postgresql_user: {name: reader, state: absent, @CONN}"))  # fmt: skip
    assert dropped.returncode == 0 and recap(dropped.stdout, "h4")["changed"] == 2, dropped.stdout
    assert psql("SELECT count(*) FROM pg_roles WHERE rolname = 'reader'").strip() == "0"


MY_SECRET = "my-'quoted\"-$HOME-#not-a-comment\\"  # quotes, shell and option-file syntax


@pytest.mark.slow  # installs MariaDB on the host
def test_mysql_db_user_replication(hosts: LabSession, play: Play) -> None:
    address = next(h.address for h in hosts.hosts if h.name == "h2")
    # The lab hosts share one network namespace: the server listens on h2's own address only.
    hosts.ssh(
        "h2",
        "export DEBIAN_FRONTEND=noninteractive; printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d"
        " && chmod +x /usr/sbin/policy-rc.d && apt-get update -qq && apt-get install -y -qq --no-install-recommends"
        " mariadb-server >/dev/null; rc=$?; rm -f /usr/sbin/policy-rc.d; [ $rc = 0 ] &&"
        f" printf '[mysqld]\\nbind-address={address}\\nlog-bin=mysql-bin\\nserver-id=7\\n' > /etc/mysql/mariadb.conf.d/99-lab.cnf"
        " && service mariadb start >/dev/null",
        check=True,
        timeout=900,
    )

    def sql(statements: str) -> str:
        return hosts.ssh("h2", "mariadb -NB", input=statements, check=True).stdout

    def my_cycle(tasks: str, state_sql: str) -> str:
        """cycle() with the server's own view as the state (InnoDB writes its files on its own)."""
        before = sql(state_sql)
        checked = play("h2", tasks, "--check", "--diff")
        assert checked.returncode == 0 and recap(checked.stdout, "h2")["changed"] > 0, checked.stdout
        assert "+++ " in checked.stdout, checked.stdout
        assert sql(state_sql) == before, "check mode changed the server"
        first = play("h2", tasks, "--diff")
        assert first.returncode == 0 and recap(first.stdout, "h2")["changed"] > 0, first.stdout
        assert sql(state_sql) != before
        again = play("h2", tasks)
        assert again.returncode == 0 and recap(again.stdout, "h2")["changed"] == 0, again.stdout
        return checked.stdout + checked.stderr + first.stdout + first.stderr + again.stdout

    my_cycle("""
    - mysql_db: {name: [appdb, metrics], encoding: utf8mb4, collation: utf8mb4_general_ci}
    - community.mysql.mysql_db: {name: test, state: absent}
    """, "SHOW DATABASES")  # fmt: skip
    assert "utf8mb4_general_ci" in sql("SHOW CREATE DATABASE appdb")
    user = f"- mysql_user: {{name: app, host: '%', password: {json.dumps(MY_SECRET)}, priv: 'appdb.*:ALL/metrics.*:SELECT', column_case_sensitive: false}}\n"
    grants = "SHOW GRANTS FOR 'app'@'%'"
    account = (  # the account's state, also while it does not exist
        "SELECT user, host, authentication_string FROM mysql.user ORDER BY 1, 2;"
        " SELECT * FROM information_schema.SCHEMA_PRIVILEGES ORDER BY 1, 2, 3, 4;"
    )
    output = my_cycle(user, account)
    assert MY_SECRET not in output and "$HOME" not in output, output
    assert "GRANT ALL PRIVILEGES ON `appdb`.*" in sql(grants) and "GRANT SELECT ON `metrics`.*" in sql(grants)
    # the password works over TCP, given through an option file (the test's own login)
    escaped = MY_SECRET.replace("\\", "\\\\").replace('"', '\\"')  # an option file's double-quoted value
    hosts.ssh("h2", "umask 077; cat > /root/app.cnf", input=f'[client]\nuser=app\npassword="{escaped}"\n', check=True)
    login = hosts.ssh("h2", f"mariadb --defaults-file=/root/app.cnf -h {address} -NBe 'SELECT CURRENT_USER()'")
    assert login.stdout.strip() == "app@%", login.stdout + login.stderr
    # replace, then append privileges; a new password; each a change, each recognised again
    my_cycle(user.replace("appdb.*:ALL/metrics.*:SELECT", "appdb.*:SELECT,INSERT"), account)
    assert "metrics" not in sql(grants) and "GRANT SELECT, INSERT ON `appdb`.*" in sql(grants)
    my_cycle("- mysql_user: {name: app, host: '%', priv: 'metrics.*:UPDATE', append_privs: true, column_case_sensitive: false}", account)  # fmt: skip
    assert "GRANT SELECT, INSERT ON `appdb`.*" in sql(grants) and "GRANT UPDATE ON `metrics`.*" in sql(grants)
    hashes = "SELECT authentication_string FROM mysql.user WHERE user = 'app'"
    my_cycle("- mysql_user: {name: app, host: '%', password: second-secret, column_case_sensitive: false}", hashes)
    assert sql(hashes).strip() == "*" + hashlib.sha1(hashlib.sha1(b"second-secret").digest()).hexdigest().upper()
    # login_* parameters: the app user may not read mysql.user; the error names the server's reason
    denied = play("h2", f"- mysql_user: {{name: x, login_user: app, login_password: second-secret, login_host: {address}}}")
    assert denied.returncode == 2 and "SELECT command denied to user 'app'" in denied.stdout, denied.stdout
    assert "second-secret" not in denied.stdout + denied.stderr
    wrong = play("h2", f"- mysql_db: {{name: appdb, login_user: app, login_password: wrong-pw, login_host: {address}}}")
    # community.mysql's message for mysql_db when there is no config file either
    assert wrong.returncode == 2 and "unable to find /root/.my.cnf. Exception message: ERROR 1045" in wrong.stdout, wrong.stdout
    # dump and import (always a change, as in community.mysql); the dump is complete and compressed
    sql("CREATE TABLE appdb.t (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO appdb.t VALUES (1, 'one');")
    moved = play("h2", "- mysql_db: {name: appdb, state: dump, target: /root/appdb.sql.gz}\n"
                       "- mysql_db: {name: restored, state: import, target: /root/appdb.sql.gz}")  # fmt: skip
    assert moved.returncode == 0 and recap(moved.stdout, "h2")["changed"] == 2, moved.stdout
    assert sql("SELECT name FROM restored.t") == "one\n"
    assert hosts.ssh("h2", "gzip -t /root/appdb.sql.gz && ls /root").stdout.split() == ["app.cnf", "appdb.sql.gz"]
    # replication: the server is a primary (log-bin); made a replica of a primary that is not there
    repl = play("h2", """
    - mysql_replication: {mode: getprimary}
      register: primary
    - mysql_replication: {mode: changeprimary, master_host: 127.0.0.1, master_port: 1, master_user: repl, master_password: repl-secret, master_log_file: "{{ primary.File }}", master_log_pos: "{{ primary.Position }}"}
      register: changed
    - mysql_replication: {mode: getreplica}
      register: replica
    - assert:
        that:
          - primary.Is_Primary and primary.File.startswith('mysql-bin.')
          - changed is changed and 'repl-secret' not in changed.queries[0]
          - replica.Is_Replica and replica.Master_Host == '127.0.0.1' and replica.Master_Port == 1
    - mysql_replication: {mode: resetreplicaall}
    - mysql_replication: {mode: getreplica}
      register: after
    - assert: {that: [not after.Is_Replica]}
    """)  # fmt: skip
    assert repl.returncode == 0, repl.stdout
    assert "repl-secret" not in repl.stdout + repl.stderr
    checked = play("h2", "- mysql_replication: {mode: getreplica}", "--check")
    assert checked.returncode == 0 and re.search(r"h2 .*skipped=1", checked.stdout), checked.stdout
    # bad input names the key and the task's place; a bad privilege string fails before any change
    bad = play("h2", "- mysql_user: {nam: x}")
    assert bad.returncode != 0 and "nam" in bad.stdout + bad.stderr and "play" in bad.stdout + bad.stderr
    bad_priv = play("h2", "- mysql_user: {name: y, priv: 'appdb.*:SELECT;DROP', column_case_sensitive: false}")
    assert bad_priv.returncode == 2 and "Invalid privileges" in bad_priv.stdout, bad_priv.stdout
    assert sql("SELECT COUNT(*) FROM mysql.user WHERE user = 'y'") == "0\n"
    dropped = play("h2", "- mysql_user: {name: app, host: '%', state: absent}\n- mysql_db: {name: [appdb, restored], state: absent}")
    assert dropped.returncode == 0 and recap(dropped.stdout, "h2")["changed"] == 2, dropped.stdout
    assert sql("SELECT COUNT(*) FROM mysql.user WHERE user = 'app'") == "0\n"
    hosts.ssh("h2", "service mariadb stop >/dev/null", check=True)  # no server left behind for other tests
