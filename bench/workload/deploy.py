"""The benchmark workload as a pyinfra deploy: the same work as site.yml, task for task.

Run by bench/ as `pyinfra <inventory.py> deploy.py -y --parallel N`. The values come from
site.yml's play vars, so the two definitions cannot drift apart.
"""

from io import StringIO
from pathlib import Path

import yaml
from pyinfra import host
from pyinfra.facts.files import File
from pyinfra.operations import apt, files, server

HERE = Path(__file__).resolve().parent
PLAY = yaml.safe_load((HERE / "site.yml").read_text())[0]
V = PLAY["vars"]
ROOT = V["app_root"]
TEMPLATE_VARS = {"app_name": V["app_name"], "app_env": V["app_env"], "inventory_hostname": host.name}

server.group(name="app group", group="shop", gid=2001)
server.user(
    name="app user", user="shop", uid=2001, group="shop", home=ROOT, shell="/bin/sh", create_home=False
)
for path in (ROOT, f"{ROOT}/releases", f"{ROOT}/shared", f"{ROOT}/bin", "/var/log/shop"):
    files.directory(name=f"app directory {path}", path=path, user="shop", group="shop", mode="755")
files.template(
    name="environment file",
    src=str(HERE / "templates/env.j2"),
    dest=f"{ROOT}/shared/.env",
    user="shop",
    group="shop",
    mode="600",
    **TEMPLATE_VARS,
)
files.template(
    name="log rotation",
    src=str(HERE / "templates/logrotate.j2"),
    dest="/etc/logrotate.d/shop",
    user="root",
    group="root",
    mode="644",
    **TEMPLATE_VARS,
)
for script in ("healthcheck.sh", "backup.sh", "rotate-secrets.sh"):
    files.put(
        name=f"app script {script}",
        src=str(HERE / "files" / script),
        dest=f"{ROOT}/bin/{script}",
        user="shop",
        group="shop",
        mode="755",
    )
files.put(
    name="login banner",
    src=StringIO(f"This host runs {V['app_name']}. Managed centrally; local changes are overwritten.\n"),
    dest="/etc/motd",
    mode="644",
)
for line in ("shop soft nofile 65536", "shop hard nofile 65536"):
    files.line(name=f"open file limit: {line}", path="/etc/security/limits.conf", line=line)
files.line(
    name="database host entry", path="/etc/hosts", line=r"\sdb\.internal$", replace="10.20.0.5 db.internal"
)
files.link(name="current release link", path=f"{ROOT}/current", target=f"{ROOT}/releases")
server.crontab(
    name="nightly backup",
    cron_name="shop backup",
    user="shop",
    minute="15",
    hour="3",
    command=f"{ROOT}/bin/backup.sh",
)
server.crontab(
    name="health check every five minutes",
    cron_name="shop healthcheck",
    user="shop",
    minute="*/5",
    command=f"{ROOT}/bin/healthcheck.sh",
)
# pyinfra has no `creates`: its idiom is a fact checked while the deploy is prepared.
if not host.get_fact(File, path=f"{ROOT}/releases/.initialized"):
    server.shell(name="first release marker", commands=[f"touch {ROOT}/releases/.initialized"])
apt.packages(name="base packages", packages=["curl", "cron", "logrotate"], present=True)
server.shell(
    name="health check script is executable", commands=[f"test -x {ROOT}/bin/healthcheck.sh && echo ok"]
)
