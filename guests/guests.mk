# The vmon test-guest kit: freestanding x86-64 guests built with the host
# gcc, booted through the Xen PVH protocol. Included by the top Makefile.
#   make guests      build $(BUILD)/guests/NAME.elf for every guest

GUEST_CC ?= gcc
GUEST_NAMES := hello compute exitstorm exceptions timer smp memtest \
	serial_echo triplefault reboot virtio_blk virtio_mmio virtio_bad virtio_bad_net virtio_net virtio_vsock virtio_console difftest \
	ticker kbd xmodify xmodsync paging ring3 svm dirtymem pcid x2apic tscdeadline nmi debug smap pku seglimit sysfeat
GUEST_OUT := $(BUILD)/guests
GUEST_OBJ := $(GUEST_OUT)/obj
GUEST_ELFS := $(GUEST_NAMES:%=$(GUEST_OUT)/%.elf)

GUEST_CFLAGS := -std=gnu17 -O2 -Wall -Wextra -Werror -ffreestanding -nostdlib \
	-static -fno-pic -no-pie -mno-red-zone -mgeneral-regs-only \
	-fno-stack-protector -fno-asynchronous-unwind-tables \
	-fno-tree-loop-distribute-patterns -mcmodel=small -Iguests/rt -MMD -MP
GUEST_LDFLAGS := -ffreestanding -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,noexecstack -Wl,-n -T guests/rt/link.ld

GUEST_RT_SRCS := $(wildcard guests/rt/*.c guests/rt/*.S)
GUEST_RT_OBJS := $(patsubst guests/rt/%,$(GUEST_OBJ)/rt/%.o,$(GUEST_RT_SRCS))

guests: $(GUEST_ELFS)

$(GUEST_OUT)/%.elf: $(GUEST_OBJ)/%.o $(GUEST_RT_OBJS) guests/rt/link.ld
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)

$(GUEST_OBJ)/rt/%.c.o: guests/rt/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_OBJ)/rt/%.S.o: guests/rt/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_OBJ)/%.o: guests/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

.PRECIOUS: $(GUEST_OBJ)/%.o $(GUEST_OBJ)/rt/%.c.o $(GUEST_OBJ)/rt/%.S.o

-include $(wildcard $(GUEST_OBJ)/*.d $(GUEST_OBJ)/rt/*.d)
