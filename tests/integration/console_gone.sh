#!/usr/bin/env bash
# The console's reader goes away (core/chardev.h, "Console gone"): vmon
# ignores SIGPIPE, says once that the console is gone, stops the VM as
# SIGTERM would — status 141, socket files removed, the terminal restored
# — instead of dying silently. And a file: FIFO console works while it has
# a reader.
source "$(dirname "$0")/../lib.sh"

HELLO=$GUESTS/hello.elf
LOTS="--cmdline lines=1000000" # far more output than any pipe buffer

# gone_ok NAME STATUS ERRFILE: status 141, one stderr line saying why, and
# the vsock socket file gone.
gone_ok() {
	local name=$1 st=$2 err=$3
	if [ "$st" -ne 141 ]; then
		fail "$name" "status $st (want 141); stderr: $(head -c 300 "$err" | tr '\n' ' ')"
	elif [ "$(wc -l <"$err")" -ne 1 ] || ! grep -q '^vmon: console output .* closed: broken pipe; stopping the VM$' "$err"; then
		fail "$name" "want one 'broken pipe' line: $(head -c 300 "$err" | tr '\n' ' ')"
	elif [ -e "$TMP/v.sock" ]; then
		fail "$name" "the vsock socket file was left behind"
	else
		pass "$name"
	fi
}

# fifo_reader FIFO OUT MAX: reads FIFO into OUT (at most MAX bytes, -1:
# all) in the background; returns once it has the FIFO open (so a writer
# opening it non-blocking finds a reader); sets $reader.
cat >"$TMP/reader.py" <<'PY'
import os, select, sys
path, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a reader from now on
open(out + ".ready", "w").close()
os.set_blocking(fd, True)
p = select.poll()
p.register(fd, select.POLLIN)
p.poll()  # a writer came (wrote, or came and went)
got = b""
while limit < 0 or len(got) < limit:
    chunk = os.read(fd, 65536 if limit < 0 else limit - len(got))
    if not chunk:
        break
    got += chunk
open(out, "wb").write(got)
PY
fifo_reader() {
	rm -f "$2.ready"
	python3 "$TMP/reader.py" "$@" &
	reader=$!
	for _ in $(seq 100); do [ -e "$2.ready" ] && return; sleep 0.05; done
}

for b in $(usable_backends); do
	V="$VMON run --backend $b --kernel $HELLO --vsock 3,unix:$TMP/v.sock"

	# stdout is a pipe whose reader leaves after 20 bytes.
	timeout -k 5 "$TEST_TIMEOUT" $V $LOTS </dev/null 2>"$TMP/pipe.err" | head -c 20 >"$TMP/pipe.out"
	st=${PIPESTATUS[0]}
	gone_ok console-gone-$b-stdout-pipe "$st" "$TMP/pipe.err"
	rm -f "$TMP/v.sock"

	# The same on a terminal: raw mode is undone on the way out.
	if command -v script >/dev/null; then
		timeout -k 5 "$TEST_TIMEOUT" script -qec \
			"stty -g; $V $LOTS 2>/dev/null | head -c 20 >/dev/null; stty -g" /dev/null \
			</dev/null >"$TMP/stty.out" 2>&1
		before=$(tr -d '\r' <"$TMP/stty.out" | grep -E '^[0-9a-f]+(:[0-9a-f]+)+$' | sed -n 1p)
		after=$(tr -d '\r' <"$TMP/stty.out" | grep -E '^[0-9a-f]+(:[0-9a-f]+)+$' | sed -n 2p)
		if [ -n "$before" ] && [ "$before" = "$after" ]; then
			pass console-gone-$b-terminal-restored
		else
			fail console-gone-$b-terminal-restored "before '$before' after '$after'"
		fi
	else
		skip console-gone-$b-terminal-restored "script(1) from util-linux is not installed"
	fi
	rm -f "$TMP/v.sock"

	# --serial file:FIFO: a reader gets everything...
	rm -f "$TMP/fifo" && mkfifo "$TMP/fifo"
	fifo_reader "$TMP/fifo" "$TMP/fifo.out" -1
	run_vmon "$TMP/run.out" "$TMP/run.err" run --backend $b --kernel "$HELLO" --serial "file:$TMP/fifo"
	wait "$reader"
	expect_success console-fifo-$b-reader-gets-output "$TMP/fifo.out" "$TMP/run.err"
	# ...and a reader that leaves early is a console gone, like a pipe.
	fifo_reader "$TMP/fifo" "$TMP/fifo20.out" 20
	timeout -k 5 "$TEST_TIMEOUT" $V $LOTS --serial "file:$TMP/fifo" </dev/null >/dev/null 2>"$TMP/fifo.err"
	st=$?
	wait "$reader"
	gone_ok console-gone-$b-fifo-reader-left "$st" "$TMP/fifo.err"
	rm -f "$TMP/v.sock"
done
