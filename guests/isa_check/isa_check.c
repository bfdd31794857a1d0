/* SPDX-License-Identifier: MIT */
/*
 * isa_check: a static Linux program whose output depends on every
 * instruction-set level it is built for: checksums, hashes, floating-point
 * reductions, bit tricks, string searches and (where the build has them)
 * AES-NI, CLMUL, CRC32 and F16C, written plainly so that the compiler
 * vectorises them. The Makefile builds it twice, with -march=x86-64-v2 and
 * with -march=x86-64-v3 -maes -mpclmul (AVX2, BMI2, FMA, MOVBE, LZCNT...),
 * and tests/integration/linux_isa.sh runs both in the Linux guest on the
 * software CPU: every line must equal what the same binary prints on the
 * host. glibc's string functions pick their SSE4.2/AVX2 variants from
 * CPUID at start-up, so they are exercised too.
 *
 * Output: "isa_check: <level>" and then NAME=HEX lines, "done" last.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 4096

static uint32_t u32a[N], u32b[N];
static uint64_t u64a[N];
static double da[N], db[N];
static float fa[N], fb[N];
static uint8_t bytes[N * 4];
static char text[N * 4 + 1];

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t next(void)
{
	/* xorshift64*: shifts by constants and a multiply */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void fill(void)
{
	for (int i = 0; i < N; i++) {
		uint64_t r = next();
		u32a[i] = (uint32_t)r;
		u32b[i] = (uint32_t)(r >> 32);
		u64a[i] = next();
		da[i] = (double)(int32_t)u32a[i] / 65536.0;
		db[i] = (double)(int32_t)u32b[i] / 131072.0;
		fa[i] = (float)da[i];
		fb[i] = (float)db[i];
	}
	for (int i = 0; i < N * 4; i++)
		bytes[i] = (uint8_t)next();
	static const char words[][8] = {"vmon", "cpu", "avx", "kernel", "guest", "emu", "the"};
	size_t p = 0;
	while (p < sizeof(text) - 10) {
		const char *w = words[next() % 7];
		size_t l = strlen(w);
		memcpy(text + p, w, l);
		p += l;
		text[p++] = (next() & 7) ? ' ' : '\n';
	}
	text[p] = 0;
}

/* Integer vector work: products, sums, min/max, shifts. */
static uint64_t int_lanes(void)
{
	uint32_t acc = 0, mx = 0, mn = ~0u;
	uint64_t acc64 = 0;
	for (int i = 0; i < N; i++) {
		uint32_t x = (u32a[i] * u32b[i] + (u32a[i] >> 3)) ^ (u32b[i] << 5);
		acc += x;
		mx = x > mx ? x : mx;
		mn = x < mn ? x : mn;
		acc64 += (uint64_t)u32a[i] * u32b[i];
	}
	uint16_t s16 = 0;
	for (int i = 0; i < N * 4; i += 2)
		s16 += (uint16_t)(bytes[i] * bytes[i + 1]);
	uint8_t sat = 0;
	for (int i = 0; i < N * 4; i++)
		sat = (uint8_t)((sat + bytes[i] > 255) ? 255 : sat + bytes[i]) / 2;
	return acc64 ^ ((uint64_t)acc << 32) ^ mx ^ ((uint64_t)mn << 16) ^ s16 ^ sat;
}

/* 64-bit mixing with 128-bit products (MULX with BMI2). */
static uint64_t mix_hash(void)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < N; i++) {
		unsigned __int128 p = (unsigned __int128)(u64a[i] ^ h) * 0xff51afd7ed558ccdULL;
		h = (uint64_t)p ^ (uint64_t)(p >> 64);
		h = (h << (u64a[i] & 63)) | (h >> ((64 - (u64a[i] & 63)) & 63));
	}
	return h;
}

/* Bit counting and scanning: POPCNT, LZCNT, TZCNT (BSR/BSF below v3),
 * variable shifts (SHLX/SHRX/SARX with BMI2), BEXTR-like fields. */
static uint64_t bits(void)
{
	uint64_t a = 0, b = 0, c = 0, d = 0;
	for (int i = 0; i < N; i++) {
		uint64_t x = u64a[i] | 1;
		a += (uint64_t)__builtin_popcountll(u64a[i]);
		b += (uint64_t)__builtin_clzll(x) * 3 + (uint64_t)__builtin_ctzll(x);
		c ^= (u64a[i] >> (u32a[i] & 63)) & ((1ULL << (u32b[i] & 31)) - 1);
		d += (uint64_t)((int64_t)u64a[i] >> (u32b[i] & 63));
		d ^= (u64a[i] & ~x) | (x & (0 - x));
	}
#ifdef __BMI2__
	for (int i = 0; i < N; i++)
		c += _pdep_u64(u64a[i], u32a[i] | ((uint64_t)u32b[i] << 32)) ^
		     _pext_u64(u64a[i], ~(uint64_t)u32a[i]) ^ _bzhi_u64(u64a[i], u32b[i] & 63);
#endif
#ifdef __BMI__
	for (int i = 0; i < N; i++)
		d += _blsr_u64(u64a[i]) ^ _blsi_u64(u64a[i]) ^ _blsmsk_u64(u64a[i]) ^
		     _bextr_u64(u64a[i], u32a[i] & 63, u32b[i] & 63) ^ _andn_u64(u64a[i], d);
#endif
	return a ^ (b << 20) ^ (c * 3) ^ (d << 1);
}

/* Floating point: dot products and reductions (FMA contracted in the v3
 * build), sqrt, division, min/max, conversions. */
static uint64_t fp(void)
{
	double dot = 0, s = 0;
	float fdot = 0;
	for (int i = 0; i < N; i++) {
		dot += da[i] * db[i];
		s += __builtin_sqrt(da[i] * da[i] + 1.0) / (1.0 + (db[i] > 0 ? db[i] : -db[i]));
		fdot += fa[i] * fb[i] - fa[i] / (fb[i] * fb[i] + 1.0f);
	}
	double mn = da[0], mx = da[0];
	for (int i = 1; i < N; i++) {
		mn = da[i] < mn ? da[i] : mn;
		mx = da[i] > mx ? da[i] : mx;
	}
	int64_t rounded = 0;
	for (int i = 0; i < N; i++)
		rounded += (int64_t)__builtin_floor(da[i] * 3.7) + (int64_t)__builtin_nearbyint(db[i]);
	uint64_t r;
	double all = dot + s * 1e-3 + (double)fdot + mn * mx + (double)rounded;
	memcpy(&r, &all, 8);
	return r;
}

/* glibc's string functions (IFUNC: SSE2, SSE4.2 or AVX2 variants). */
static uint64_t strings(void)
{
	uint64_t h = strlen(text);
	const char *p = text;
	int n = 0;
	while ((p = strstr(p, "kernel guest")) != NULL) {
		n++;
		p++;
	}
	h = h * 31 + (uint64_t)n;
	const char *q = memchr(text, '\n', strlen(text));
	h = h * 31 + (uint64_t)(q ? q - text : -1);
	h = h * 31 + (uint64_t)(strrchr(text, 'x') - text);
	char buf[sizeof(text)];
	memcpy(buf, text, sizeof(text));
	memmove(buf + 3, buf, 1000);
	h = h * 31 + (uint64_t)(memcmp(buf, text, sizeof(text)) > 0);
	h = h * 31 + (uint64_t)strspn(text + 100, "vmoncpu ");
	h = h * 31 + (uint64_t)strcspn(text + 100, "xk");
	char num[64];
	snprintf(num, sizeof(num), "%.17g/%.9g", da[7] * db[9], (double)fa[3] / 3.0);
	for (const char *c = num; *c; c++)
		h = h * 131 + (uint8_t)*c;
	return h;
}

/* CRC-32C with SSE4.2's CRC32 (both builds). */
static uint32_t crc32c(void)
{
	uint64_t crc = 0xffffffff;
	for (int i = 0; i < N; i++)
		crc = _mm_crc32_u64(crc, u64a[i]);
	for (int i = 0; i < 17; i++)
		crc = _mm_crc32_u8((uint32_t)crc, bytes[i]);
	return (uint32_t)crc ^ 0xffffffff;
}

#if defined(__AES__) && defined(__PCLMUL__)
/* AES-128 in CTR mode with a schedule from AESKEYGENASSIST, and a
 * GHASH-style CLMUL fold: what the kernel's aesni and ghash drivers do. */
#define KEYEXP(k, rcon)                                                                            \
	({                                                                                         \
		__m128i t = _mm_aeskeygenassist_si128(k, rcon);                                    \
		t = _mm_shuffle_epi32(t, 0xff);                                                    \
		k = _mm_xor_si128(k, _mm_slli_si128(k, 4));                                        \
		k = _mm_xor_si128(k, _mm_slli_si128(k, 4));                                        \
		k = _mm_xor_si128(k, _mm_slli_si128(k, 4));                                        \
		_mm_xor_si128(k, t);                                                               \
	})

static uint64_t crypto(void)
{
	__m128i rk[11];
	rk[0] = _mm_set_epi64x(0x0f0e0d0c0b0a0908LL, 0x0706050403020100LL);
	rk[1] = KEYEXP(rk[0], 0x01);
	rk[2] = KEYEXP(rk[1], 0x02);
	rk[3] = KEYEXP(rk[2], 0x04);
	rk[4] = KEYEXP(rk[3], 0x08);
	rk[5] = KEYEXP(rk[4], 0x10);
	rk[6] = KEYEXP(rk[5], 0x20);
	rk[7] = KEYEXP(rk[6], 0x40);
	rk[8] = KEYEXP(rk[7], 0x80);
	rk[9] = KEYEXP(rk[8], 0x1b);
	rk[10] = KEYEXP(rk[9], 0x36);
	__m128i acc = _mm_setzero_si128(), h = rk[10];
	for (int i = 0; i < 512; i++) {
		__m128i b = _mm_set_epi64x(0, i);
		b = _mm_xor_si128(b, rk[0]);
		for (int r = 1; r < 10; r++)
			b = _mm_aesenc_si128(b, rk[r]);
		b = _mm_aesenclast_si128(b, rk[10]);
		__m128i d = _mm_aesimc_si128(b);
		d = _mm_aesdec_si128(d, rk[5]);
		d = _mm_aesdeclast_si128(d, rk[0]);
		b = _mm_xor_si128(b, _mm_loadu_si128((const __m128i *)(bytes + 16 * i)));
		acc = _mm_xor_si128(acc, b);
		__m128i lo = _mm_clmulepi64_si128(acc, h, 0x00);
		__m128i hi = _mm_clmulepi64_si128(acc, h, 0x11);
		__m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(acc, h, 0x10),
					    _mm_clmulepi64_si128(acc, h, 0x01));
		acc = _mm_xor_si128(_mm_xor_si128(lo, hi), _mm_xor_si128(mid, d));
	}
	return (uint64_t)_mm_cvtsi128_si64(acc) ^ (uint64_t)_mm_extract_epi64(acc, 1);
}
#endif

#ifdef __F16C__
/* Half precision both ways (F16C). */
static uint64_t half(void)
{
	uint64_t h = 0;
	for (int i = 0; i + 8 <= N; i += 8) {
		__m256 v = _mm256_loadu_ps(fa + i);
		__m128i p = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
		__m256 w = _mm256_cvtph_ps(p);
		float out[8];
		_mm256_storeu_ps(out, w);
		uint32_t bits0;
		memcpy(&bits0, &out[i % 8], 4);
		h = h * 1000003 + (uint64_t)_mm_extract_epi64(p, 0) + bits0;
	}
	return h;
}
#endif

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
#if defined(__AVX2__)
	puts("isa_check: x86-64-v3");
#elif defined(__SSE4_2__)
	puts("isa_check: x86-64-v2");
#else
	puts("isa_check: x86-64");
#endif
	fill();
	printf("int=%016llx\n", (unsigned long long)int_lanes());
	printf("mix=%016llx\n", (unsigned long long)mix_hash());
	printf("bits=%016llx\n", (unsigned long long)bits());
	printf("fp=%016llx\n", (unsigned long long)fp());
	printf("strings=%016llx\n", (unsigned long long)strings());
	printf("crc32c=%08x\n", crc32c());
#if defined(__AES__) && defined(__PCLMUL__)
	printf("aes=%016llx\n", (unsigned long long)crypto());
#endif
#ifdef __F16C__
	printf("half=%016llx\n", (unsigned long long)half());
#endif
	qsort(u32a, N, sizeof(u32a[0]), cmp_u32);
	printf("sorted=%08x%08x\n", u32a[N / 3], u32a[N - 1]);
	puts("done");
	return 0;
}
