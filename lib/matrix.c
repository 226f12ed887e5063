// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix: matrices and sets of APQNs, their text forms (lszcrypt
 * notation, ID lists, /sys/bus/ap masks) and the ioctl payload.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kvm-abi.h"

_Static_assert(APMATRIX_KVM_MATRIX_SIZE == sizeof(struct kvm_s390_ap_matrix),
	       "APMATRIX_KVM_MATRIX_SIZE is the payload size");
_Static_assert(APMATRIX_SET_VALIDATE_ONLY == KVM_S390_AP_MATRIX_VALIDATE_ONLY &&
	       APMATRIX_SET_RESET == KVM_S390_AP_MATRIX_RESET,
	       "the library's flags are the kernel's");
_Static_assert(APMATRIX_MAX_ID + 1 == APM_NIDS, "256 IDs");

static const char *const part_name[APM_NPARTS] = {
	"adapter", "domain", "control domain",
};

/* ------------------------------------------------------------------------ */
/* bitmaps */

unsigned int apm_bits_count(const apm_bits b)
{
	unsigned int i, n = 0;

	for (i = 0; i < APM_WORDS; i++)
		n += __builtin_popcountll(b[i]);
	return n;
}

bool apm_bits_empty(const apm_bits b)
{
	return !(b[0] | b[1] | b[2] | b[3]);
}

void apm_bits_to_mask(const apm_bits b, char out[67])
{
	snprintf(out, 67, "0x%016llx%016llx%016llx%016llx",
		 (unsigned long long)b[0], (unsigned long long)b[1],
		 (unsigned long long)b[2], (unsigned long long)b[3]);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && is_ws(**s))
		(*s)++;
	while (*e > *s && is_ws((*e)[-1]))
		(*e)--;
}

/* [s, e) is "0x" + 64 hex digits: fill b */
static void mask_digits(apm_bits b, const char *s)
{
	unsigned int i;

	memset(b, 0, sizeof(apm_bits));
	for (i = 0; i < 64; i++)
		b[i / 16] |= (uint64_t)hexval(s[2 + i]) << (60 - 4 * (i % 16));
}

static size_t hex_run(const char *s, const char *e)
{
	const char *p = s;

	while (p < e && hexval(*p) >= 0)
		p++;
	return p - s;
}

int apm_bits_from_mask(apm_bits b, const char *text)
{
	size_t n = strlen(text);

	if (n && text[n - 1] == '\n')
		n--;
	if (n != 66 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X') ||
	    hex_run(text + 2, text + n) != 64)
		return -EINVAL;
	mask_digits(b, text);
	return 0;
}

/* the next run [lo, hi] of set IDs at or after *from */
static bool next_run(const apm_bits b, unsigned int *from, unsigned int *lo,
		     unsigned int *hi)
{
	unsigned int i = *from;

	while (i < APM_NIDS && !bits_test(b, i))
		i++;
	if (i >= APM_NIDS)
		return false;
	*lo = i;
	while (i + 1 < APM_NIDS && bits_test(b, i + 1))
		i++;
	*hi = i;
	*from = i + 1;
	return true;
}

static void apm_sb_runs(struct apm_sbuf *sb, const apm_bits b, int width)
{
	unsigned int from = 0, lo, hi;
	bool first = true;

	while (next_run(b, &from, &lo, &hi)) {
		apm_sb_printf(sb, "%s%0*x", first ? "" : ",", width, lo);
		if (hi != lo)
			apm_sb_printf(sb, "-%0*x", width, hi);
		first = false;
	}
}

int apm_bits_format(const apm_bits b, int width, char *buf, size_t len)
{
	struct apm_sbuf sb;

	apm_sb_init(&sb, buf, len);
	apm_sb_runs(&sb, b, width);
	return apm_sb_result(&sb);
}

static int part_width(enum apmatrix_part part)
{
	return part == APMATRIX_ADAPTERS ? 2 : 4;
}

static bool part_ok(enum apmatrix_part part)
{
	return (unsigned int)part < APM_NPARTS;
}

/* ------------------------------------------------------------------------ */
/* matrices */

struct apmatrix_matrix *apmatrix_matrix_new(void)
{
	return calloc(1, sizeof(struct apmatrix_matrix));
}

struct apmatrix_matrix *apmatrix_matrix_dup(const struct apmatrix_matrix *m)
{
	struct apmatrix_matrix *d;

	if (!m) {
		errno = EINVAL;
		return NULL;
	}
	d = malloc(sizeof(*d));
	if (d)
		*d = *m;
	return d;
}

void apmatrix_matrix_free(struct apmatrix_matrix *m)
{
	free(m);
}

void apmatrix_matrix_clear(struct apmatrix_matrix *m)
{
	if (m)
		memset(m, 0, sizeof(*m));
}

int apmatrix_matrix_set(struct apmatrix_matrix *m, enum apmatrix_part part,
			unsigned int id, bool on)
{
	if (!m || !part_ok(part))
		return -EINVAL;
	if (id > APMATRIX_MAX_ID)
		return -ERANGE;
	bits_set(m->part[part], id, on);
	return 0;
}

bool apmatrix_matrix_test(const struct apmatrix_matrix *m,
			  enum apmatrix_part part, unsigned int id)
{
	return m && part_ok(part) && bits_test(m->part[part], id);
}

unsigned int apmatrix_matrix_count(const struct apmatrix_matrix *m,
				   enum apmatrix_part part)
{
	if (!m || !part_ok(part))
		return 0;
	return apm_bits_count(m->part[part]);
}

bool apmatrix_matrix_is_empty(const struct apmatrix_matrix *m)
{
	unsigned int p;

	if (!m)
		return true;
	for (p = 0; p < APM_NPARTS; p++)
		if (!apm_bits_empty(m->part[p]))
			return false;
	return true;
}

bool apmatrix_matrix_equal(const struct apmatrix_matrix *a,
			   const struct apmatrix_matrix *b)
{
	if (!a || !b)
		return a == b;
	return !memcmp(a->part, b->part, sizeof(a->part));
}

bool apmatrix_matrix_has_apqn(const struct apmatrix_matrix *m,
			      unsigned int apid, unsigned int apqi)
{
	return m && bits_test(m->part[APMATRIX_ADAPTERS], apid) &&
	       bits_test(m->part[APMATRIX_DOMAINS], apqi);
}

/* ------------------------------------------------------------------------ */
/* parsing */

struct idrange {
	unsigned int lo, hi;
};

/*
 * [s, e) is one or more hex digits (after "0x" when allow_0x). The value
 * saturates at ULLONG_MAX. Returns false if it is not a number.
 */
static bool parse_num(const char *s, const char *e, bool allow_0x,
		      unsigned long long *v)
{
	if (allow_0x && e - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (s == e)
		return false;
	*v = 0;
	for (; s < e; s++) {
		int h = hexval(*s);

		if (h < 0)
			return false;
		if (*v > (ULLONG_MAX >> 4))
			*v = ULLONG_MAX;
		else
			*v = *v * 16 + h;
	}
	return true;
}

static int range_err(struct apmatrix_ctx *ctx, const char *kind,
		     const char *s, const char *e, unsigned long long v,
		     const char *cs, const char *ce)
{
	/* the value in hex, unless the text already is "0x..." or it is huge */
	if (v == ULLONG_MAX || (e - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
		return apm_fail(ctx, ERANGE, "%s %.*s is beyond 0xff in '%.*s'",
				kind, (int)(e - s), s, (int)(ce - cs), cs);
	return apm_fail(ctx, ERANGE, "%s %.*s (0x%llx) is beyond 0xff in '%.*s'",
			kind, (int)(e - s), s, v, (int)(ce - cs), cs);
}

/*
 * Parse "N" or "N-M" in [s, e); kind names the part in messages, which
 * quote [cs, ce).
 */
static int parse_range(struct apmatrix_ctx *ctx, const char *s, const char *e,
		       bool allow_0x, const char *kind, const char *cs,
		       const char *ce, struct idrange *r)
{
	const char *dash = memchr(s, '-', e - s);
	const char *le = dash ? dash : e;
	unsigned long long lo, hi;

	if (!parse_num(s, le, allow_0x, &lo) ||
	    (dash && !parse_num(dash + 1, e, allow_0x, &hi)))
		return apm_fail(ctx, EINVAL, "bad %s '%.*s' in '%.*s'", kind,
				(int)(e - s), s, (int)(ce - cs), cs);
	if (!dash)
		hi = lo;
	if (lo > APMATRIX_MAX_ID)
		return range_err(ctx, kind, s, le, lo, cs, ce);
	if (hi > APMATRIX_MAX_ID)
		return range_err(ctx, kind, dash + 1, e, hi, cs, ce);
	if (lo > hi)
		return apm_fail(ctx, EINVAL, "range %.*s is backwards in '%.*s'",
				(int)(e - s), s, (int)(ce - cs), cs);
	r->lo = lo;
	r->hi = hi;
	return 0;
}

typedef int (*item_fn)(struct apmatrix_ctx *ctx, const char *s, const char *e,
		       const char *ts, const char *te, void *data);

/* Call fn for each comma-separated item of text, trimmed; check empty items. */
static int for_each_item(struct apmatrix_ctx *ctx, const char *text,
			 item_fn fn, void *data)
{
	const char *ts = text, *te = text + strlen(text), *p;
	bool first = true;
	int rc;

	trim(&ts, &te);
	if (ts == te)
		return 0;
	for (p = ts;; first = false) {
		const char *c = memchr(p, ',', te - p);
		const char *is = p, *ie = c ? c : te;

		trim(&is, &ie);
		if (is == ie) {
			const char *what = first && c ? "leading comma" :
					   !c ? "trailing comma" : "empty item";

			return apm_fail(ctx, EINVAL, "%s in '%.*s'", what,
					(int)(te - ts), ts);
		}
		rc = fn(ctx, is, ie, ts, te, data);
		if (rc)
			return rc;
		if (!c)
			return 0;
		p = c + 1;
	}
}

static void apqns_set(struct apmatrix_apqns *s, unsigned int a, unsigned int d)
{
	if (bits_test(s->row[a], d))
		return;
	bits_set(s->row[a], d, true);
	s->row_count[a]++;
	s->count++;
}

static int apqn_item(struct apmatrix_ctx *ctx, const char *s, const char *e,
		     const char *ts, const char *te, void *data)
{
	struct apmatrix_apqns *set = data;
	const char *dot = memchr(s, '.', e - s);
	struct idrange ar, dr;
	unsigned int a, d;
	int rc;

	(void)ts;
	(void)te;
	if (!dot)
		return apm_fail(ctx, EINVAL,
				"'%.*s' is not an APQN (adapter.domain in hex, e.g. 05.0004)",
				(int)(e - s), s);
	rc = parse_range(ctx, s, dot, false, "adapter", s, e, &ar);
	if (!rc)
		rc = parse_range(ctx, dot + 1, e, false, "domain", s, e, &dr);
	if (rc)
		return rc;
	for (a = ar.lo; a <= ar.hi; a++)
		for (d = dr.lo; d <= dr.hi; d++)
			apqns_set(set, a, d);
	return 0;
}

static int parse_apqn_text(struct apmatrix_ctx *ctx, const char *text,
			   struct apmatrix_apqns **out)
{
	struct apmatrix_apqns *set;
	int rc;

	if (!text)
		return apm_fail(ctx, EINVAL, "no APQN text");
	set = apmatrix_apqns_new();
	if (!set)
		return apm_fail(ctx, ENOMEM, "out of memory");
	rc = for_each_item(ctx, text, apqn_item, set);
	if (rc) {
		apmatrix_apqns_free(set);
		return rc;
	}
	*out = set;
	return 0;
}

/* Format a set for a message: at most len - 1 characters, "..." when cut. */
static const char *short_apqns(const struct apmatrix_apqns *s, char *buf,
			       size_t len)
{
	int n = apmatrix_apqns_format(s, buf, len);

	if (n >= (int)len)
		memcpy(buf + len - 4, "...", 4);
	return buf;
}

/*
 * Fill m's usage part from set if it is a full cross product; else name
 * what is missing. quote: the user's text, or NULL to print the set.
 */
static int from_set(struct apmatrix_ctx *ctx, struct apmatrix_matrix *m,
		    const struct apmatrix_apqns *set, const char *quote,
		    struct apmatrix_apqns *missing)
{
	apm_bits ad = { 0 }, dom = { 0 };
	unsigned int a, i, na, nd;

	for (a = 0; a < APM_NIDS; a++) {
		if (!set->row_count[a])
			continue;
		bits_set(ad, a, true);
		for (i = 0; i < APM_WORDS; i++)
			dom[i] |= set->row[a][i];
	}
	na = apm_bits_count(ad);
	nd = apm_bits_count(dom);
	if (set->count != na * nd) {
		struct apmatrix_apqns *need = missing;
		char have[400], lack[400];
		unsigned int d;

		if (!need)
			need = apmatrix_apqns_new();
		if (!need)
			return apm_fail(ctx, ENOMEM, "out of memory");
		apmatrix_apqns_clear(need);
		for (a = 0; a < APM_NIDS; a++) {
			if (!set->row_count[a])
				continue;
			for (d = 0; d < APM_NIDS; d++)
				if (bits_test(dom, d) && !bits_test(set->row[a], d))
					apqns_set(need, a, d);
		}
		if (quote) {
			const char *qs = quote, *qe = quote + strlen(quote);

			trim(&qs, &qe);
			snprintf(have, sizeof(have), "%.*s", (int)(qe - qs), qs);
			if ((size_t)(qe - qs) >= sizeof(have))
				memcpy(have + sizeof(have) - 4, "...", 4);
		} else {
			short_apqns(set, have, sizeof(have));
		}
		apm_set_msg(ctx,
			    "APQNs %s are not a full adapters x domains matrix: it would also need %s",
			    have, short_apqns(need, lack, sizeof(lack)));
		if (need != missing)
			apmatrix_apqns_free(need);
		return -EINVAL;
	}
	if (!m)
		return 0;
	memcpy(m->part[APMATRIX_ADAPTERS], ad, sizeof(ad));
	memcpy(m->part[APMATRIX_DOMAINS], dom, sizeof(dom));
	return 0;
}

int apmatrix_matrix_parse_apqns(struct apmatrix_ctx *ctx,
				struct apmatrix_matrix *m, const char *text,
				struct apmatrix_apqns *missing)
{
	struct apmatrix_apqns *set = NULL;
	int rc;

	apm_clear_error(ctx);
	if (!m)
		return apm_fail(ctx, EINVAL, "no matrix to parse into");
	rc = parse_apqn_text(ctx, text, &set);
	if (rc)
		return rc;
	rc = from_set(ctx, m, set, text, missing);
	apmatrix_apqns_free(set);
	return rc;
}

int apmatrix_matrix_from_apqns(struct apmatrix_ctx *ctx,
			       struct apmatrix_matrix *m,
			       const struct apmatrix_apqns *s,
			       struct apmatrix_apqns *missing)
{
	apm_clear_error(ctx);
	if (!m || !s)
		return apm_fail(ctx, EINVAL, "no matrix or no set of APQNs");
	return from_set(ctx, m, s, NULL, missing);
}

struct id_item_data {
	enum apmatrix_part part;
	apm_bits bits;
};

static int id_item(struct apmatrix_ctx *ctx, const char *s, const char *e,
		   const char *ts, const char *te, void *data)
{
	struct id_item_data *d = data;
	struct idrange r;
	unsigned int i;
	int rc;

	rc = parse_range(ctx, s, e, true, part_name[d->part], ts, te, &r);
	if (rc)
		return rc;
	for (i = r.lo; i <= r.hi; i++)
		bits_set(d->bits, i, true);
	return 0;
}

/*
 * [s, e) are hex digits whose value is an ID (<= 0xff) however many
 * leading zeros they have: "0x0000000005" is ID 5, not a short mask;
 * only the 64 digits of a real mask are always a mask.
 */
static bool small_hex(const char *s, const char *e)
{
	if (e - s == 64)
		return false;
	while (s < e && *s == '0')
		s++;
	return e - s <= 2;
}

int apmatrix_matrix_parse_ids(struct apmatrix_ctx *ctx,
			      struct apmatrix_matrix *m,
			      enum apmatrix_part part, const char *text)
{
	struct id_item_data d = { .part = part };
	const char *ts, *te;
	int rc;

	apm_clear_error(ctx);
	if (!m || !text || !part_ok(part))
		return apm_fail(ctx, EINVAL, "bad arguments to apmatrix_matrix_parse_ids()");
	ts = text;
	te = text + strlen(text);
	trim(&ts, &te);
	/* "0x" and nothing but hex digits, more than an ID has: a mask */
	if (te - ts > 2 && ts[0] == '0' && (ts[1] == 'x' || ts[1] == 'X') &&
	    hex_run(ts + 2, te) == (size_t)(te - ts - 2) && te - ts - 2 > 8 &&
	    !small_hex(ts + 2, te)) {
		if (te - ts - 2 != 64)
			return apm_fail(ctx, EINVAL,
					"bad mask '%.*s': a mask is 0x and 64 hex digits, this has %d",
					(int)(te - ts), ts, (int)(te - ts - 2));
		mask_digits(m->part[part], ts);
		return 0;
	}
	rc = for_each_item(ctx, text, id_item, &d);
	if (rc)
		return rc;
	memcpy(m->part[part], d.bits, sizeof(d.bits));
	return 0;
}

/* ------------------------------------------------------------------------ */
/* printing */

int apmatrix_matrix_format_apqns(const struct apmatrix_matrix *m, char *buf,
				 size_t len)
{
	unsigned int afrom = 0, alo, ahi;
	struct apm_sbuf sb;
	bool first = true;

	if (!m || (!buf && len))
		return -EINVAL;
	apm_sb_init(&sb, buf, len);
	while (next_run(m->part[APMATRIX_ADAPTERS], &afrom, &alo, &ahi)) {
		unsigned int dfrom = 0, dlo, dhi;

		while (next_run(m->part[APMATRIX_DOMAINS], &dfrom, &dlo, &dhi)) {
			apm_sb_printf(&sb, "%s%02x", first ? "" : ",", alo);
			if (ahi != alo)
				apm_sb_printf(&sb, "-%02x", ahi);
			apm_sb_printf(&sb, ".%04x", dlo);
			if (dhi != dlo)
				apm_sb_printf(&sb, "-%04x", dhi);
			first = false;
		}
	}
	return apm_sb_result(&sb);
}

int apmatrix_matrix_format_ids(const struct apmatrix_matrix *m,
			       enum apmatrix_part part, char *buf, size_t len)
{
	if (!m || !part_ok(part) || (!buf && len))
		return -EINVAL;
	return apm_bits_format(m->part[part], part_width(part), buf, len);
}

int apmatrix_matrix_format_mask(const struct apmatrix_matrix *m,
				enum apmatrix_part part, char *buf, size_t len)
{
	char mask[67];
	struct apm_sbuf sb;

	if (!m || !part_ok(part) || (!buf && len))
		return -EINVAL;
	apm_bits_to_mask(m->part[part], mask);
	apm_sb_init(&sb, buf, len);
	apm_sb_printf(&sb, "%s", mask);
	return apm_sb_result(&sb);
}

/* ------------------------------------------------------------------------ */
/* the ioctl payload */

int apmatrix_matrix_to_kvm(const struct apmatrix_matrix *m, unsigned int flags,
			   void *buf, size_t len)
{
	struct kvm_s390_ap_matrix k;
	unsigned int i;

	if (!m || !buf || len < sizeof(k))
		return -EINVAL;
	memset(&k, 0, sizeof(k));
	for (i = 0; i < APM_WORDS; i++) {
		k.apm[i] = m->part[APMATRIX_ADAPTERS][i];
		k.aqm[i] = m->part[APMATRIX_DOMAINS][i];
		k.adm[i] = m->part[APMATRIX_CONTROL_DOMAINS][i];
	}
	k.flags = flags;
	memcpy(buf, &k, sizeof(k));
	return 0;
}

int apmatrix_matrix_from_kvm(struct apmatrix_matrix *m, const void *buf,
			     size_t len)
{
	struct kvm_s390_ap_matrix k;
	unsigned int i;

	if (!m || !buf || len < sizeof(k))
		return -EINVAL;
	memcpy(&k, buf, sizeof(k));
	for (i = 0; i < sizeof(k.reserved) / sizeof(k.reserved[0]); i++)
		if (k.reserved[i])
			return -EINVAL;
	for (i = 0; i < APM_WORDS; i++) {
		m->part[APMATRIX_ADAPTERS][i] = k.apm[i];
		m->part[APMATRIX_DOMAINS][i] = k.aqm[i];
		m->part[APMATRIX_CONTROL_DOMAINS][i] = k.adm[i];
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* sets of APQNs */

struct apmatrix_apqns *apmatrix_apqns_new(void)
{
	return calloc(1, sizeof(struct apmatrix_apqns));
}

void apmatrix_apqns_free(struct apmatrix_apqns *s)
{
	free(s);
}

void apmatrix_apqns_clear(struct apmatrix_apqns *s)
{
	if (s)
		memset(s, 0, sizeof(*s));
}

int apmatrix_apqns_add(struct apmatrix_apqns *s, unsigned int apid,
		       unsigned int apqi)
{
	if (!s)
		return -EINVAL;
	if (apid > APMATRIX_MAX_ID || apqi > APMATRIX_MAX_ID)
		return -ERANGE;
	apqns_set(s, apid, apqi);
	return 0;
}

bool apmatrix_apqns_contains(const struct apmatrix_apqns *s, unsigned int apid,
			     unsigned int apqi)
{
	return s && apid <= APMATRIX_MAX_ID && bits_test(s->row[apid], apqi);
}

unsigned int apmatrix_apqns_count(const struct apmatrix_apqns *s)
{
	return s ? s->count : 0;
}

/* the first APQN after (a, d) in order; false if none */
static bool apqns_next_from(const struct apmatrix_apqns *s, unsigned int *a,
			    unsigned int *d)
{
	unsigned int ai = *a, di = *d + 1;

	for (; ai < APM_NIDS; ai++, di = 0) {
		if (!s->row_count[ai])
			continue;
		for (; di < APM_NIDS; di++) {
			if (bits_test(s->row[ai], di)) {
				*a = ai;
				*d = di;
				return true;
			}
		}
	}
	return false;
}

int apmatrix_apqns_get(const struct apmatrix_apqns *s, unsigned int idx,
		       unsigned int *apid, unsigned int *apqi)
{
	unsigned int a, d, n;

	if (!s)
		return -EINVAL;
	if (idx >= s->count)
		return -ENOENT;
	/* skip whole rows by their counts, then count within the row */
	for (a = 0, n = idx; n >= s->row_count[a]; a++)
		n -= s->row_count[a];
	for (d = 0;; d++)
		if (bits_test(s->row[a], d) && n-- == 0)
			break;
	if (apid)
		*apid = a;
	if (apqi)
		*apqi = d;
	return 0;
}

void apmatrix_apqns_iter_init(struct apmatrix_apqns_iter *it)
{
	if (it)
		it->next = 0;
}

bool apmatrix_apqns_next(const struct apmatrix_apqns *s,
			 struct apmatrix_apqns_iter *it, unsigned int *apid,
			 unsigned int *apqi)
{
	unsigned int a, d;

	if (!s || !it || it->next >= APM_NIDS * APM_NIDS)
		return false;
	a = it->next / APM_NIDS;
	d = it->next % APM_NIDS;
	if (!bits_test(s->row[a], d) && !apqns_next_from(s, &a, &d)) {
		it->next = APM_NIDS * APM_NIDS;
		return false;
	}
	it->next = a * APM_NIDS + d + 1;
	if (apid)
		*apid = a;
	if (apqi)
		*apqi = d;
	return true;
}

int apmatrix_apqns_parse(struct apmatrix_ctx *ctx, struct apmatrix_apqns *s,
			 const char *text)
{
	struct apmatrix_apqns *set = NULL;
	unsigned int a, i;
	int rc;

	apm_clear_error(ctx);
	if (!s)
		return apm_fail(ctx, EINVAL, "no set of APQNs to parse into");
	rc = parse_apqn_text(ctx, text, &set);
	if (rc)
		return rc;
	for (a = 0; a < APM_NIDS; a++) {
		if (!set->row_count[a])
			continue;
		for (i = 0; i < APM_NIDS; i++)
			if (bits_test(set->row[a], i))
				apqns_set(s, a, i);
	}
	apmatrix_apqns_free(set);
	return 0;
}

int apmatrix_apqns_format(const struct apmatrix_apqns *s, char *buf,
			  size_t len)
{
	struct apm_sbuf sb;
	unsigned int a, d;
	bool first = true;

	if (!s || (!buf && len))
		return -EINVAL;
	apm_sb_init(&sb, buf, len);
	for (a = 0; a < APM_NIDS; a++) {
		if (!s->row_count[a])
			continue;
		for (d = 0; d < APM_NIDS; d++) {
			if (!bits_test(s->row[a], d))
				continue;
			apm_sb_printf(&sb, "%s%02x.%04x", first ? "" : ",", a, d);
			first = false;
		}
	}
	return apm_sb_result(&sb);
}

int apmatrix_apqns_add_matrix(struct apmatrix_apqns *s,
			      const struct apmatrix_matrix *m)
{
	unsigned int a, d;

	if (!s || !m)
		return -EINVAL;
	for (a = 0; a < APM_NIDS; a++) {
		if (!bits_test(m->part[APMATRIX_ADAPTERS], a))
			continue;
		for (d = 0; d < APM_NIDS; d++)
			if (bits_test(m->part[APMATRIX_DOMAINS], d))
				apqns_set(s, a, d);
	}
	return 0;
}
