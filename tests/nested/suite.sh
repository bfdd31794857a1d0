#!/usr/bin/env bash
# Runs the integration scripts named on the command line (tests/integration/
# NAME.sh) as the KVM tests of `make test-kvm`: inside the nested L1
# machine, or directly on a host with VT-x/AMD-V. Each script's output is
# framed by "VMON-NESTED-BEGIN NAME" and "VMON-NESTED-END NAME STATUS
# SECONDS" lines for tests/nested/run.sh. The scripts are the checks; this
# only chooses their knob: BACKENDS=kvm (tests/lib.sh, usable_backends), so
# the scripts that loop over the backends run their kit guests on KVM only
# -- the software CPU's runs are make test's. (kit_matrix.sh compares both
# backends whatever BACKENDS says.)
set -u
cd "$(dirname "$0")/../.."
for t in "$@"; do
	echo "VMON-NESTED-BEGIN $t"
	t0=$(date +%s)
	BACKENDS=${BACKENDS:-kvm} bash "tests/integration/$t.sh" 2>&1
	echo "VMON-NESTED-END $t $? $(($(date +%s) - t0))"
done
