# Shared helpers for vmon's integration tests (sourced, bash).
# Each test prints exactly one line: "PASS name", "FAIL name: why" or
# "SKIP name: why"; tests/run.sh counts them.

BUILD=${BUILD:-build}
VMON=${VMON:-$BUILD/vmon}
GUESTS=${GUESTS:-$BUILD/guests}
TMP=$(mktemp -d /tmp/vmon-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# Every VM registers in a runtime directory (docs/api.md): the tests' own.
export VMON_RUNTIME_DIR="$TMP/run"
# Generous: the host's software-emulated KVM runs ~0.6 us per instruction.
TEST_TIMEOUT=${TEST_TIMEOUT:-120}

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }

# skip_all REASON: skips every check the script lists in NAMES, for
# REASON, and ends the script (a missing tool or guest file).
skip_all() {
	local n
	for n in "${NAMES[@]}"; do skip "$n" "$1"; done
	exit 0
}

# need_guest_files FILE...: skip_all unless the Linux guest directory $G
# holds every FILE (relative paths: bzImage, tools/pattern...).
need_guest_files() {
	local f
	for f; do [ -f "$G/$f" ] || skip_all "no $G/$f (run make guest)"; done
}

# run_vmon OUTFILE ERRFILE ARGS... : runs vmon with a timeout, stdin from
# /dev/null; sets $status.
run_vmon() {
	local out=$1 err=$2
	shift 2
	timeout -k 5 "$TEST_TIMEOUT" "$VMON" "$@" </dev/null >"$out" 2>"$err"
	status=$?
}

# expect_success NAME OUT ERR : the guest printed SUCCESS and vmon exited 0.
expect_success() {
	local name=$1 out=$2 err=$3
	if [ "$status" -ne 0 ]; then
		fail "$name" "exit status $status; stderr: $(head -c 300 "$err" | tr '\n' ' ')"
	elif ! grep -qx 'SUCCESS' <(tr -d '\r' <"$out"); then
		fail "$name" "no SUCCESS line; output: $(tail -c 300 "$out" | tr '\n' ' ')"
	else
		pass "$name"
	fi
}

have_kvm() { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

# The CPU backends this host can run kit guests on: vmon's software CPU
# always, KVM where /dev/kvm is usable (make test-kvm runs the KVM side
# under nested virtualization where the host has none). BACKENDS="..."
# overrides. Tests that boot a kit guest loop over this list and put the
# backend in every test name.
usable_backends() {
	if [ -n "${BACKENDS:-}" ]; then
		echo "$BACKENDS"
	elif have_kvm; then
		echo "emu kvm"
	else
		echo "# kvm: /dev/kvm is not usable here; these checks run on the software CPU" \
			"(make test-kvm runs them on KVM)" >&2
		echo emu
	fi
}
