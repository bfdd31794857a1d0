/* SPDX-License-Identifier: MIT */
/*
 * libcurl is loaded when a client command first needs it (dlopen), not
 * linked into vmon: every VM process would otherwise map the TLS, Kerberos,
 * LDAP... libraries libcurl brings, for a client only `vmon ps` and its
 * siblings use (and a jail would have to hold them all).
 */
#include "cli/client.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>

struct curl_api {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

static struct curl_api curl;
static char load_error[256];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(load_error, sizeof(load_error), "cannot load libcurl (libcurl4): %s",
			 dlerror());
		return;
	}
	struct {
		const char *name;
		void **slot;
	} syms[] = {
		{"curl_global_init", (void **)&curl.global_init},
		{"curl_easy_init", (void **)&curl.easy_init},
		{"curl_easy_setopt", (void **)&curl.easy_setopt},
		{"curl_easy_perform", (void **)&curl.easy_perform},
		{"curl_easy_getinfo", (void **)&curl.easy_getinfo},
		{"curl_easy_cleanup", (void **)&curl.easy_cleanup},
		{"curl_easy_strerror", (void **)&curl.easy_strerror},
		{"curl_slist_append", (void **)&curl.slist_append},
		{"curl_slist_free_all", (void **)&curl.slist_free_all},
	};
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		*syms[i].slot = dlsym(h, syms[i].name);
		if (!*syms[i].slot) {
			snprintf(load_error, sizeof(load_error), "libcurl has no %s", syms[i].name);
			return;
		}
	}
	curl.global_init(CURL_GLOBAL_NOTHING);
}

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

int client_request(const char *sock, const char *method, const char *path, const char *body,
		   long timeout_ms, struct client_reply *r, struct vmon_error *err)
{
	pthread_once(&load_once, load);
	memset(r, 0, sizeof(*r));
	if (load_error[0])
		return err_setf(err, "%s", load_error);
	CURL *c = curl.easy_init();
	if (!c)
		return err_setf(err, "cannot set up an HTTP client");
	char url[512];
	snprintf(url, sizeof(url), "http://localhost%s", path);
	struct sink s = {.buf = r->body, .cap = sizeof(r->body)};
	struct curl_slist *hdr = curl.slist_append(NULL, "Content-Type: application/json");
	curl.easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl.easy_setopt(c, CURLOPT_URL, url);
	curl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl.easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl.easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl.easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body)
		curl.easy_setopt(c, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl.easy_perform(c);
	if (rc == CURLE_OK)
		curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl.slist_free_all(hdr);
	curl.easy_cleanup(c);
	if (rc != CURLE_OK)
		return err_setf(err, "%s: %s", sock, curl.easy_strerror(rc));
	json_t *o = json_loads(r->body, 0, NULL);
	const char *f = json_string_value(json_object_get(o, "fault_message"));
	if (f)
		snprintf(r->fault, sizeof(r->fault), "%s", f);
	json_decref(o);
	return 0;
}
