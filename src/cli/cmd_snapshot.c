/* SPDX-License-Identifier: MIT */
/*
 * `vmon snapshot ID DIR [--diff]`: pauses a running VM (through its API,
 * like `vmon pause`), writes DIR/vmstate and DIR/memory (PUT
 * /snapshot/create, "Full" or "Diff") and resumes it unless --no-resume
 * (or it was paused already).
 *
 * `vmon restore DIR`: a new vmon process running the machine saved in
 * DIR, from where it stopped: its config comes from DIR/vmstate, its RAM
 * is DIR/memory mapped privately (lazily, shared by every clone). Options
 * change what belongs to the host: the backend, the id and API socket,
 * the serial port, a drive's image (--disk-path ID=PATH), the vsock's
 * socket (--vsock-path) and the virtio console's back end (--console). It registers and
 * serves the API as `vmon run` does.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "cli/registry.h"
#include "cli/session.h"
#include "cli/specs.h"
#include "core/error.h"
#include "vm/migrate_stream.h"
#include "vm/vm_cpu_offer.h"
#include "vm/vm_incoming.h"
#include "vm/vm_snapshot.h"

#define SNAPSHOT_TIMEOUT_MS 600000 /* writing a large guest's RAM */

enum {
	OPT_RUNTIME_DIR = 256,
	OPT_NO_RESUME,
	OPT_DIFF,
	OPT_BACKEND,
	OPT_ID,
	OPT_API_SOCK,
	OPT_NO_API,
	OPT_SERIAL,
	OPT_DISK_PATH,
	OPT_PAUSED,
	OPT_VSOCK_PATH,
	OPT_CONSOLE,
	OPT_INCOMING,
	OPT_INSECURE,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CA,
	OPT_CPU_FEATURES,
	OPT_HELP
};

static const struct option snap_options[] = {
	{"runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR},
	{"no-resume", no_argument, NULL, OPT_NO_RESUME},
	{"diff", no_argument, NULL, OPT_DIFF},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static void request(const char *sock, const char *id, const char *method, const char *path,
		    const char *body, long timeout_ms, struct client_reply *r)
{
	struct vmon_error err = {{0}};
	if (client_request(sock, method, path, body, timeout_ms, r, &err) < 0)
		die_status(VMON_EXIT_VM_ERROR, "VM %s does not answer: %s", id, err.msg);
}

static void expect_204(const struct client_reply *r, const char *id)
{
	if (r->status != 204)
		die_status(VMON_EXIT_USAGE, "VM %s: %s", id, r->fault[0] ? r->fault : r->body);
}

/* DIR, made if needed, as an absolute path (the VM's process resolves
 * it, from its own working directory). */
static void snapshot_dir(const char *dir, char *out)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		die_status(VMON_EXIT_USAGE, "%s: %s", dir, strerror(errno));
	if (!realpath(dir, out))
		die_status(VMON_EXIT_USAGE, "%s: %s", dir, strerror(errno));
	struct stat st;
	if (stat(out, &st) < 0 || !S_ISDIR(st.st_mode))
		die_status(VMON_EXIT_USAGE, "%s: not a directory", dir);
}

int cmd_snapshot(int argc, char **argv)
{
	const char *flag = NULL;
	bool no_resume = false, diff = false;
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":", snap_options, NULL)) != -1) {
		switch (c) {
		case OPT_RUNTIME_DIR: flag = optarg; break;
		case OPT_NO_RESUME: no_resume = true; break;
		case OPT_DIFF: diff = true; break;
		case OPT_HELP: print_usage(stdout); return 0;
		case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
		default: usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		usage_error("snapshot: vmon snapshot ID DIR");
	const char *id = argv[optind];
	char rdir[REG_PATH_MAX], dir[PATH_MAX];
	struct vmon_error err = {{0}};
	if (registry_dir(flag, rdir, sizeof(rdir), &err) < 0)
		die_status(VMON_EXIT_USAGE, "%s", err.msg);
	struct reg_entry e;
	if (registry_find(rdir, id, &e, &err) < 0)
		die_status(VMON_EXIT_USAGE, "%s", err.msg);
	snapshot_dir(argv[optind + 1], dir);
	struct client_reply r;
	request(e.api_sock, id, "GET", "/", NULL, 2000, &r);
	json_t *o = json_loads(r.body, 0, NULL);
	const char *st = json_string_value(json_object_get(o, "state"));
	bool was_paused = st && strcmp(st, "Paused") == 0;
	json_decref(o);
	if (!was_paused) {
		request(e.api_sock, id, "PATCH", "/vm", "{\"state\":\"Paused\"}", 30000, &r);
		expect_204(&r, id);
	}
	char state_path[PATH_MAX + 16], mem_path[PATH_MAX + 16];
	snprintf(state_path, sizeof(state_path), "%s/vmstate", dir);
	snprintf(mem_path, sizeof(mem_path), "%s/memory", dir);
	json_t *body = json_pack("{s:s, s:s, s:s}", "snapshot_type", diff ? "Diff" : "Full",
				 "snapshot_path", state_path, "mem_file_path", mem_path);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		die_status(VMON_EXIT_USAGE, "out of memory");
	request(e.api_sock, id, "PUT", "/snapshot/create", text, SNAPSHOT_TIMEOUT_MS, &r);
	free(text);
	bool ok = r.status == 204;
	if (!was_paused && !no_resume) {
		struct client_reply rr;
		request(e.api_sock, id, "PATCH", "/vm", "{\"state\":\"Resumed\"}", 30000, &rr);
		expect_204(&rr, id);
	}
	expect_204(&r, id);
	if (ok)
		printf("%s\n", dir);
	return 0;
}

static const struct option restore_options[] = {
	{"backend", required_argument, NULL, OPT_BACKEND},
	{"id", required_argument, NULL, OPT_ID},
	{"api-sock", required_argument, NULL, OPT_API_SOCK},
	{"no-api", no_argument, NULL, OPT_NO_API},
	{"runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR},
	{"serial", required_argument, NULL, OPT_SERIAL},
	{"disk-path", required_argument, NULL, OPT_DISK_PATH},
	{"paused", no_argument, NULL, OPT_PAUSED},
	{"vsock-path", required_argument, NULL, OPT_VSOCK_PATH},
	{"console", required_argument, NULL, OPT_CONSOLE},
	{"incoming", required_argument, NULL, OPT_INCOMING},
	{"insecure", no_argument, NULL, OPT_INSECURE},
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"tls-ca", required_argument, NULL, OPT_TLS_CA},
	{"cpu-features", required_argument, NULL, OPT_CPU_FEATURES},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static void die_if(int r, const struct vmon_error *err)
{
	if (r < 0)
		die_status(VMON_EXIT_USAGE, "%s", err->msg);
}

/* --disk-path ID=PATH: the saved drive ID's image is now PATH. */
static void disk_path(struct vm_config *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char id[VM_ID_MAX];
	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(id) || !eq[1])
		usage_error("--disk-path: expected ID=PATH, got '%s'", arg);
	memcpy(id, arg, (size_t)(eq - arg));
	id[eq - arg] = 0;
	int i = vm_config_find_drive(cfg, id);
	if (i < 0)
		usage_error("--disk-path: the snapshot has no drive '%s'", id);
	if (strlen(eq + 1) >= sizeof(cfg->drives[i].path))
		usage_error("--disk-path: path too long");
	snprintf(cfg->drives[i].path, sizeof(cfg->drives[i].path), "%s", eq + 1);
}

static enum vm_backend_choice backend_of(const char *name)
{
	if (strcmp(name, "kvm") == 0)
		return VM_BACKEND_KVM;
	if (strcmp(name, "emu") == 0)
		return VM_BACKEND_EMU;
	if (strcmp(name, "auto") == 0)
		return VM_BACKEND_AUTO;
	die_status(VMON_EXIT_USAGE, "--backend: '%s' is not kvm, emu or auto", name);
}

/* The incoming side's TLS credentials, freed at exit (see below). */
static struct mig_tls *incoming_tls;
static void free_incoming_tls(void)
{
	mig_tls_free(incoming_tls);
	incoming_tls = NULL;
}

/* `vmon run --incoming SPEC`: waits for one migration stream and reads
 * its opening (vm_incoming.h): the guest's CPU features, checked
 * against what this host's backend (narrowed by --cpu-features) offers
 * and refused at once if it cannot give them (the source has not paused
 * yet), and the machine it is to build (a version-1 or 2 stream: all of
 * it, pages and state). A bad stream ends vmon with one line and status
 * 2. With TLS the certificates are read first (a bad file ends vmon
 * before it listens) and the source must pass the handshake, its
 * certificate chained to the CA, before a byte of the stream is read.
 * The machine is built, the rest received and the handshake made in
 * session_run. */
static void receive_migration(const char *spec, bool insecure, const struct mig_tls_files *tf,
			      const struct vm_cpu_offer *offer, struct vm_incoming *in,
			      struct vm_config *cfg)
{
	static struct mig_conn conn;
	struct vmon_error err = {{0}};
	struct mig_endpoint ep;
	struct mig_tls *tls = NULL;
	die_if(mig_tls_check(tf, false, &err), &err);
	bool use_tls = mig_tls_wanted(tf);
	die_if(mig_endpoint_parse(spec, insecure || use_tls, "--incoming", &ep, &err), &err);
	if (use_tls)
		die_if(mig_tls_load(&tls, tf, &err), &err);
	int fd = mig_accept(&ep, &err);
	die_if(fd, &err);
	if (mig_conn_open(&conn, fd, tls, true, NULL, "the migration source", &err) < 0)
		die_status(VMON_EXIT_USAGE, "--incoming %s: %s", spec, err.msg);
	/* tls stays while the session uses its credentials: freed at exit,
	 * after the session ended (handshake or refusal closes it). */
	incoming_tls = tls;
	atexit(free_incoming_tls);
	if (vm_incoming_open(in, &conn, offer, cfg, &err) < 0)
		die_status(VMON_EXIT_USAGE, "--incoming %s: %s", spec, err.msg);
}

/* A check of the machine to build failed: an incoming source is told
 * (it resumes), then vmon ends with the line. */
static void die_incoming(struct vm_incoming *in, int r, const struct vmon_error *err)
{
	if (r < 0 && in)
		vm_incoming_refuse(in, err->msg);
	die_if(r, err);
}

int cmd_restore(int argc, char **argv)
{
	static struct vmstate st;
	static struct vm_config cfg;
	struct session_opts o = {.start_now = true};
	const char *serial = NULL, *backend = NULL, *disks[VM_MAX_DISKS];
	const char *vsock_path = NULL, *console = NULL;
	const char *incoming = NULL, *cpu_limit = NULL;
	unsigned ndisks = 0;
	bool paused = false, insecure = false;
	static struct mig_tls_files tf;
	struct vmon_error err = {{0}};
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":", restore_options, NULL)) != -1) {
		switch (c) {
		case OPT_BACKEND: backend = optarg; break;
		case OPT_ID: o.id = optarg; break;
		case OPT_API_SOCK: o.api_sock = optarg; break;
		case OPT_NO_API: o.no_api = true; break;
		case OPT_RUNTIME_DIR: o.runtime_dir = optarg; break;
		case OPT_SERIAL: serial = optarg; break;
		case OPT_DISK_PATH:
			if (ndisks == VM_MAX_DISKS)
				usage_error("--disk-path: at most %d", VM_MAX_DISKS);
			disks[ndisks++] = optarg;
			break;
		case OPT_PAUSED: paused = true; break;
		case OPT_VSOCK_PATH: vsock_path = optarg; break;
		case OPT_CONSOLE: console = optarg; break;
		case OPT_INCOMING: incoming = optarg; break;
		case OPT_INSECURE: insecure = true; break;
		case OPT_TLS_CERT:
			die_if(mig_tls_set(tf.cert, sizeof(tf.cert), optarg, "--tls-cert", &err),
			       &err);
			break;
		case OPT_TLS_KEY:
			die_if(mig_tls_set(tf.key, sizeof(tf.key), optarg, "--tls-key", &err),
			       &err);
			break;
		case OPT_TLS_CA:
			die_if(mig_tls_set(tf.ca, sizeof(tf.ca), optarg, "--tls-ca", &err), &err);
			break;
		case OPT_CPU_FEATURES: cpu_limit = optarg; break;
		case OPT_HELP: print_usage(stdout); return 0;
		case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
		default: usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!incoming && (mig_tls_wanted(&tf) || insecure || cpu_limit))
		usage_error("--tls-cert, --tls-key, --tls-ca, --insecure and --cpu-features go "
			    "with --incoming");
	char state_path[PATH_MAX + 16], mem_path[PATH_MAX + 16];
	static struct vm_incoming in;
	if (incoming) {
		if (argc != optind)
			usage_error(
				"run --incoming: the machine comes from the stream; only host-side "
				"options (--serial, --disk-path, --backend...) may be given");
		/* --cpu-features on a target: the most it accepts (the guest
		 * keeps its own features, which must lie within). */
		struct cpu_model limit = {0};
		if (cpu_limit)
			die_if(cpu_model_parse(cpu_limit, &limit, &err), &err);
		static struct vm_cpu_offer offer;
		die_if(vm_cpu_offer_init(&offer, backend ? backend_of(backend) : VM_BACKEND_AUTO,
					 &limit, cpu_limit, &err),
		       &err);
		receive_migration(incoming, insecure, &tf, &offer, &in, &cfg);
		o.incoming = &in;
	} else {
		if (argc - optind != 1)
			usage_error("restore: vmon restore DIR");
		const char *dir = argv[optind];
		snprintf(state_path, sizeof(state_path), "%s/vmstate", dir);
		snprintf(mem_path, sizeof(mem_path), "%s/memory", dir);
		die_if(vmstate_load(&st, state_path, &err), &err);
		die_if(vm_restore_config(&st, &cfg, &err), &err);
	}
	if (backend)
		cfg.machine.backend = backend_of(backend);
	if (serial)
		die_if(chardev_parse(serial, &cfg.serial, &err), &err);
	for (unsigned i = 0; i < ndisks; i++)
		disk_path(&cfg, disks[i]);
	/* Clones of one snapshot each need their own vsock socket and
	 * console output. */
	if (vsock_path) {
		if (!cfg.has_vsock)
			usage_error("--vsock-path: the snapshot has no vsock");
		if (strlen(vsock_path) >= sizeof(cfg.vsock.spec.path))
			usage_error("--vsock-path: path too long");
		snprintf(cfg.vsock.spec.path, sizeof(cfg.vsock.spec.path), "%s", vsock_path);
	}
	if (console) {
		if (!cfg.has_console)
			usage_error("--console: the %s has no virtio console",
				    incoming ? "migrated VM" : "snapshot");
		die_if(chardev_parse(console, &cfg.console.chr, &err), &err);
	}
	struct vm_incoming *inp = incoming ? &in : NULL;
	die_incoming(inp, vm_config_validate(&cfg, &err), &err);
	die_incoming(inp, vm_config_check_host(&cfg, &err), &err);
	o.restore = incoming ? NULL : &st;
	o.restore_mem = incoming ? NULL : mem_path;
	o.restore_paused = paused;
	int status = session_run(&o, &cfg);
	vmstate_free(&st);
	if (incoming)
		vm_incoming_free(&in);
	return status;
}
