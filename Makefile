# vmon: GNU make build.
#   make            build/vmon and the test-guest kit (build/guests/*.elf)
#   make test       build and run every test; ends with "N passed, N failed"
#   make bench      benchmarks against QEMU (never part of make test)
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
CFLAGS += -std=gnu17 $(WARNINGS) -Isrc -D_GNU_SOURCE -pthread \
	-DVMON_VERSION='"$(VERSION)"' -DVMON_GIT_REV='"$(GIT_REV)"' -MMD -MP
LDFLAGS += -pthread
LDLIBS += -lZydis -lm

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

LIB_SRCS := $(filter-out src/cli/main.c,$(wildcard src/*/*.c src/*/*/*.c))
CLI_SRCS := src/cli/main.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
LIBVMON := $(BUILD)/libvmon.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all vmon guests test unit-tests bench clean format format-check setup guest

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

# The test-guest kit (freestanding, host gcc): see guests/guests.mk.
include guests/guests.mk

test: all unit-tests test-images
	BUILD=$(BUILD) tests/run.sh

bench: all
	BUILD=$(BUILD) bench/run.sh

guest:
	scripts/make-guest.sh

format:
	clang-format -i $(wildcard src/*/*.[ch] src/*/*/*.[ch] tests/unit/*.[ch])

format-check:
	clang-format --dry-run --Werror $(wildcard src/*/*.[ch] src/*/*/*.[ch] tests/unit/*.[ch])

clean:
	rm -rf build build-san

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
