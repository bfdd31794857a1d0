#!/usr/bin/env python3
"""Writes well-formed API requests for fuzz_api into DIR (one file each:
"METHOD PATH\\n" and the body), and the files they name into SCRATCH (the
harness's working directory): a kernel and a disk image, by relative
path."""
import os
import sys

out, scratch = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
os.makedirs(scratch, exist_ok=True)
with open(os.path.join(scratch, "k.elf"), "wb") as f:
    f.write(b"\x7fELF" + bytes(60))
with open(os.path.join(scratch, "d.img"), "wb") as f:
    f.write(bytes(1 << 16))

seeds = {
    "info": ("GET", "/", ""),
    "config": ("GET", "/vm/config", ""),
    "machine-get": ("GET", "/machine-config", ""),
    "machine-put": ("PUT", "/machine-config",
                    '{"vcpu_count": 2, "mem_size_mib": 256, "smt": false, "vmon_backend": "emu"}'),
    "machine-patch": ("PATCH", "/machine-config", '{"mem_size_mib": 64}'),
    "boot": ("PUT", "/boot-source",
             '{"kernel_image_path": "k.elf", "boot_args": "console=ttyS0", "initrd_path": "d.img"}'),
    "drive": ("PUT", "/drives/rootfs",
              '{"drive_id": "rootfs", "path_on_host": "d.img", "is_root_device": true, '
              '"is_read_only": true, "cache_type": "Writeback", "io_engine": "Sync", '
              '"vmon_transport": "pci"}'),
    "drive-patch": ("PATCH", "/drives/rootfs",
                    '{"drive_id": "rootfs", "path_on_host": "d.img"}'),
    "net-user": ("PUT", "/network-interfaces/n0",
                 '{"iface_id": "n0", "guest_mac": "06:00:AC:10:00:02", "vmon_user_net": '
                 '{"hostfwd": [{"protocol": "tcp", "host_addr": "127.0.0.1", "host_port": 2222, '
                 '"guest_port": 22}]}}'),
    "vsock": ("PUT", "/vsock", '{"guest_cid": 3, "uds_path": "v.sock", "vmon_transport": "mmio"}'),
    "entropy": ("PUT", "/entropy", "{}"),
    "serial": ("PUT", "/serial", '{"serial_out_path": "s.log"}'),
    "start": ("PUT", "/actions", '{"action_type": "InstanceStart"}'),
    "cad": ("PUT", "/actions", '{"action_type": "SendCtrlAltDel"}'),
    "pause": ("PATCH", "/vm", '{"state": "Paused"}'),
    "snapshot": ("PUT", "/snapshot/create", '{"snapshot_path": "s", "mem_file_path": "m"}'),
}
for name, (method, path, body) in seeds.items():
    with open(os.path.join(out, name), "w") as f:
        f.write("%s %s\n%s" % (method, path, body))
