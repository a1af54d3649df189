#!/usr/bin/env bash
# slurm-deps.sh STAMP  installs Slurm 22.05 and MUNGE from Debian (slurmctld,
# slurmd, slurm-client, munge) for e2e/slurm_test.go, which runs its own
# single-node cluster in a temp folder, and touches STAMP once they are
# there. It never fails `make deps`: when the packages cannot be installed
# it says why, leaves STAMP absent so that every `make deps` (and so every
# `make test`) says it again, and the test skips with the reason. A failed
# apt-get is not retried each time: its reason is kept in
# STAMP's .unavailable file until that is removed.
# The system's own munged, slurmctld and slurmd are neither started nor
# enabled: the test starts private ones, and a box that runs make deps must
# not become a cluster node.
set -uo pipefail
stamp=${1:?usage: slurm-deps.sh STAMP}
note=${stamp%.ok}.unavailable
mkdir -p "$(dirname "$stamp")"
pkgs=(slurmctld slurmd slurm-client munge)
bins=(/usr/sbin/slurmctld /usr/sbin/slurmd /usr/bin/sbatch /usr/bin/squeue /usr/bin/scancel /usr/bin/scontrol /usr/bin/sinfo /usr/sbin/munged)

have() {
  local b
  for b in "${bins[@]}"; do [ -x "$b" ] || return 1; done
}
unavailable() {
  echo "slurm-deps: $*; the Slurm e2e test (TestSlurm) will skip" >&2
  exit 0
}

if have; then
  rm -f "$note"
  touch "$stamp"
  exit 0
fi
[ "$(id -u)" = 0 ] || unavailable "not root, so not installing; run: sudo apt-get install -y ${pkgs[*]}"
command -v apt-get >/dev/null || unavailable "no apt-get (not Debian): install ${pkgs[*]} by hand"
[ -e "$note" ] && unavailable "$(cat "$note") (rm $note to try again)"

# postinst scripts start services through invoke-rc.d or deb-systemd-invoke,
# both of which ask policy-rc.d; 101 means "not now". An existing policy (a
# Docker image has one) is left alone and the check below still runs.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
fi
daemons() { { pgrep -x munged; pgrep -x slurmctld; pgrep -x slurmd; } | sort; }
before=$(daemons)

echo "slurm-deps: installing ${pkgs[*]} (apt-get)" >&2
ok=1
apt-get update -qq || ok=
if [ -n "$ok" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "${pkgs[@]}" >/dev/null || ok=
fi
[ -n "$own_policy" ] && rm -f "$policy"

# Whatever the install started despite the policy is stopped by its pid:
# only daemons that were not running before and run on the system's
# configuration (a test's private ones are given -f or --socket).
for pid in $(comm -13 <(echo "$before") <(daemons)); do
  tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | grep -qE -- ' (-f|--socket)' && continue
  echo "slurm-deps: stopping $(cat /proc/"$pid"/comm 2>/dev/null) (pid $pid), started by the install" >&2
  kill "$pid" 2>/dev/null
done
# On systemd, postinst also enables the units for the next boot.
if [ -d /run/systemd/system ] && command -v deb-systemd-helper >/dev/null; then
  deb-systemd-helper disable munge.service slurmctld.service slurmd.service >/dev/null 2>&1
fi

if [ -z "$ok" ]; then
  echo "apt-get could not install ${pkgs[*]}" >"$note"
  unavailable "$(cat "$note")"
fi
have || unavailable "installed ${pkgs[*]}, but one of ${bins[*]} is missing"
touch "$stamp"
