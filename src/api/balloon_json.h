/* SPDX-License-Identifier: MIT */
/*
 * Firecracker's balloon objects in JSON: the Balloon body of PUT /balloon
 * and the config file's "balloon" section (amount_mib, deflate_on_oom
 * required; stats_polling_interval_s; vmon's free_page_reporting, as
 * Firecracker 1.7+ spells it), BalloonUpdate (PATCH /balloon: amount_mib),
 * BalloonStatsUpdate (PATCH /balloon/statistics:
 * stats_polling_interval_s), and the answers of GET /balloon and GET
 * /balloon/statistics.
 */
#ifndef VMON_API_BALLOON_JSON_H
#define VMON_API_BALLOON_JSON_H

#include <jansson.h>

#include "core/error.h"
#include "devices/virtio/virtio_balloon.h"
#include "vm/vm_config.h"

int api_json_balloon(const json_t *o, struct vm_balloon_config *out, struct vmon_error *err);
int api_json_balloon_update(const json_t *o, uint32_t *mib, struct vmon_error *err);
int api_json_balloon_stats_update(const json_t *o, unsigned *seconds, struct vmon_error *err);

json_t *api_json_balloon_out(const struct vm_balloon_config *b);
json_t *api_json_balloon_stats_out(const struct balloon_stats *s);

#endif
