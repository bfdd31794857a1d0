/* SPDX-License-Identifier: MIT */
/* Token bucket arithmetic; see token_bucket.h. */
#include "core/token_bucket.h"

#define NS_PER_MS 1000000ULL

bool tb_config_limits(const struct tb_config *c)
{
	return c->size && c->refill_ms;
}

int tb_config_check(const struct tb_config *c, const char *what, struct vmon_error *err)
{
	if (c->size > TB_MAX_TOKENS || c->one_time_burst > TB_MAX_TOKENS)
		return err_setf(err, "%s: size and one_time_burst must be at most %llu", what,
				(unsigned long long)TB_MAX_TOKENS);
	if (c->refill_ms > TB_MAX_REFILL_MS)
		return err_setf(err, "%s: refill_time must be at most %llu ms", what,
				(unsigned long long)TB_MAX_REFILL_MS);
	return 0;
}

void tb_init(struct token_bucket *tb, const struct tb_config *c, uint64_t now_ns)
{
	uint64_t throttled = tb->throttled;
	*tb = (struct token_bucket){.cfg = *c,
				    .budget = (int64_t)c->size,
				    .burst = c->one_time_burst,
				    .last_ns = now_ns,
				    .throttled = throttled};
}

/* size tokens per refill_ms: (elapsed * size) / refill_ns without
 * overflow (size < 2^51, elapsed capped at one refill time). */
static uint64_t tokens_for(const struct tb_config *c, uint64_t ns)
{
	return (uint64_t)(((unsigned __int128)ns * c->size) /
			  ((unsigned __int128)c->refill_ms * NS_PER_MS));
}

static uint64_t ns_for(const struct tb_config *c, uint64_t tokens)
{
	unsigned __int128 num = (unsigned __int128)tokens * c->refill_ms * NS_PER_MS;
	return (uint64_t)((num + c->size - 1) / c->size);
}

static void refill(struct token_bucket *tb, uint64_t now_ns)
{
	const struct tb_config *c = &tb->cfg;
	if (!tb_config_limits(c) || now_ns <= tb->last_ns)
		return;
	uint64_t missing = (uint64_t)((int64_t)c->size - tb->budget); /* budget <= size */
	uint64_t elapsed = now_ns - tb->last_ns;
	uint64_t add = tokens_for(c, elapsed);
	if (add >= missing) {
		tb->budget = (int64_t)c->size;
		tb->last_ns = now_ns;
		return;
	}
	/* Count only the time the whole tokens took, so fractions add up. */
	tb->budget += (int64_t)add;
	tb->last_ns += ns_for(c, add) <= elapsed ? ns_for(c, add) : elapsed;
}

static uint64_t need(const struct token_bucket *tb, uint64_t n)
{
	return n < tb->cfg.size ? n : tb->cfg.size;
}

bool tb_ready(struct token_bucket *tb, uint64_t n, uint64_t now_ns)
{
	return tb_wait_ns(tb, n, now_ns) == 0;
}

uint64_t tb_wait_ns(struct token_bucket *tb, uint64_t n, uint64_t now_ns)
{
	if (!tb_config_limits(&tb->cfg))
		return 0;
	refill(tb, now_ns);
	int64_t have = tb->budget + (int64_t)tb->burst;
	int64_t want = (int64_t)need(tb, n);
	if (have >= want)
		return 0;
	uint64_t wait = ns_for(&tb->cfg, (uint64_t)(want - have));
	/* Time already counted towards the next token. */
	uint64_t done = now_ns - tb->last_ns;
	return wait > done ? wait - done : 1;
}

void tb_take(struct token_bucket *tb, uint64_t n)
{
	if (!tb_config_limits(&tb->cfg))
		return;
	uint64_t from_burst = n < tb->burst ? n : tb->burst;
	tb->burst -= from_burst;
	n -= from_burst;
	/* n <= 2^64 and budget >= -2^51: clamp the debt to one bucket's
	 * worth beyond the request so it stays representable. */
	if (n > TB_MAX_TOKENS * 4)
		n = TB_MAX_TOKENS * 4;
	tb->budget -= (int64_t)n;
}

void rl_buckets_init(struct rl_buckets *b, const struct rl_config *c, uint64_t now_ns)
{
	tb_init(&b->bw, &c->bw, now_ns);
	tb_init(&b->ops, &c->ops, now_ns);
}

void rl_buckets_update(struct rl_buckets *b, const struct rl_update *u, uint64_t now_ns)
{
	if (u->has_bw)
		tb_init(&b->bw, &u->cfg.bw, now_ns);
	if (u->has_ops)
		tb_init(&b->ops, &u->cfg.ops, now_ns);
}

uint64_t rl_buckets_consume(struct rl_buckets *b, uint64_t bytes, uint64_t now_ns)
{
	uint64_t w1 = tb_wait_ns(&b->bw, bytes, now_ns);
	uint64_t w2 = tb_wait_ns(&b->ops, 1, now_ns);
	if (w1 || w2) {
		if (w1)
			b->bw.throttled++;
		if (w2)
			b->ops.throttled++;
		return w1 > w2 ? w1 : w2;
	}
	tb_take(&b->bw, bytes);
	tb_take(&b->ops, 1);
	return 0;
}

void rl_buckets_charge(struct rl_buckets *b, uint64_t bytes)
{
	tb_take(&b->bw, bytes);
	tb_take(&b->ops, 1);
}

uint64_t rl_buckets_wait(struct rl_buckets *b, uint64_t now_ns)
{
	uint64_t w1 = tb_wait_ns(&b->bw, 1, now_ns);
	uint64_t w2 = tb_wait_ns(&b->ops, 1, now_ns);
	return w1 > w2 ? w1 : w2;
}
