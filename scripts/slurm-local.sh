#!/bin/sh
# slurm-local.sh: bring up (or down) a one-node Slurm cluster on this machine, for loom's
# Slurm sweep test and for trying `loom sweep --slurm` by hand. Not a production setup.
#
#   scripts/slurm-local.sh start    install if missing, start munged, slurmctld, slurmd (as root)
#   scripts/slurm-local.sh stop     stop the daemons this script started
#   scripts/slurm-local.sh status   print the node state
#   scripts/slurm-local.sh env      print `export SLURM_CONF=...` for the clients
#
# The configuration lives in $LOOM_SLURM_DIR (default /tmp/loom-slurm): slurm.conf with
# SlurmctldHost and one node equal to this host, ProctrackType=proctrack/linuxproc,
# TaskPlugin=task/none, no cgroup plugin. Exit status 0 when the node is idle, 1 otherwise,
# 3 when the daemons cannot run here (no root, no packages and no apt-get).
set -u

DIR=${LOOM_SLURM_DIR:-/tmp/loom-slurm}
CONF=$DIR/etc/slurm.conf
WAIT=${LOOM_SLURM_WAIT:-60}

say() { echo "slurm-local: $*" >&2; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        say "must run as root to start munged, slurmctld and slurmd"
        exit 3
    fi
}

install_packages() {
    if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 &&
        command -v sbatch >/dev/null 2>&1 && command -v munged >/dev/null 2>&1; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        say "slurm-wlm and munge are not installed and there is no apt-get"
        exit 3
    fi
    say "installing slurm-wlm and munge"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >&2 ||
        { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends slurm-wlm munge >&2; } ||
        { say "cannot install slurm-wlm munge"; exit 3; }
}

# munged with the Debian key (created when missing); started only when none is running.
start_munge() {
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 2>/dev/null
        chmod 400 /etc/munge/munge.key
        id munge >/dev/null 2>&1 && chown -R munge:munge /etc/munge
    fi
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        return 0
    fi
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    if id munge >/dev/null 2>&1; then
        chown munge:munge /run/munge /var/lib/munge /var/log/munge
        chmod 755 /run/munge
        runuser -u munge -- /usr/sbin/munged || { say "munged did not start"; exit 3; }
    else
        /usr/sbin/munged --force || { say "munged did not start"; exit 3; }
    fi
    touch "$DIR/munged.ours"
    i=0
    while ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt 50 ] && { say "munged does not answer"; exit 3; }
        sleep 0.2
    done
}

write_conf() {
    host=$(hostname -s)
    # slurmd -C reports this node's CPUs, sockets, cores, threads and memory as Slurm sees them.
    node=$(slurmd -C 2>/dev/null | grep '^NodeName=' | sed "s/^NodeName=[^ ]*//; s/ UpTime=.*//")
    if [ -z "$node" ]; then
        node="CPUs=$(nproc) RealMemory=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)"
    fi
    mkdir -p "$DIR/etc" "$DIR/state" "$DIR/spool" "$DIR/log"
    cat >"$CONF" <<EOF
# written by loom scripts/slurm-local.sh: one node, this host
ClusterName=loom
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    # Clients read /etc/slurm/slurm.conf unless SLURM_CONF says otherwise: point it at ours
    # when the machine has none, so plain `sbatch` works after `start`.
    if [ ! -e /etc/slurm/slurm.conf ] && [ -d /etc/slurm ]; then
        ln -s "$CONF" /etc/slurm/slurm.conf && touch "$DIR/etc-link.ours"
    fi
}

node_state() {
    SLURM_CONF=$CONF sinfo -h -N -o '%T' 2>/dev/null | head -1
}

daemon_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
    need_root
    install_packages
    mkdir -p "$DIR"
    start_munge
    write_conf
    export SLURM_CONF=$CONF
    if ! daemon_alive "$DIR/slurmctld.pid"; then
        slurmctld -c -f "$CONF" || { say "slurmctld did not start (see $DIR/log/slurmctld.log)"; exit 3; }
    fi
    if ! daemon_alive "$DIR/slurmd.pid"; then
        slurmd -f "$CONF" || { say "slurmd did not start (see $DIR/log/slurmd.log)"; exit 3; }
    fi
    i=0
    while :; do
        state=$(node_state)
        case $state in
        idle* | mixed* | allocated*) break ;;
        down* | drain*) scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null ;;
        esac
        i=$((i + 1))
        if [ $i -gt $((WAIT * 2)) ]; then
            say "node not idle after ${WAIT}s (state '${state:-none}'; logs in $DIR/log)"
            exit 1
        fi
        sleep 0.5
    done
    say "one-node cluster up: node $(hostname -s) $state; export SLURM_CONF=$CONF"
}

stop_daemon() {
    pidfile=$1
    if daemon_alive "$pidfile"; then
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
            sleep 0.2
            i=$((i + 1))
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
}

stop() {
    stop_daemon "$DIR/slurmd.pid"
    stop_daemon "$DIR/slurmctld.pid"
    if [ -e "$DIR/munged.ours" ]; then
        stop_daemon /run/munge/munged.pid
        rm -f "$DIR/munged.ours"
    fi
    if [ -e "$DIR/etc-link.ours" ]; then
        [ -L /etc/slurm/slurm.conf ] && rm -f /etc/slurm/slurm.conf
        rm -f "$DIR/etc-link.ours"
    fi
    say "stopped"
}

case ${1:-} in
start) start ;;
stop) stop ;;
status)
    state=$(node_state)
    echo "${state:-down}"
    [ -n "$state" ]
    ;;
env) echo "export SLURM_CONF=$CONF" ;;
*)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
