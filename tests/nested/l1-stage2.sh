#!/bin/bash
# Stage 2 of L1's init (tests/nested/l1-init switches to it in the overlay
# root): mounts what the tests need (tmpfs /tmp and /run, devpts,
# /dev/shm, /dev/fd, cgroup2 on /sys/fs/cgroup), brings up lo, then runs tests/nested/suite.sh with
# the scripts named by vmon.tests=a,b,... on the kernel command line, and
# the checks of L1's own state (l1-checks.sh) before and after. All output
# goes to ttyS1 for the host harness (tests/nested/run.sh), with a
# heartbeat line every 10 s so it can tell a stalled outer QEMU from a
# slow test. Powers L1 off at the end.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
# Everything runs emulated twice over (TCG under L1's KVM): the scripts'
# per-VM time limits, sized for a host's KVM or software CPU, get room.
export TEST_TIMEOUT=600 LINUX_EMU_LIMIT=600 LINUX_VIRTIO_LIMIT=900
exec >/dev/ttyS1 2>&1
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# What systemd mounts on a host: the cgroup v2 hierarchy. The jailer
# (jailer.sh) puts each jail in a cgroup of its own and refuses to run
# without one ("no cgroup file system is mounted").
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# What udev would make: bash's <(...) needs /dev/fd.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
ip link set lo up
echo vmon-l1 >/proc/sys/kernel/hostname

(while sleep 10; do echo VMON-NESTED-ALIVE; done) &
beat=$!

# For the log (results.log) only: how L1 set up its clocks under TCG, and
# where its kernel text is (KASLR), to read a hang report's RIPs.
dmesg | grep -iE 'tsc|apic|clocksource|hpet|calibrat|clockevent' | sed 's/^/L1-DIAG: /'
sed -n 's/^\([0-9a-f]*\) T _text$/L1-DIAG: _text at \1/p' /proc/kallsyms

tests=$(sed -n 's/.*vmon\.tests=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
# make bench-kvm's guest sizes and chains (suite.sh's bench-migration-kvm).
BENCH_SIZES=$(sed -n 's/.*vmon\.bench_sizes=\([^ ]*\).*/\1/p' /proc/cmdline)
BENCH_CHAINS=$(sed -n 's/.*vmon\.bench_chains=\([^ ]*\).*/\1/p' /proc/cmdline)
export BENCH_SIZES BENCH_CHAINS BENCH_TIME_SCALE=4
cd /vmon
bash tests/nested/l1-checks.sh before
# shellcheck disable=SC2086 # a list of names
NESTED_RETRY=1 bash tests/nested/suite.sh $tests
bash tests/nested/l1-checks.sh after
kill "$beat" 2>/dev/null
echo VMON-NESTED-DONE
sync
echo o >/proc/sysrq-trigger
sleep 60
