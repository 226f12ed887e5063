// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix: reserve for apmatrix - write the masks, then see that the
 * queues wanted end up bound to the apmatrix AP driver.
 *
 * Linux 6.12 (drivers/s390/crypto): apmask_store()/aqmask_store() call
 * ap_bus_revise_bindings() before they return, which re-probes every
 * queue that changed side (__ap_revise_reserved(): device_reprobe()).
 * ap_device_probe() lets only drivers without AP_DRIVER_FLAG_DEFAULT
 * have a queue whose apmask or aqmask bit is clear, and the driver core
 * tries the drivers in the order they registered: with vfio_ap built in,
 * or loaded before apmatrix, vfio_ap gets the queue. The same check lets
 * a write of the queue's name to bus/ap/drivers/apmatrix/bind probe it
 * there once vfio_ap let it go (bus/ap/drivers/vfio_ap/unbind).
 *
 * vfio_ap's remove() cannot refuse: unbinding a queue a mediated device
 * has unplugs its adapter from the guest (vfio_ap_mdev_remove_queue()).
 * So a queue is taken from vfio_ap only when its per-queue attribute
 * "status" (vfio_ap_ops.c status_show()) says "unassigned": no mediated
 * device's matrix has it; "assigned" (an mdev's matrix has it) and
 * "in use" (passed through to a guest) are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define VFIO_AP "vfio_ap"
#define APMATRIX "apmatrix"
#define SETTLE_POLL_MS 10

struct claim_entry {
	unsigned int apid, apqi;
	enum apmatrix_claim_action action;
	char *driver;		/* as found after the writes, NULL: none */
	char *reason;
};

struct apmatrix_claim {
	struct claim_entry *e;
	unsigned int n;
	bool masks_written;	/* the plan's masks are in place when it returned */
};

void apmatrix_claim_free(struct apmatrix_claim *c)
{
	unsigned int i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->e[i].driver);
		free(c->e[i].reason);
	}
	free(c->e);
	free(c);
}

unsigned int apmatrix_claim_count(const struct apmatrix_claim *c)
{
	return c ? c->n : 0;
}

bool apmatrix_claim_masks_written(const struct apmatrix_claim *c)
{
	return c && c->masks_written;
}

int apmatrix_claim_get(const struct apmatrix_claim *c, unsigned int idx,
		       unsigned int *apid, unsigned int *apqi,
		       enum apmatrix_claim_action *action, const char **driver,
		       const char **reason)
{
	const struct claim_entry *e;

	if (!c || idx >= c->n)
		return -ENOENT;
	e = &c->e[idx];
	if (apid)
		*apid = e->apid;
	if (apqi)
		*apqi = e->apqi;
	if (action)
		*action = e->action;
	if (driver)
		*driver = e->driver;
	if (reason)
		*reason = e->reason;
	return 0;
}

static void qname(const struct claim_entry *e, char name[16])
{
	snprintf(name, 16, "%02x.%04x", e->apid, e->apqi);
}

/* one line of bus/ap/devices/NAME/ATTR, newline stripped; -errno */
static int read_attr(struct apmatrix_ctx *ctx, const char *name,
		     const char *attr, char *buf, size_t len)
{
	char *path = NULL;
	ssize_t n;
	int fd, err;

	if (asprintf(&path, "%s/bus/ap/devices/%s/%s", ctx->sysfs_root, name,
		     attr) < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	free(path);
	if (fd < 0)
		return -errno;
	do {
		n = read(fd, buf, len - 1);
	} while (n < 0 && errno == EINTR);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/*
 * Is there bus/ap/DIR/NAME now (a directory when want_dir)? Out of
 * memory: nomem_answer, the answer that makes the caller do least.
 */
static bool bus_entry(struct apmatrix_ctx *ctx, const char *dir, const char *name,
		      bool want_dir, bool nomem_answer)
{
	char *path = NULL;
	struct stat st;
	bool ok;

	if (asprintf(&path, "%s/bus/ap/%s/%s", ctx->sysfs_root, dir, name) < 0)
		return nomem_answer;
	ok = !stat(path, &st) && (!want_dir || S_ISDIR(st.st_mode));
	free(path);
	return ok;
}

/* is the AP driver registered? (no: nothing is bound to it or waited for) */
static bool driver_loaded(struct apmatrix_ctx *ctx, const char *driver)
{
	return bus_entry(ctx, "drivers", driver, true, false);
}

/* does the queue device exist now? (yes: its driver is waited for) */
static bool queue_exists(struct apmatrix_ctx *ctx, const char *name)
{
	return bus_entry(ctx, "devices", name, false, true);
}

static int set_text(char **dst, const char *fmt, const char *arg)
{
	free(*dst);
	*dst = NULL;
	if (asprintf(dst, fmt, arg) < 0) {
		*dst = NULL;
		return -ENOMEM;
	}
	return 0;
}

/*
 * May vfio_ap's queue go? 0 yes ("unassigned"); -EADDRINUSE with the
 * reason in e when a mediated device has it or its status is unreadable.
 */
static int vfio_ap_free(struct apmatrix_ctx *ctx, struct claim_entry *e)
{
	char name[16], status[64], eb[160];
	int rc;

	qname(e, name);
	rc = read_attr(ctx, name, "status", status, sizeof(status));
	if (rc < 0) {
		char why[220];

		snprintf(why, sizeof(why),
			 "bound to vfio_ap, whose status attribute cannot be read (%s): cannot tell whether a mediated device has it",
			 apm_strerror(-rc, eb, sizeof(eb)));
		if (set_text(&e->reason, "%s", why))
			return -ENOMEM;
		return -EADDRINUSE;
	}
	if (!strcmp(status, "unassigned"))
		return 0;
	if (!strcmp(status, "in use"))
		rc = set_text(&e->reason,
			      "bound to vfio_ap and in use by a guest through a mediated device (status '%s')",
			      status);
	else if (!strcmp(status, "assigned"))
		rc = set_text(&e->reason,
			      "bound to vfio_ap and assigned to a mediated device (status '%s')",
			      status);
	else
		rc = set_text(&e->reason,
			      "bound to vfio_ap with status '%s': cannot tell whether a mediated device has it",
			      status);
	return rc ? rc : -EADDRINUSE;
}

/* vfio_ap_free(), a refusal made e's REFUSED and ctx's message; -errno */
static int vfio_ap_may_go(struct apmatrix_ctx *ctx, struct claim_entry *e)
{
	char name[16];
	int rc = vfio_ap_free(ctx, e);

	if (rc == -EADDRINUSE) {
		qname(e, name);
		e->action = APMATRIX_CLAIM_REFUSED;
		return apm_fail(ctx, EADDRINUSE, "%s: %s", name, e->reason);
	}
	return rc ? apm_fail(ctx, -rc, "out of memory") : 0;
}

static int now_driver(struct apmatrix_ctx *ctx, struct claim_entry *e)
{
	char name[16], drv[256];
	int rc;

	qname(e, name);
	rc = apm_queue_driver(ctx, name, drv, sizeof(drv));
	if (rc < 0)
		return rc;
	free(e->driver);
	e->driver = drv[0] ? strdup(drv) : NULL;
	if (drv[0] && !e->driver)
		return -ENOMEM;
	return 0;
}

static bool is(const char *driver, const char *name)
{
	return driver && !strcmp(driver, name);
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The bus re-probes synchronously inside the mask write, but a probe
 * may still be under way (device_reprobe() lets go of the driver first):
 * wait while a queue that still exists has no driver, at most the
 * context's settle timeout.
 */
static int settle(struct apmatrix_ctx *ctx, struct apmatrix_claim *c,
		  const struct apmatrix_plan *taken_by)
{
	long long end = ms_now() + ctx->settle_timeout_ms;
	struct timespec poll = { 0, SETTLE_POLL_MS * 1000000L };
	unsigned int i;
	bool waiting;
	char name[16];
	int rc;

	for (;;) {
		waiting = false;
		for (i = 0; i < c->n; i++) {
			rc = now_driver(ctx, &c->e[i]);
			if (rc)
				return rc;
			qname(&c->e[i], name);
			/* taken_by: only a queue it took is re-probed */
			if (!c->e[i].driver && queue_exists(ctx, name) &&
			    (!taken_by || apm_plan_host_side(taken_by, false, c->e[i].apid,
							     c->e[i].apqi)))
				waiting = true;
		}
		if (!waiting || ms_now() >= end)
			return 0;
		nanosleep(&poll, NULL);
	}
}

/* queue (apid, apqi) to driver (NULL: unbind) keeping ctx's message */
static int bind_to(struct apmatrix_ctx *ctx, const struct claim_entry *e,
		   const char *driver, char *msg, size_t len)
{
	int rc = apmatrix_queue_bind(ctx, e->apid, e->apqi, driver);

	if (rc && msg)
		snprintf(msg, len, "%s", ctx->err);
	return rc;
}

/* append "; TEXT" (or TEXT) to the undo message, as much as fits */
static void undo_add(char *undo, size_t len, const char *text)
{
	size_t n = strlen(undo), t;

	if (n + 3 >= len)
		return;
	if (n) {
		memcpy(undo + n, "; ", 2);
		n += 2;
	}
	t = strnlen(text, len - n - 1);
	memcpy(undo + n, text, t);
	undo[n + t] = '\0';
}

/*
 * After the masks are written back: a queue the plan gave to the default
 * drivers is set aside again, and the bus's re-probe gives it to the
 * first non-default driver registered (vfio_ap when that came first) or
 * to none. One that apmatrix had in host goes back to apmatrix (from
 * vfio_ap only while no mediated device has it); each failure is named
 * in undo.
 */
static void give_back_undo(struct apmatrix_ctx *ctx, const struct apmatrix_host *host,
			   const struct apmatrix_plan *plan, char *undo, size_t len)
{
	struct timespec poll = { 0, SETTLE_POLL_MS * 1000000L };
	char msg[APM_ERRLEN], name[16];
	long long end = ms_now() + ctx->settle_timeout_ms;	/* one wait for all */
	unsigned int i, k;
	int rc;

	for (i = 0; i < apmatrix_host_num_cards(host); i++) {
		const struct apmatrix_card *card = apmatrix_host_card(host, i);

		for (k = 0; k < apmatrix_card_num_queues(card); k++) {
			const struct apmatrix_queue *q = apmatrix_card_queue(card, k);
			struct claim_entry e = { apmatrix_queue_apid(q), apmatrix_queue_apqi(q),
						 APMATRIX_CLAIM_LEFT, NULL, NULL };

			if (!is(apmatrix_queue_driver(q), APMATRIX) ||
			    !apm_plan_host_side(plan, true, e.apid, e.apqi) ||
			    apm_plan_host_side(plan, false, e.apid, e.apqi))
				continue;
			qname(&e, name);
			while (!(rc = now_driver(ctx, &e)) && !e.driver &&
			       queue_exists(ctx, name) && ms_now() < end)
				nanosleep(&poll, NULL);
			msg[0] = '\0';
			if (rc) {
				snprintf(msg, sizeof(msg), "%s: its driver after the undo cannot be read",
					 name);
			} else if (is(e.driver, APMATRIX) || (!e.driver && !queue_exists(ctx, name))) {
				/* as it was, or gone from the host meanwhile */
			} else if (is(e.driver, VFIO_AP) && vfio_ap_free(ctx, &e)) {
				snprintf(msg, sizeof(msg), "%s: given to vfio_ap by the bus, left there: %s",
					 name, e.reason ? e.reason : "out of memory");
			} else if (e.driver && !is(e.driver, VFIO_AP)) {
				snprintf(msg, sizeof(msg), "%s: given to %s by the bus, apmatrix had it",
					 name, e.driver);
			} else if (e.driver && apm_queue_unbind_from(ctx, e.apid, e.apqi, VFIO_AP)) {
				snprintf(msg, sizeof(msg), "%s", ctx->err);
			} else if (apmatrix_queue_bind(ctx, e.apid, e.apqi, APMATRIX)) {
				snprintf(msg, sizeof(msg), "%s", ctx->err);
				/* not left without a driver: vfio_ap's again */
				if (e.driver)
					apmatrix_queue_bind(ctx, e.apid, e.apqi, VFIO_AP);
			}
			if (msg[0])
				undo_add(undo, len, msg);
			free(e.driver);
			free(e.reason);
		}
	}
}

/*
 * Undo moves and binds made so far, then the masks; every failure is
 * named in undo. A queue is unbound from apmatrix only while its
 * apmatrix_state says "free": a VMM that got it in the meantime would
 * lose it to the unbind (ap_matrix_remove() takes it from the guest), so
 * such a queue is left with apmatrix and named. An entry undone becomes
 * LEFT, its reason saying so. True when the masks stay written.
 */
static bool roll_back(struct apmatrix_ctx *ctx, struct apmatrix_claim *c,
		      const struct apmatrix_host *host,
		      const struct apmatrix_plan *plan, bool written,
		      char *undo, size_t len)
{
	char msg[APM_ERRLEN] = "", state[64], name[16];
	unsigned int i = c->n;
	int rc;

	undo[0] = '\0';
	while (i--) {
		struct claim_entry *en = &c->e[i];
		bool moved = en->action == APMATRIX_CLAIM_MOVED;

		if (!moved && en->action != APMATRIX_CLAIM_BOUND)
			continue;
		qname(en, name);
		if (!read_attr(ctx, name, "apmatrix_state", state, sizeof(state)) &&
		    strcmp(state, "free")) {
			snprintf(msg, sizeof(msg),
				 "%s: left with apmatrix, its apmatrix_state is '%s' (unbinding it would take it from that guest)",
				 name, state);
			undo_add(undo, len, msg);
			continue;
		}
		rc = apm_queue_unbind_from(ctx, en->apid, en->apqi, APMATRIX);
		if (rc)
			snprintf(msg, sizeof(msg), "%s", ctx->err);
		if (!rc && moved)
			rc = bind_to(ctx, en, en->driver, msg, sizeof(msg));
		if (rc) {
			undo_add(undo, len, msg);
			continue;
		}
		en->action = APMATRIX_CLAIM_LEFT;
		if (set_text(&en->reason, "%s", moved ?
			     "moved back to vfio_ap: the reserve failed" :
			     "unbound from apmatrix again: the reserve failed"))
			undo_add(undo, len, "out of memory");
	}
	if (written) {
		rc = apm_plan_unwrite(ctx, plan);
		if (rc) {
			undo_add(undo, len, ctx->err);
			return true;
		}
		give_back_undo(ctx, host, plan, undo, len);
	}
	return false;
}

/*
 * The queues of want that host has and the default drivers do not hold
 * after plan; with TAKEN_ONLY, of those only the ones the plan takes from
 * the default drivers and the ones host saw without a driver.
 */
static int add_candidates(const struct apmatrix_host *host,
			  const struct apmatrix_plan *plan,
			  const struct apmatrix_matrix *want,
			  unsigned int flags, struct apmatrix_claim *c)
{
	unsigned int i, j, n = 0;

	for (i = 0; i < apmatrix_host_num_cards(host); i++)
		n += apmatrix_card_num_queues(apmatrix_host_card(host, i));
	c->e = calloc(n ? n : 1, sizeof(*c->e));
	if (!c->e)
		return -ENOMEM;
	for (i = 0; i < apmatrix_host_num_cards(host); i++) {
		const struct apmatrix_card *card = apmatrix_host_card(host, i);

		for (j = 0; j < apmatrix_card_num_queues(card); j++) {
			const struct apmatrix_queue *q = apmatrix_card_queue(card, j);
			unsigned int a = apmatrix_queue_apid(q);
			unsigned int d = apmatrix_queue_apqi(q);

			if (!apmatrix_matrix_has_apqn(want, a, d) ||
			    apm_plan_host_side(plan, true, a, d))
				continue;
			if ((flags & APMATRIX_CLAIM_TAKEN_ONLY) &&
			    !apm_plan_host_side(plan, false, a, d) &&
			    apmatrix_queue_driver(q))
				continue;	/* set aside already, its driver's */
			c->e[c->n].apid = a;
			c->e[c->n].apqi = d;
			c->e[c->n].action = APMATRIX_CLAIM_LEFT;
			c->n++;
		}
	}
	return 0;
}

/*
 * What becomes of one queue bound as e->driver says: KEPT (apmatrix's
 * already), LEFT (reason set), REFUSED (reason set; -EADDRINUSE, ctx's
 * message naming it), MOVED (vfio_ap's, no mediated device has it) or
 * BOUND (no driver); the last two are only decided, not done. Reads, never
 * writes: reserve acts on it (claim_one), --dry-run reports it (predict).
 */
static int claim_decide(struct apmatrix_ctx *ctx, struct claim_entry *e,
			unsigned int flags, bool have_apmatrix)
{
	char name[16];
	int rc;

	qname(e, name);
	if (is(e->driver, APMATRIX)) {
		e->action = APMATRIX_CLAIM_KEPT;
		return 0;
	}
	e->action = APMATRIX_CLAIM_LEFT;
	if (!e->driver && !queue_exists(ctx, name))	/* left the configuration meanwhile */
		return set_text(&e->reason, "%s", "gone from the host");
	if (e->driver && !is(e->driver, VFIO_AP))
		return set_text(&e->reason, "bound to %s: only queues with vfio_ap or no driver are moved",
				e->driver);
	if (flags & APMATRIX_CLAIM_NO_REBIND)
		return set_text(&e->reason, "%s", e->driver ?
				"bound to vfio_ap, left there (no rebinding asked for)" :
				"bound to no driver, left so (no rebinding asked for)");
	if (!have_apmatrix)
		return set_text(&e->reason, "bound to %s: the apmatrix driver is not loaded",
				e->driver ? e->driver : "no driver");
	if (!e->driver) {
		e->action = APMATRIX_CLAIM_BOUND;
		return 0;
	}
	rc = vfio_ap_may_go(ctx, e);
	if (rc)
		return rc;
	e->action = APMATRIX_CLAIM_MOVED;
	return 0;
}

/* decide and act for one queue; -errno with ctx's message set */
static int claim_one(struct apmatrix_ctx *ctx, struct claim_entry *e,
		     unsigned int flags, bool have_apmatrix)
{
	char msg[APM_ERRLEN];
	int rc;

	rc = claim_decide(ctx, e, flags, have_apmatrix);
	if (rc || (e->action != APMATRIX_CLAIM_MOVED && e->action != APMATRIX_CLAIM_BOUND))
		return rc;
	if (e->action == APMATRIX_CLAIM_MOVED) {
		rc = bind_to(ctx, e, NULL, msg, sizeof(msg));
		if (rc) {
			e->action = APMATRIX_CLAIM_REFUSED;
			set_text(&e->reason, "%s", msg);
			return apm_fail(ctx, -rc, "%s", msg);
		}
		/* MOVED: so that an undo binds it back */
	} else {
		e->action = APMATRIX_CLAIM_LEFT;	/* BOUND once it is */
	}
	rc = bind_to(ctx, e, APMATRIX, msg, sizeof(msg));
	if (rc) {
		/* back to vfio_ap now; if that fails too, the undo tries again */
		if (e->action == APMATRIX_CLAIM_MOVED &&
		    bind_to(ctx, e, e->driver, NULL, 0) == 0)
			e->action = APMATRIX_CLAIM_LEFT;
		set_text(&e->reason, "%s", msg);
		apm_fail(ctx, -rc, "%s", msg);
		return rc;
	}
	if (!e->driver)
		e->action = APMATRIX_CLAIM_BOUND;
	return 0;
}

/* a failed call's queues it did not get to (LEFT, no reason yet): say why */
static void unreached(struct apmatrix_claim *c)
{
	unsigned int i;

	for (i = 0; i < c->n; i++)
		if (c->e[i].action == APMATRIX_CLAIM_LEFT && !c->e[i].reason &&
		    set_text(&c->e[i].reason, "%s", "not bound to apmatrix: the reserve failed"))
			break;
}

/*
 * --dry-run: what reserve would do, from each queue's driver now, nothing
 * written and no lock taken. A queue a default driver has now is the
 * bus's to re-probe after the mask write (REPROBE); one with vfio_ap a
 * mediated device has is refused as reserve refuses it before writing
 * (the first such is the error, "nothing changed"); every queue is looked
 * at.
 */
static int predict(struct apmatrix_ctx *ctx, const struct apmatrix_plan *plan,
		   struct apmatrix_claim *c, unsigned int flags)
{
	bool have_apmatrix = driver_loaded(ctx, APMATRIX);
	bool vfio = have_apmatrix && !(flags & APMATRIX_CLAIM_NO_REBIND) &&
		    driver_loaded(ctx, VFIO_AP);
	char name[16], eb[160], first[APM_ERRLEN] = "";
	unsigned int i;
	int rc, first_rc = 0;

	for (i = 0; i < c->n; i++) {
		struct claim_entry *e = &c->e[i];

		qname(e, name);
		rc = now_driver(ctx, e);
		if (rc)
			return apm_fail(ctx, -rc, "reading the driver of %s: %s", name,
					apm_strerror(-rc, eb, sizeof(eb)));
		if (apm_plan_host_side(plan, false, e->apid, e->apqi)) {
			e->action = APMATRIX_CLAIM_REPROBE;
			rc = vfio ? set_text(&e->reason, "%s",
					     "vfio_ap may get it from the bus's re-probe: then it is moved unless a mediated device has it") : 0;
		} else {
			rc = claim_decide(ctx, e, flags, have_apmatrix);
		}
		if (rc == -EADDRINUSE && !first_rc) {
			first_rc = rc;
			snprintf(first, sizeof(first), "%s", ctx->err);
		} else if (rc && rc != -EADDRINUSE) {
			return rc == -ENOMEM ? apm_fail(ctx, ENOMEM, "out of memory") : rc;
		}
	}
	if (!first_rc)
		return 0;
	/* refused: the real call moves, binds and writes nothing, as here */
	for (i = 0; i < c->n; i++) {
		enum apmatrix_claim_action a = c->e[i].action;

		if (a == APMATRIX_CLAIM_MOVED || a == APMATRIX_CLAIM_BOUND ||
		    a == APMATRIX_CLAIM_REPROBE) {
			c->e[i].action = APMATRIX_CLAIM_LEFT;
			free(c->e[i].reason);
			c->e[i].reason = NULL;
		}
	}
	unreached(c);
	apm_set_msg(ctx, "%s: nothing changed", first);
	return first_rc;
}

/*
 * Refuse when a queue of c with vfio_ap may not go (a mediated device
 * has it): -EADDRINUSE, that entry REFUSED, the message naming it. With
 * read, each queue's driver is read first, else the entries' are used.
 */
static int refuse_check(struct apmatrix_ctx *ctx, struct apmatrix_claim *c,
			bool read)
{
	char name[16], eb[160];
	unsigned int i;
	int rc;

	for (i = 0; i < c->n; i++) {
		struct claim_entry *e = &c->e[i];

		qname(e, name);
		rc = read ? now_driver(ctx, e) : 0;
		if (rc)
			return apm_fail(ctx, -rc, "reading the driver of %s: %s", name,
					apm_strerror(-rc, eb, sizeof(eb)));
		if (!is(e->driver, VFIO_AP))
			continue;
		rc = vfio_ap_may_go(ctx, e);
		if (rc)
			return rc;
	}
	return 0;
}

int apmatrix_plan_apply_claim(struct apmatrix_ctx *ctx,
			      const struct apmatrix_host *host,
			      const struct apmatrix_plan *plan,
			      const struct apmatrix_matrix *want,
			      unsigned int flags, struct apmatrix_claim **out)
{
	struct apmatrix_claim *c;
	char first[APM_ERRLEN], undo[APM_ERRLEN];
	bool held, written = false, have_apmatrix;
	struct apm_lock lock;
	unsigned int i;
	int rc;

	apm_clear_error(ctx);
	if (out)
		*out = NULL;
	if (!ctx || !host || !plan || !want ||
	    (flags & ~(APMATRIX_CLAIM_NO_REBIND | APMATRIX_CLAIM_DRY_RUN |
		       APMATRIX_CLAIM_TAKEN_ONLY)))
		return apm_fail(ctx, EINVAL, "bad arguments to apmatrix_plan_apply_claim()");
	c = calloc(1, sizeof(*c));
	if (!c || add_candidates(host, plan, want, flags, c)) {
		apmatrix_claim_free(c);
		return apm_fail(ctx, ENOMEM, "out of memory");
	}
	if (flags & APMATRIX_CLAIM_DRY_RUN) {
		/* the lock the real run takes refuses a bad environment time */
		rc = c->n || !apmatrix_plan_is_noop(plan) ? apm_env_refusal(ctx) : 0;
		if (!rc)
			rc = predict(ctx, plan, c, flags);
		goto out;
	}

	rc = 0;
	if (!c->n && apmatrix_plan_is_noop(plan))
		goto out;	/* nothing to write, no queue to look at */
	held = ctx->txn_lock != NULL;
	if (!held) {
		rc = apm_lock_take(ctx, &lock);
		if (rc)
			goto out;
	}
	have_apmatrix = driver_loaded(ctx, APMATRIX);

	/* a queue with vfio_ap already that may not go: refused, nothing written */
	if (!(flags & APMATRIX_CLAIM_NO_REBIND) && have_apmatrix) {
		rc = refuse_check(ctx, c, true);
		if (rc) {
			snprintf(first, sizeof(first), "%s", ctx->err);
			apm_set_msg(ctx, "%s: nothing changed", first);
			unreached(c);
			goto unlock;
		}
	}

	if (!apmatrix_plan_is_noop(plan)) {
		rc = apm_plan_write(ctx, plan);
		if (rc)
			goto unlock;
		written = true;
	}
	/* no wait when no non-default driver that could probe them is loaded */
	rc = written && (have_apmatrix || driver_loaded(ctx, VFIO_AP)) ?
	     settle(ctx, c, flags & APMATRIX_CLAIM_TAKEN_ONLY ? plan : NULL) : 0;
	for (i = 0; !rc && i < c->n; i++)
		rc = written ? 0 : now_driver(ctx, &c->e[i]);
	if (rc) {
		apm_fail(ctx, -rc, "reading the queues' drivers after the mask write: %s",
			 apm_strerror(-rc, first, sizeof(first)));
		snprintf(first, sizeof(first), "%s", ctx->err);
		goto undo;
	}
	/* and one the re-probe gave vfio_ap: refused before any queue is moved */
	if (!(flags & APMATRIX_CLAIM_NO_REBIND) && have_apmatrix) {
		rc = refuse_check(ctx, c, false);
		if (rc) {
			snprintf(first, sizeof(first), "%s", ctx->err);
			goto undo;
		}
	}
	for (i = 0; i < c->n; i++) {
		rc = claim_one(ctx, &c->e[i], flags, have_apmatrix);
		if (rc)
			break;
	}
	if (!rc) {
		c->masks_written = written;
		goto unlock;
	}
	snprintf(first, sizeof(first), "%s", ctx->err);
undo:
	c->masks_written = roll_back(ctx, c, host, plan, written, undo, sizeof(undo));
	unreached(c);	/* those it did not get to */
	if (undo[0])
		apm_set_msg(ctx, "%s; undoing it failed: %s", first, undo);
	else
		apm_set_msg(ctx, "%s: nothing changed", first);
unlock:
	if (!held)
		apm_lock_release(ctx, &lock);
out:
	if (out)
		*out = c;
	else
		apmatrix_claim_free(c);
	return rc;
}
