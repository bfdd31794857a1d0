# vmon: GNU make build.
#   make            build/vmon and the test-guest kit (build/guests/*.elf)
#   make test       build and run every test; ends with "N passed, N failed"
#   make test-kvm   the KVM backend's tests on a real KVM (nested under QEMU
#                   where the host has none); TESTS="a b" picks scripts
#   make test-vmon-in-vmon  builds the nested L1 and runs it on vmon's
#                   software CPU (AMD SVM): kit guests and a Linux guest on
#                   its KVM (about a minute)
#   make bench      benchmarks against QEMU (never part of make test)
#   make bench-kvm  the live-migration bench's KVM rows (kvm→kvm, emu↔kvm)
#                   on a real KVM (nested under QEMU where the host has none)
#   make difftest   differential instruction tester, SEEDS=N CLASSES=a,b
#   make SANITIZE=1 ASan/UBSan build into build-san/
#   WERROR=0        do not turn warnings into errors

CC ?= gcc
WERROR ?= 1
SANITIZE ?= 0
BUILD ?= $(if $(filter 1,$(SANITIZE)),build-san,build)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARNINGS := -Wall -Wextra -Wshadow -Wformat=2 -Wundef -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wcast-align -Wvla -Wwrite-strings \
	-Wimplicit-fallthrough -Wno-unused-parameter
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu17 $(WARNINGS) -Isrc -I/usr/include/slirp -D_GNU_SOURCE -pthread \
	-DVMON_VERSION='"$(VERSION)"' -DVMON_GIT_REV='"$(GIT_REV)"' -MMD -MP
LDFLAGS += -pthread
LDLIBS += -lZydis -luring -lslirp -lmicrohttpd -ljansson -lcap-ng -lz -lzstd -lm
# seccomp-bpf filters (src/core/seccomp*.c)
LDLIBS += $(shell pkg-config --libs libseccomp 2>/dev/null || echo -lseccomp)
# TLS for the live-migration stream (src/vm/migrate_tls.c)
CFLAGS += $(shell pkg-config --cflags gnutls 2>/dev/null)
LDLIBS += $(shell pkg-config --libs gnutls 2>/dev/null || echo -lgnutls)

# V=1 shows full commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# Hardening: stack canaries, checked libc calls, read-only relocations and
# GOT (full RELRO, bound at start). _FORTIFY_SOURCE needs optimisation
# (glibc warns, -Werror fails, at -O0) and is left out of the ASan build,
# whose own checks of the same calls it would bypass.
CFLAGS += -fstack-protector-strong
ifneq ($(SANITIZE),1)
ifneq ($(filter-out -O0,$(filter -O%,$(CFLAGS))),)
CFLAGS += -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2
endif
endif
LDFLAGS += -Wl,-z,relro,-z,now

LIB_SRCS := $(filter-out src/cli/main.c,$(wildcard src/*/*.c src/*/*/*.c))
CLI_SRCS := src/cli/main.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
LIBVMON := $(BUILD)/libvmon.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all vmon guests test test-kvm test-vmon-in-vmon unit-tests bench bench-kvm clean format format-check setup guest fuzz difftest isa-check

all: vmon guests

vmon: $(BUILD)/vmon

$(BUILD)/vmon: $(CLI_OBJS) $(LIBVMON)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIBVMON): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# Unit tests: cmocka, linked against libvmon.a.
$(BUILD)/tests/%: tests/unit/%.c $(LIBVMON)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIBVMON) $(LDFLAGS) $(LDLIBS) -lcmocka

unit-tests: $(UNIT_BINS)

# The jail probe (tests/jail/probe.c): run by `vmon jail --test-exec` in
# place of vmon; static, since the jail holds only vmon's libraries.
JAIL_PROBE := $(BUILD)/tests/jail_probe
$(JAIL_PROBE): tests/jail/probe.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) -O2 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -static -o $@ $<

# The test-guest kit (freestanding, host gcc): see guests/guests.mk.
include guests/guests.mk

# The instruction-set workload (guests/isa_check): a static Linux program
# built for x86-64-v2 and for x86-64-v3 (+AES, PCLMUL), which
# tests/integration/linux_isa.sh runs in the Linux guest and on the host.
ISA_CHECK := $(BUILD)/isa-check/isa-check-v2 $(BUILD)/isa-check/isa-check-v3
$(BUILD)/isa-check/isa-check-v2: guests/isa_check/isa_check.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) -static -O3 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -march=x86-64-v2 -o $@ $< -lm
$(BUILD)/isa-check/isa-check-v3: guests/isa_check/isa_check.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) -static -O3 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -march=x86-64-v3 -maes -mpclmul -o $@ $< -lm
isa-check: $(ISA_CHECK)

test: all unit-tests test-images $(JAIL_PROBE) isa-check
	BUILD=$(BUILD) tests/run.sh

# The KVM backend's tests on a real KVM: on this host's /dev/kvm where it
# has VT-x/AMD-V, else in a nested L1 machine under QEMU TCG whose kvm_amd
# is real (tests/nested/README.md, docs/testing.md). TESTS="kit_backends
# linux_kvm" runs only those scripts of tests/integration/.
test-kvm: all test-images guest $(JAIL_PROBE)
	BUILD=$(BUILD) TESTS="$(TESTS)" tests/nested/run.sh

# vmon in vmon (tests/integration/vmon_in_vmon.sh): the nested L1 (built
# here as for test-kvm) on the software CPU with --cpu-features +svm,+amd,
# its kvm_amd running the kit guests and a Linux guest. make test runs the
# same script where build/nested exists (and skips it otherwise); this
# target fails on a FAIL line or when nothing passed.
test-vmon-in-vmon: all test-images guest
	BUILD=$(BUILD) scripts/make-nested.sh
	BUILD=$(BUILD) bash tests/integration/vmon_in_vmon.sh | tee $(BUILD)/vmon-in-vmon.log
	@! grep -q '^FAIL ' $(BUILD)/vmon-in-vmon.log && grep -q '^PASS ' $(BUILD)/vmon-in-vmon.log

bench: all
	BUILD=$(BUILD) bench/run.sh

# The KVM rows of the live-migration downtime bench (make bench skips them
# without a KVM that runs Linux), through make test-kvm's harness: on this
# host's KVM, else in the nested L1 (an L2 guest under TCG's emulated
# SVM: absolute times say little). BENCH_SIZES=256,2048 adds 2 GiB;
# BENCH_CHAINS=kvm or across runs one chain (in the nested L1 the across
# chain's guest does not boot: docs/performance.md). Output also in
# $(BUILD)/nested/bench.txt.
bench-kvm: all guest
	BUILD=$(BUILD) TESTS=bench-migration-kvm BENCH_SIZES="$(BENCH_SIZES)" \
		BENCH_CHAINS="$(BENCH_CHAINS)" NESTED_TIMEOUT=$${NESTED_TIMEOUT:-7200} \
		tests/nested/run.sh

# Differential instruction tester, longer runs: make difftest [SEEDS=N]
# [CLASSES=a,b] [FIRST_SEED=N] (see tests/difftest/README.md).
difftest: all
	python3 tests/difftest/run.py --build $(BUILD) --seeds $(or $(SEEDS),20) \
		--first-seed $(or $(FIRST_SEED),1) $(if $(CLASSES),--classes $(CLASSES))

guest:
	scripts/make-guest.sh

# libFuzzer harnesses (clang, ASan + UBSan): the virtio devices and the PCI
# host (configuration space, BAR moves, MSI-X table and PBA), about a
# minute, and the API's request handling: fixed runs from generated seeds
# (FUZZ_RUNS=N for more or less; FUZZ_MAX_SECONDS caps each on a slow
# machine). The one-line complaints about bad requests go to stderr, which
# the runs close.
FUZZ_CC ?= clang
FUZZ_RUNS ?= 500000
FUZZ_MAX_SECONDS ?= 120
FUZZ_BUILD := build-fuzz
FUZZ_SRCS := tests/fuzz/fuzz_virtio.c $(wildcard src/devices/virtio/*.c) src/devices/pci.c \
	src/core/guest_mem.c src/core/error.c src/core/bus.c $(wildcard src/core/chardev*.c) \
	src/core/event_loop.c src/core/thread.c src/core/vm_control.c src/core/ratelimit.c \
	src/core/log.c src/core/image_lock.c src/core/unix_listen.c src/core/rate_limiter.c \
	src/core/token_bucket.c src/core/guest_mem_discard.c src/core/guest_mem_dirty.c \
	src/core/state.c \
	src/core/seccomp.c src/core/seccomp_policy.c
FUZZ_FLAGS := -std=gnu17 -g -O1 -Isrc -I/usr/include/slirp -D_GNU_SOURCE -pthread \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
$(FUZZ_BUILD)/fuzz_virtio: $(FUZZ_SRCS) $(wildcard src/devices/virtio/*.h src/devices/*.h src/core/*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_SRCS) -luring -lslirp -lseccomp
# The others link the whole library: fuzz_api the API's request handling
# (the handlers reach the VM layer; run in a scratch directory with the
# seeds' files, bodies with absolute paths skipped, and where allowed a
# network namespace of its own, as a tap a request names is opened
# there), fuzz_vmstate the snapshot loader (vmstate framing, config, CPU
# and chip sections), fuzz_migrate the live-migration receiver (stream
# framing, page runs, the state's frame).
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRCS) $(wildcard src/*/*.h src/*/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -DVMON_VERSION='"$(VERSION)"' -DVMON_GIT_REV='"$(GIT_REV)"' \
		-o $@ $< $(LIB_SRCS) $(LDLIBS)
FUZZ_NETNS := $(shell unshare -n true 2>/dev/null && echo unshare -n)
fuzz: $(FUZZ_BUILD)/fuzz_virtio $(FUZZ_BUILD)/fuzz_api $(FUZZ_BUILD)/fuzz_vmstate \
		$(FUZZ_BUILD)/fuzz_migrate
	@rm -rf $(FUZZ_BUILD)/corpus && mkdir -p $(FUZZ_BUILD)/corpus
	python3 tests/fuzz/make_seeds.py $(FUZZ_BUILD)/corpus
	$(FUZZ_BUILD)/fuzz_virtio -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_MAX_SECONDS) -seed=1 \
		-max_len=8192 -close_fd_mask=2 -artifact_prefix=$(FUZZ_BUILD)/ \
		$(FUZZ_BUILD)/corpus
	@rm -rf $(FUZZ_BUILD)/api-corpus $(FUZZ_BUILD)/api-scratch
	python3 tests/fuzz/make_api_seeds.py $(FUZZ_BUILD)/api-corpus $(FUZZ_BUILD)/api-scratch
	cd $(FUZZ_BUILD)/api-scratch && $(FUZZ_NETNS) ../fuzz_api -runs=$(FUZZ_RUNS) \
		-max_total_time=$(FUZZ_MAX_SECONDS) -seed=1 -max_len=4096 -close_fd_mask=2 \
		../api-corpus
	@rm -rf $(FUZZ_BUILD)/vmstate-corpus
	python3 tests/fuzz/make_vmstate_seeds.py $(FUZZ_BUILD)/vmstate-corpus
	$(FUZZ_BUILD)/fuzz_vmstate -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_MAX_SECONDS) -seed=1 \
		-max_len=16384 -close_fd_mask=2 -artifact_prefix=$(FUZZ_BUILD)/ \
		$(FUZZ_BUILD)/vmstate-corpus
	@rm -rf $(FUZZ_BUILD)/migrate-corpus
	python3 tests/fuzz/make_migrate_seeds.py $(FUZZ_BUILD)/migrate-corpus
	$(FUZZ_BUILD)/fuzz_migrate -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_MAX_SECONDS) -seed=1 \
		-max_len=65536 -close_fd_mask=2 -artifact_prefix=$(FUZZ_BUILD)/ \
		$(FUZZ_BUILD)/migrate-corpus

format:
	clang-format -i $(wildcard src/*/*.[ch] src/*/*/*.[ch] tests/unit/*.[ch])

format-check:
	clang-format --dry-run --Werror $(wildcard src/*/*.[ch] src/*/*/*.[ch] tests/unit/*.[ch])

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)

# Tiny images for boot-protocol integration tests (multiboot a.out kludge,
# flat binary), assembled with the host toolchain.
TEST_IMAGES := $(BUILD)/test-images/mb_aout.bin $(BUILD)/test-images/flat.bin
$(BUILD)/test-images/%.bin: tests/integration/images/%.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CC) -m32 -c -o $(@:.bin=.o) $<
	$(Q)objcopy -O binary $(@:.bin=.o) $@
test-images: $(TEST_IMAGES)
