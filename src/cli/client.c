/* SPDX-License-Identifier: MIT */
#include "cli/client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>

struct sink {
	char *buf;
	size_t len, cap;
};

static size_t on_data(char *p, size_t size, size_t n, void *opaque)
{
	struct sink *s = opaque;
	size_t len = size * n;
	size_t room = s->cap - 1 - s->len;
	size_t take = len < room ? len : room;
	memcpy(s->buf + s->len, p, take);
	s->len += take;
	s->buf[s->len] = 0;
	return len; /* the rest is dropped, not an error */
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void)
{
	curl_global_init(CURL_GLOBAL_NOTHING);
}

int client_request(const char *sock, const char *method, const char *path, const char *body,
		   long timeout_ms, struct client_reply *r, struct vmon_error *err)
{
	pthread_once(&init_once, init);
	memset(r, 0, sizeof(*r));
	CURL *c = curl_easy_init();
	if (!c)
		return err_setf(err, "cannot set up an HTTP client");
	char url[512];
	snprintf(url, sizeof(url), "http://localhost%s", path);
	struct sink s = {.buf = r->body, .cap = sizeof(r->body)};
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		return err_setf(err, "%s: %s", sock, curl_easy_strerror(rc));
	json_t *o = json_loads(r->body, 0, NULL);
	const char *f = json_string_value(json_object_get(o, "fault_message"));
	if (f)
		snprintf(r->fault, sizeof(r->fault), "%s", f);
	json_decref(o);
	return 0;
}
