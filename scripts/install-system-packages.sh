#!/usr/bin/env bash
# Installs the Debian packages the tests run against, when any is missing (idempotent):
#   - podman with runc (crun fails on hybrid cgroup hosts; the podman backend's own
#     containers.conf selects runc and sets the ulimits), its networking and fuse-overlayfs;
#   - nftables and iproute2: the podman backend's OCI hook loads each workspace's egress rules
#     with `nft` into the container's network namespace, with the host's addresses (`ip`);
#   - busybox-static (the test image's root filesystem), docker-registry (a local registry
#     the tests start on 127.0.0.1), git (also copied into the clone tests' image, and served
#     over HTTPS by `git http-backend`) and openssl (that server's certificate);
#   - PostgreSQL, for the store conformance and replica tests (scripts/postgres.sh starts a
#     throwaway cluster of it);
#   - OpenSSH's client, server and sftp-server, and rsync: the SSH tests run the real `ssh`,
#     `scp`, `sftp` and `rsync` against the server, copy the client and sftp-server into their
#     test image, and start a throwaway `sshd` on loopback for the agent test;
#   - chromium: the web console's tests drive it headless with Playwright (its Python
#     package is in tests/tools/requirements.txt; no browser is downloaded).
# Needs root (CI runs as root); otherwise it prints the apt-get command and fails.
set -euo pipefail
packages=(podman runc uidmap slirp4netns netavark aardvark-dns conmon containernetworking-plugins
  fuse-overlayfs catatonit nftables iproute2 busybox-static docker-registry git openssl postgresql
  openssh-client openssh-server openssh-sftp-server rsync chromium)
missing=()
for tool in podman runc nft ip docker-registry git openssl ssh rsync; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -x /bin/busybox ] || missing+=(busybox-static)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/sshd ] && [ -x /usr/lib/openssh/sftp-server ] || missing+=(openssh-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
command=(apt-get install -y --no-install-recommends "${packages[@]}")
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: ${missing[*]}; install them as root: apt-get update && ${command[*]}" >&2
  exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive "${command[@]}"
