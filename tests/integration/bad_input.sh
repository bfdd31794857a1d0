#!/usr/bin/env bash
# Bad input from the user or the host: each case must print exactly one
# line on stderr, starting with "vmon: ", and exit with status 2 — never a
# crash, never a silent fallback.
source "$(dirname "$0")/../lib.sh"

HELLO=$GUESTS/hello.elf
MKELF="python3 $(dirname "$0")/mkelf.py"

# bad NAME PATTERN ARGS... : vmon ARGS must fail as described.
bad() {
	local name=$1 pattern=$2
	shift 2
	timeout -k 5 60 "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
	local rc=$? lines
	lines=$(wc -l <"$TMP/err")
	if [ "$rc" -ne 2 ]; then
		fail "bad-input-$name" "status $rc (want 2); stderr: $(head -c 300 "$TMP/err" | tr '\n' ' ')"
	elif [ "$lines" -ne 1 ] || ! grep -q '^vmon: ' "$TMP/err"; then
		fail "bad-input-$name" "want one 'vmon:' line, got $lines: $(head -c 300 "$TMP/err" | tr '\n' ' ')"
	elif ! grep -qiE "$pattern" "$TMP/err"; then
		fail "bad-input-$name" "message does not say '$pattern': $(cat "$TMP/err")"
	else
		pass "bad-input-$name"
	fi
}

# --backend kvm with a KVM device that does not exist: every case must be
# reported as the bad input it is, before vmon looks for KVM, on any host.
V="env VMON_KVM_DEVICE=/nonexistent/kvm $VMON run --backend kvm"

bad missing-kernel 'no-such.elf.*(no such file|not found|cannot)' $V --kernel "$TMP/no-such.elf"
bad kernel-is-directory 'directory' $V --kernel "$TMP"
head -c 4096 /dev/urandom >"$TMP/garbage.bin"
bad not-an-image 'not a|unsupported|unknown|recogni' $V --kernel "$TMP/garbage.bin"
printf '' >"$TMP/empty.bin"
bad empty-kernel 'empty' $V --kernel "$TMP/empty.bin"
head -c 200 "$HELLO" >"$TMP/truncated.elf"
bad truncated-elf 'truncat|beyond|short|malformed' $V --kernel "$TMP/truncated.elf"
$MKELF "$TMP/high.elf" 0xd0000000
bad segment-outside-ram 'outside|RAM' $V --kernel "$TMP/high.elf"
# Over both places vmon's boot area can take (0x1000 and 0x90000; an image
# over one of them moves it: boot_formats.sh).
$MKELF "$TMP/low.elf" 0x2000 0x9d000
bad segment-on-boot-area "leaves no room for vmon's boot area" $V --kernel "$TMP/low.elf"
bad mem-too-small 'outside|RAM|small|fit' $V --mem 1M --kernel "$HELLO"
bad mem-more-than-host 'more than|host' $V --mem 64T --kernel "$HELLO"
bad mem-unparsable 'not a size|unit|number' $V --mem 12X --kernel "$HELLO"
bad mem-zero 'more than 0|zero' $V --mem 0 --kernel "$HELLO"
bad cpus-zero 'out of range|cpus' $V --cpus 0 --kernel "$HELLO"
bad cpus-too-many 'out of range|cpus' $V --cpus 65 --kernel "$HELLO"
bad cpus-not-number 'not a number' $V --cpus two --kernel "$HELLO"
bad unknown-option 'unknown option' $V --frobnicate --kernel "$HELLO"
bad missing-value 'needs a value' $V --kernel
bad no-kernel 'no --kernel.*make guest' env VMON_GUEST_DIR="$TMP/no-guest" $V
bad bad-backend 'backend' $VMON run --backend quantum --kernel "$HELLO"
bad bad-serial 'serial|stdio|file|unix' $V --serial tty9 --kernel "$HELLO"
bad bad-debug-exit 'debug-exit' $V --debug-exit maybe --kernel "$HELLO"
bad missing-initrd 'initrd|no such' $V --kernel "$HELLO" --initrd "$TMP/no-such.img"
bad cmdline-too-long 'command line|cmdline|long' $V --kernel "$HELLO" --cmdline "$(head -c 5000 /dev/zero | tr '\0' x)"
bad unknown-command 'unknown command' $VMON frobnicate
bad kvm-absent '/nonexistent/kvm.*(no such|not)' env VMON_KVM_DEVICE=/nonexistent/kvm $V --kernel "$HELLO"
if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
	cp "$HELLO" "$TMP/hello-nobody.elf" && chmod 644 "$TMP/hello-nobody.elf" && chmod 755 "$TMP"
	if [ -e /dev/kvm ]; then
		bad kvm-not-permitted 'permission denied' \
			setpriv --reuid=65534 --regid=65534 --clear-groups $VMON run --backend kvm \
			--kernel "$TMP/hello-nobody.elf"
	else
		skip bad-input-kvm-not-permitted "no /dev/kvm on this host (its permission check is this test's subject)"
	fi
	chmod 000 "$TMP/hello-nobody.elf"
	bad kernel-unreadable 'permission denied' \
		setpriv --reuid=65534 --regid=65534 --clear-groups $V --kernel "$TMP/hello-nobody.elf"
else
	skip bad-input-kvm-not-permitted "needs root and setpriv to drop to an unprivileged user"
	skip bad-input-kernel-unreadable "needs root and setpriv to drop to an unprivileged user"
fi
# FIFOs where a file is needed: refused at once (open() must not wait for
# a writer that never comes; timeout turns a hang into a failure).
mkfifo "$TMP/fifo"
bad kernel-fifo "kernel '.*fifo': is a FIFO, not a regular file" $V --kernel "$TMP/fifo"
bad initrd-fifo "initrd '.*fifo': is a FIFO, not a regular file" $V --kernel "$HELLO" --initrd "$TMP/fifo"
bad kernel-char-device "not a regular file" $V --kernel /dev/zero

# vmon migrate's numbers are checked before it looks for the VM.
bad migrate-downtime-negative 'max-downtime: -3 is out of range' \
	$VMON migrate no-such-vm --to "unix:$TMP/m.sock" --max-downtime -3
bad migrate-bandwidth-word "bandwidth: 'fast' is not a number" \
	$VMON migrate no-such-vm --to "unix:$TMP/m.sock" --bandwidth fast
