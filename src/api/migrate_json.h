/* SPDX-License-Identifier: MIT */
/*
 * Live migration in JSON (docs/api.md): the body of PUT /migrate
 * (destination_url required; max_downtime_ms, bandwidth_mib_s, insecure,
 * compress), the body of PUT /migrate/incoming (receiver_url required;
 * insecure, tls_cert/tls_key/tls_ca, vmon_cpu_features) and the answer
 * of GET /migrate (the progress of vm_migrate_status).
 */
#ifndef VMON_API_MIGRATE_JSON_H
#define VMON_API_MIGRATE_JSON_H

#include <jansson.h>

#include "core/error.h"
#include "vm/vm_migrate.h"

__attribute__((warn_unused_result)) int
api_json_migrate(const json_t *o, struct vm_migrate_params *out, struct vmon_error *err);
__attribute__((warn_unused_result)) int
api_json_migrate_incoming(const json_t *o, struct mig_incoming_params *out, struct vmon_error *err);
json_t *api_json_migrate_out(const struct vm_migrate_status *s);

#endif
