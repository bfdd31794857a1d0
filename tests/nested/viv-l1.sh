#!/bin/bash
# Inside L1 for vmon-in-vmon (tests/integration/vmon_in_vmon.sh; started
# by viv-init): L1 runs on vmon's software CPU (AMD SVM), its /dev/kvm is
# kvm_amd on it, and the vmon of L1's root image runs guests on that KVM.
# Prints "VIV-RESULT PASS|FAIL|SKIP name[: why]" lines on the console for
# the outer test, then VIV-DONE, and powers L1 off. The kernel command
# line's viv.linux=1 adds a Linux guest (the default guest) after the kit
# guests.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd
echo VIV-L1-STAGE2
V=/vmon/build/vmon
G=/vmon/build/guests
# viv.limit=SECONDS on the kernel command line: each inner VM's time limit.
LIMIT=$(sed -n 's/.*viv\.limit=\([0-9]*\).*/\1/p' /proc/cmdline)
LIMIT=${LIMIT:-300}
res() {
	local v=$1 n=$2
	shift 2
	echo "VIV-RESULT $v $n${1:+: $*}"
}
finish() {
	dmesg | grep -iE 'kvm|svm|unchecked msr|WARNING|BUG|Call Trace' | head -n 40 | sed 's/^/VIV-DMESG: /'
	echo VIV-DONE
	sync
	echo o >/proc/sysrq-trigger
	sleep 60
}

# How L1's kernel learned the TSC frequency (no tsc_early_khz=: the PIT,
# else the ACPI PM timer; then refined against the PM timer).
dmesg | grep -E 'tsc: |PM-Timer|TSC unstable' | sed 's/^/VIV-TSC: /'
if grep -qw svm /proc/cpuinfo && grep -q AuthenticAMD /proc/cpuinfo; then
	res PASS l1-cpu-amd-svm
else
	res FAIL l1-cpu-amd-svm "cpuinfo: $(grep -m1 -E 'vendor_id' /proc/cpuinfo)"
fi
if [ -d /sys/module/kvm_amd ] && [ -c /dev/kvm ]; then
	res PASS l1-kvm-amd
else
	res FAIL l1-kvm-amd "no kvm_amd or /dev/kvm: $(dmesg | grep -iE 'kvm|svm' | tail -n 5 | tr '\n' ' ')"
	finish
fi

# kit_run NAME GUEST ARGS...: a kit guest on L1's KVM prints SUCCESS, vmon exits 0.
kit_run() {
	local name=$1 guest=$2 start=$SECONDS
	shift 2
	timeout -k 5 "$LIMIT" "$V" run --backend kvm --no-api --kernel "$G/$guest.elf" "$@" \
		</dev/null >"/tmp/$name.out" 2>"/tmp/$name.err"
	local rc=$?
	echo "VIV-TIME $name $((SECONDS - start)) s"
	if [ $rc -eq 0 ] && tr -d '\r' <"/tmp/$name.out" | grep -qx SUCCESS; then
		res PASS "$name"
	else
		res FAIL "$name" "status $rc; out: $(tail -c 200 "/tmp/$name.out" | tr '\n' ' ') err: $(head -c 200 "/tmp/$name.err" | tr '\n' ' ')"
	fi
}
# viv.kits=a,b (debugging): only those kit runs. viv.trace=1: the KVM
# tracepoints of each kit run, last lines on the console.
KITS=$(sed -n 's/.*viv\.kits=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
TRACE=/sys/kernel/tracing
if grep -q 'viv.trace=1' /proc/cmdline; then
	mount -t tracefs tracefs $TRACE 2>/dev/null
	echo 1 >$TRACE/events/kvm/enable
	echo 8192 >$TRACE/buffer_size_kb
fi
kit() {
	if [ -n "$KITS" ] && ! [[ " $KITS " == *" ${1#kvm-} "* ]]; then
		return
	fi
	[ -f $TRACE/trace ] && echo >$TRACE/trace
	kit_run "$@"
	if [ -f $TRACE/trace ]; then
		grep -v '^#' $TRACE/trace | grep -vE 'kvm_fpu|kvm_pio|KVM_EXIT_IO|reason io ' >/tmp/trace
		{ head -n 60 /tmp/trace; echo ...; tail -n 40 /tmp/trace; } | sed "s/^/VIV-TRACE $1: /"
	fi
}
kit kvm-hello hello --mem 32M
kit kvm-compute compute --mem 32M --cmdline iters=2000
kit kvm-exceptions exceptions --mem 32M
kit kvm-exitstorm exitstorm --mem 32M --cmdline n=200
kit kvm-timer timer --mem 32M

if grep -q 'viv.linux=1' /proc/cmdline; then
	# The default guest (Debian's kernel, busybox initramfs) on L1's KVM:
	# boots to its shell, runs a command, powers off.
	# shellcheck disable=SC2016 # expanded by the inner guest's shell
	printf '%s\n' 'echo "INNER-RELEASE=$(uname -r)"' 'poweroff -f' >/tmp/linux.in
	start=$SECONDS
	timeout -k 5 "${VIV_LINUX_LIMIT:-900}" "$V" run --backend kvm --no-api --mem 256M \
		--kernel /vmon/build/guest/bzImage --initrd /vmon/build/guest/initramfs.cpio.gz \
		--cmdline "console=ttyS0 quiet" </tmp/linux.in >/tmp/linux.out 2>/tmp/linux.err
	rc=$?
	echo "VIV-TIME kvm-linux-shell $((SECONDS - start)) s"
	want=$(cat /vmon/build/guest/kernel-release)
	if tr -d '\r' </tmp/linux.out | grep -qx "INNER-RELEASE=$want"; then
		res PASS kvm-linux-shell
	else
		res FAIL kvm-linux-shell "status $rc; out: $(tail -c 300 /tmp/linux.out | tr '\n' ' ') err: $(head -c 200 /tmp/linux.err | tr '\n' ' ')"
	fi
else
	res SKIP kvm-linux-shell "left out (VIV_LINUX=0)"
fi
finish
