#!/usr/bin/env bash
# Runs the integration scripts named on the command line (tests/integration/
# NAME.sh) as the KVM tests of `make test-kvm`: inside the nested L1
# machine, or directly on a host with VT-x/AMD-V. Each script's output is
# framed by "VMON-NESTED-BEGIN NAME" and "VMON-NESTED-END NAME STATUS
# SECONDS" lines for tests/nested/run.sh. The scripts are the checks; this only
# chooses their knobs:
#   kit_backends: BACKENDS=kvm (the software CPU's run is make test's).
set -u
cd "$(dirname "$0")/../.."
for t in "$@"; do
	echo "VMON-NESTED-BEGIN $t"
	t0=$(date +%s)
	case $t in
	kit_backends) env BACKENDS=kvm bash "tests/integration/$t.sh" 2>&1 ;;
	*) bash "tests/integration/$t.sh" 2>&1 ;;
	esac
	echo "VMON-NESTED-END $t $? $(($(date +%s) - t0))"
done
