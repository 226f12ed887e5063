// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix: plans that move queues between the host's default drivers
 * and the drivers for guests, by writing /sys/bus/ap/apmask and aqmask.
 *
 * Reserve. A queue stays with the default drivers while both its adapter
 * bit in apmask and its domain bit in aqmask are set. Let A be the wanted
 * adapters still set in apmask and D the wanted domains still set in
 * aqmask. Every pair of A x D must lose a bit, so the bits cleared must
 * cover a complete bipartite graph: they contain all of A or all of D
 * (clearing more only costs more). Both covers are computed; each takes
 * along the existing queues outside the wanted matrix whose adapter (or
 * domain) bit it clears and that the default drivers still hold. The
 * cover that takes fewer of them wins; on a tie the one that clears
 * fewer bits; then the adapter cover. When A or D is empty, nothing is
 * written.
 *
 * Release sets every wanted adapter bit in apmask and every wanted domain
 * bit in aqmask; the collateral are the other existing queues that end up
 * with both bits set and did not have them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct apmatrix_plan {
	bool reserve;
	apm_bits before_ap, before_aq;
	apm_bits after_ap, after_aq;
	struct apmatrix_apqns *collateral;
};

/* queues of host other than those of want whose holder is HOST under (ap, aq) */
static bool is_host(const apm_bits ap, const apm_bits aq, unsigned int a,
		    unsigned int d)
{
	return bits_test(ap, a) && bits_test(aq, d);
}

/*
 * Fill s with the existing queues outside want that the default drivers
 * hold before and not after, or after and not before.
 */
static int collect(const struct apmatrix_host *host,
		   const struct apmatrix_matrix *want, const apm_bits bap,
		   const apm_bits baq, const apm_bits aap, const apm_bits aaq,
		   struct apmatrix_apqns *s)
{
	unsigned int i, j, a, d;
	int rc;

	apmatrix_apqns_clear(s);
	for (i = 0; i < apmatrix_host_num_cards(host); i++) {
		const struct apmatrix_card *c = apmatrix_host_card(host, i);

		for (j = 0; j < apmatrix_card_num_queues(c); j++) {
			const struct apmatrix_queue *q = apmatrix_card_queue(c, j);

			a = apmatrix_queue_apid(q);
			d = apmatrix_queue_apqi(q);
			if (apmatrix_matrix_has_apqn(want, a, d))
				continue;
			if (is_host(bap, baq, a, d) == is_host(aap, aaq, a, d))
				continue;
			rc = apmatrix_apqns_add(s, a, d);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/*
 * A plan from host's masks that changes nothing yet (after = before);
 * NULL with ctx's message on failure.
 */
static struct apmatrix_plan *plan_alloc(struct apmatrix_ctx *ctx,
					const struct apmatrix_host *host,
					bool reserve)
{
	struct apmatrix_matrix masks;
	struct apmatrix_plan *p = calloc(1, sizeof(*p));

	if (p)
		p->collateral = apmatrix_apqns_new();
	if (!p || !p->collateral) {
		free(p);
		apm_fail(ctx, ENOMEM, "out of memory");
		return NULL;
	}
	p->reserve = reserve;
	apmatrix_host_get_masks(host, APMATRIX_HOST_MASKS, &masks);
	memcpy(p->before_ap, masks.part[APMATRIX_ADAPTERS], sizeof(apm_bits));
	memcpy(p->before_aq, masks.part[APMATRIX_DOMAINS], sizeof(apm_bits));
	memcpy(p->after_ap, p->before_ap, sizeof(apm_bits));
	memcpy(p->after_aq, p->before_aq, sizeof(apm_bits));
	return p;
}

static int plan_new(struct apmatrix_ctx *ctx, const struct apmatrix_host *host,
		    const struct apmatrix_matrix *want, bool reserve,
		    struct apmatrix_plan **plan)
{
	struct apmatrix_plan *p;

	if (!ctx || !host || !want || !plan)
		return apm_fail(ctx, EINVAL, "bad arguments to apmatrix_plan_%s()",
				reserve ? "reserve" : "release");
	*plan = NULL;
	if (apm_bits_empty(want->part[APMATRIX_ADAPTERS]) ||
	    apm_bits_empty(want->part[APMATRIX_DOMAINS]))
		return apm_fail(ctx, EINVAL,
				"nothing to %s: the matrix has no usage APQN (it needs adapters and domains)",
				reserve ? "reserve" : "release");
	p = plan_alloc(ctx, host, reserve);
	if (!p)
		return -ENOMEM;
	*plan = p;
	return 0;
}

int apmatrix_plan_reserve(struct apmatrix_ctx *ctx,
			  const struct apmatrix_host *host,
			  const struct apmatrix_matrix *want,
			  struct apmatrix_plan **plan)
{
	const uint64_t *wa, *wd;
	apm_bits A, D, ap_a, aq_d;
	struct apmatrix_apqns *ca = NULL;
	struct apmatrix_plan *p;
	unsigned int i, na, nd, cna, cnd;
	bool adapters;
	int rc;

	apm_clear_error(ctx);
	rc = plan_new(ctx, host, want, true, plan);
	if (rc)
		return rc;
	p = *plan;
	wa = want->part[APMATRIX_ADAPTERS];
	wd = want->part[APMATRIX_DOMAINS];
	for (i = 0; i < APM_WORDS; i++) {
		A[i] = wa[i] & p->before_ap[i];
		D[i] = wd[i] & p->before_aq[i];
		ap_a[i] = p->before_ap[i] & ~A[i];
		aq_d[i] = p->before_aq[i] & ~D[i];
	}
	na = apm_bits_count(A);
	nd = apm_bits_count(D);
	if (!na || !nd)
		return 0;	/* the default drivers hold none of them */

	ca = apmatrix_apqns_new();
	if (!ca) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = collect(host, want, p->before_ap, p->before_aq, ap_a, p->before_aq, ca);
	if (!rc)
		rc = collect(host, want, p->before_ap, p->before_aq, p->before_ap,
			     aq_d, p->collateral);
	if (rc)
		goto fail;
	cna = apmatrix_apqns_count(ca);
	cnd = apmatrix_apqns_count(p->collateral);
	adapters = cna < cnd || (cna == cnd && na <= nd);
	if (adapters) {
		memcpy(p->after_ap, ap_a, sizeof(apm_bits));
		memcpy(p->collateral, ca, sizeof(*ca));
	} else {
		memcpy(p->after_aq, aq_d, sizeof(apm_bits));
	}
	apmatrix_apqns_free(ca);
	return 0;
fail:
	apmatrix_apqns_free(ca);
	apmatrix_plan_free(p);
	*plan = NULL;
	return apm_fail(ctx, -rc, "out of memory");
}

int apmatrix_plan_release(struct apmatrix_ctx *ctx,
			  const struct apmatrix_host *host,
			  const struct apmatrix_matrix *want,
			  struct apmatrix_plan **plan)
{
	struct apmatrix_plan *p;
	unsigned int i;
	int rc;

	apm_clear_error(ctx);
	rc = plan_new(ctx, host, want, false, plan);
	if (rc)
		return rc;
	p = *plan;
	for (i = 0; i < APM_WORDS; i++) {
		p->after_ap[i] |= want->part[APMATRIX_ADAPTERS][i];
		p->after_aq[i] |= want->part[APMATRIX_DOMAINS][i];
	}
	rc = collect(host, want, p->before_ap, p->before_aq, p->after_ap,
		     p->after_aq, p->collateral);
	if (rc) {
		apmatrix_plan_free(p);
		*plan = NULL;
		return apm_fail(ctx, -rc, "out of memory");
	}
	return 0;
}

void apmatrix_plan_free(struct apmatrix_plan *plan)
{
	if (!plan)
		return;
	apmatrix_apqns_free(plan->collateral);
	free(plan);
}

static bool same(const apm_bits a, const apm_bits b)
{
	return !memcmp(a, b, sizeof(apm_bits));
}

bool apmatrix_plan_is_noop(const struct apmatrix_plan *plan)
{
	return !plan || (same(plan->before_ap, plan->after_ap) &&
			 same(plan->before_aq, plan->after_aq));
}

int apmatrix_plan_get_masks(const struct apmatrix_plan *plan, bool after,
			    struct apmatrix_matrix *m)
{
	if (!plan || !m)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	memcpy(m->part[APMATRIX_ADAPTERS], after ? plan->after_ap : plan->before_ap,
	       sizeof(apm_bits));
	memcpy(m->part[APMATRIX_DOMAINS], after ? plan->after_aq : plan->before_aq,
	       sizeof(apm_bits));
	return 0;
}

const struct apmatrix_apqns *apmatrix_plan_collateral(const struct apmatrix_plan *plan)
{
	return plan ? plan->collateral : NULL;
}

/* ------------------------------------------------------------------------ */
/* apply */

/*
 * Write a mask the way `echo 0x... > apmask` does: one write of the text
 * the kernel prints (ap_hex2bitmap() takes "0x" + 64 digits + "\n").
 * Plain open/write/close, nothing else: a simulated host may interpose
 * them. 0 or -errno.
 */
static int write_mask(struct apmatrix_ctx *ctx, const char *name,
		      const apm_bits b)
{
	char *path = NULL, text[70];
	int err;

	apm_bits_to_mask(b, text);
	strcat(text, "\n");
	if (asprintf(&path, "%s/bus/ap/%s", ctx->sysfs_root, name) < 0)
		return -ENOMEM;
	err = apm_write_text(path, text, O_TRUNC);
	free(path);
	return err;
}

int apm_write_text(const char *path, const char *text, int oflags)
{
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC | oflags);
	if (fd < 0)
		return -errno;
	do {
		n = write(fd, text, strlen(text));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		err = errno;
	else if ((size_t)n != strlen(text))
		err = EIO;
	if (close(fd) && !err && errno != EINTR)
		err = errno;
	return -err;
}

/* Write plan's masks; the caller holds the AP configuration lock. */
int apm_plan_write(struct apmatrix_ctx *ctx, const struct apmatrix_plan *plan)
{
	bool ap_changes, aq_changes;
	apm_bits ap, aq;
	char e1[160], e2[160];
	int rc;

	rc = apm_read_mask_file(ctx, "apmask", ap);
	if (!rc)
		rc = apm_read_mask_file(ctx, "aqmask", aq);
	if (rc)
		return rc;
	if (!same(ap, plan->before_ap) || !same(aq, plan->before_aq))
		return apm_fail(ctx, EAGAIN,
				"apmask or aqmask changed since the plan was made: read the host and plan again");

	ap_changes = !same(plan->before_ap, plan->after_ap);
	aq_changes = !same(plan->before_aq, plan->after_aq);
	if (ap_changes) {
		rc = write_mask(ctx, "apmask", plan->after_ap);
		if (rc) {
			apm_set_msg(ctx, "writing apmask: %s; nothing changed",
				    apm_strerror(rc, e1, sizeof(e1)));
			return rc;
		}
	}
	if (aq_changes) {
		rc = write_mask(ctx, "aqmask", plan->after_aq);
		if (rc && !ap_changes) {
			apm_set_msg(ctx, "writing aqmask: %s; nothing changed",
				    apm_strerror(rc, e1, sizeof(e1)));
		} else if (rc) {
			int rb = write_mask(ctx, "apmask", plan->before_ap);

			if (rb)
				apm_set_msg(ctx,
					    "writing aqmask: %s; rolling apmask back failed too: %s (apmask is now as planned, aqmask unchanged)",
					    apm_strerror(rc, e1, sizeof(e1)),
					    apm_strerror(rb, e2, sizeof(e2)));
			else
				apm_set_msg(ctx, "writing aqmask: %s; apmask rolled back",
					    apm_strerror(rc, e1, sizeof(e1)));
		}
	}
	return rc;
}

/*
 * Undo a plan apm_plan_write() wrote: the masks as they were, in the
 * reverse order (aqmask first). 0 or the first -errno (both are tried);
 * the message names each mask that could not be written back and what
 * it stays.
 */
int apm_plan_unwrite(struct apmatrix_ctx *ctx, const struct apmatrix_plan *plan)
{
	char msg[APM_ERRLEN] = "", e[160], was[70], now[70];
	int rc = 0, r;
	size_t n;

	if (!same(plan->before_aq, plan->after_aq)) {
		rc = write_mask(ctx, "aqmask", plan->before_aq);
		if (rc) {
			apm_bits_to_mask(plan->before_aq, was);
			apm_bits_to_mask(plan->after_aq, now);
			snprintf(msg, sizeof(msg), "writing aqmask back to %s: %s: it stays %s",
				 was, apm_strerror(rc, e, sizeof(e)), now);
		}
	}
	if (!same(plan->before_ap, plan->after_ap)) {
		r = write_mask(ctx, "apmask", plan->before_ap);
		if (r) {
			n = strlen(msg);
			apm_bits_to_mask(plan->before_ap, was);
			apm_bits_to_mask(plan->after_ap, now);
			snprintf(msg + n, sizeof(msg) - n, "%swriting apmask back to %s: %s: it stays %s",
				 n ? "; " : "", was, apm_strerror(r, e, sizeof(e)), now);
		}
		if (!rc)
			rc = r;
	}
	if (rc)
		apm_fail(ctx, -rc, "%s", msg);
	return rc;
}

bool apm_plan_host_side(const struct apmatrix_plan *plan, bool after,
			unsigned int apid, unsigned int apqi)
{
	return after ? is_host(plan->after_ap, plan->after_aq, apid, apqi) :
		       is_host(plan->before_ap, plan->before_aq, apid, apqi);
}

int apmatrix_plan_apply(struct apmatrix_ctx *ctx,
			const struct apmatrix_plan *plan)
{
	struct apm_lock lock;
	bool held;
	int rc;

	apm_clear_error(ctx);
	if (!ctx || !plan)
		return apm_fail(ctx, EINVAL, "bad arguments to apmatrix_plan_apply()");
	if (apmatrix_plan_is_noop(plan))
		return 0;

	/* signals stay blocked while it is held: both masks or neither */
	held = ctx->txn_lock != NULL;	/* apmatrix_lock() holds it for the caller */
	if (!held) {
		rc = apm_lock_take(ctx, &lock);
		if (rc)
			return rc;
	}
	rc = apm_plan_write(ctx, plan);
	if (!held)
		apm_lock_release(ctx, &lock);	/* then the signals held back arrive */
	return rc;
}

int apmatrix_plan_masks(struct apmatrix_ctx *ctx,
			const struct apmatrix_host *host,
			const struct apmatrix_matrix *want,
			struct apmatrix_plan **plan)
{
	struct apmatrix_matrix none = { 0 };
	struct apmatrix_plan *p;
	int rc;

	if (!ctx || !host || !want || !plan)
		return apm_fail(ctx, EINVAL, "bad arguments to apmatrix_plan_masks()");
	*plan = NULL;
	/* the plan starts from the host view, as reserve/release do */
	p = plan_alloc(ctx, host, true);
	if (!p)
		return -ENOMEM;
	memcpy(p->after_ap, want->part[APMATRIX_ADAPTERS], sizeof(apm_bits));
	memcpy(p->after_aq, want->part[APMATRIX_DOMAINS], sizeof(apm_bits));
	rc = collect(host, &none, p->before_ap, p->before_aq, p->after_ap,
		     p->after_aq, p->collateral);
	if (rc) {
		rc = apm_fail(ctx, -rc, "out of memory");
		apmatrix_plan_free(p);
		return rc;
	}
	*plan = p;
	return 0;
}
