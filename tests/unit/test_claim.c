// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix unit tests: apmatrix_plan_apply_claim() - reserve's masks,
 * then the queues' driver - on a fake sysfs tree. A plain tree does not
 * re-probe: the drivers found after the writes are the tree's links, and
 * bind/unbind files keep the names written to them.
 *
 * The tree: apmask all but adapter 8, aqmask all. 05.0004-0005 with
 * cex4queue (the host's); 08.0004 vfio_ap "unassigned", 08.0005 vfio_ap
 * "assigned", 08.0006 no driver, 08.0007 apmatrix.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apmatrix.h"
#include "tutil.h"

static struct tree t;
static struct apmatrix_ctx *ctx;
static struct apmatrix_host *host;
static struct apmatrix_plan *plan;
static struct apmatrix_matrix *want;
static struct apmatrix_claim *claim;

static void status(unsigned int a, unsigned int d, const char *text)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/devices/ap/card%02x/%02x.%04x/status", t.sys, a, a, d);
	write_file(p, text);
}

static void setup(void)
{
	tree_init(&t, "0-7,9-255", "all");
	tree_queues(&t, "5", "4-5", "cex4queue");
	tree_queue(&t, 8, 4, -2, "vfio_ap");
	tree_queue(&t, 8, 5, -2, "vfio_ap");
	tree_queue(&t, 8, 6, -2, NULL);
	tree_queue(&t, 8, 7, -2, "apmatrix");
	status(8, 4, "unassigned\n");
	status(8, 5, "assigned\n");
	tree_bus_attr(&t, "drivers/apmatrix/bind", "");
	tree_bus_attr(&t, "drivers/apmatrix/unbind", "");
	tree_bus_attr(&t, "drivers/vfio_ap/bind", "");
	tree_bus_attr(&t, "drivers/vfio_ap/unbind", "");
	/* the settle wait, short: the tree never binds anything by itself */
	setenv("APMATRIX_SETTLE_TIMEOUT", "0.2", 1);
	ctx = tree_ctx(&t);
	unsetenv("APMATRIX_SETTLE_TIMEOUT");
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), 0);
	plan = NULL;
	want = NULL;
	claim = NULL;
}

static void teardown(void)
{
	apmatrix_claim_free(claim);
	apmatrix_matrix_free(want);
	apmatrix_plan_free(plan);
	apmatrix_host_free(host);
	apmatrix_ctx_free(ctx);
	tree_free(&t);
}

static int reserve(const char *apqns, unsigned int flags)
{
	want = mat(apqns);
	ck_assert_int_eq(apmatrix_plan_reserve(ctx, host, want, &plan), 0);
	return apmatrix_plan_apply_claim(ctx, host, plan, want, flags, &claim);
}

static void expect(unsigned int idx, const char *apqn, enum apmatrix_claim_action act,
		   const char *driver, const char *reason)
{
	enum apmatrix_claim_action a;
	const char *drv, *why;
	unsigned int ap, aq;
	char name[16];

	ck_assert_int_eq(apmatrix_claim_get(claim, idx, &ap, &aq, &a, &drv, &why), 0);
	snprintf(name, sizeof(name), "%02x.%04x", ap, aq);
	ck_assert_str_eq(name, apqn);
	ck_assert_int_eq(a, act);
	if (driver)
		ck_assert_str_eq(drv, driver);
	else
		ck_assert_ptr_null(drv);
	if (reason)
		ck_assert_str_eq(why, reason);
	else
		ck_assert_ptr_null(why);
}

static const char *bus(const char *rel, char *buf, size_t len)
{
	return tree_read(&t, rel, buf, len);
}

START_TEST(moves_binds_keeps)
{
	char b[256];

	ck_assert_int_eq(reserve("08.0004,08.0006-0007", 0), 0);
	ck_assert_int_eq(apmatrix_claim_count(claim), 3);
	expect(0, "08.0004", APMATRIX_CLAIM_MOVED, "vfio_ap", NULL);
	expect(1, "08.0006", APMATRIX_CLAIM_BOUND, NULL, NULL);
	expect(2, "08.0007", APMATRIX_CLAIM_KEPT, "apmatrix", NULL);
	ck_assert_str_eq(bus("drivers/vfio_ap/unbind", b, sizeof(b)), "08.0004\n");
	ck_assert_str_eq(bus("drivers/apmatrix/bind", b, sizeof(b)), "08.0004\n08.0006\n");
	ck_assert_int_eq(apmatrix_claim_get(claim, 3, NULL, NULL, NULL, NULL, NULL), -ENOENT);
}
END_TEST

/* DRY_RUN: the same decisions from the drivers now, nothing written or taken */
START_TEST(dry_run_predicts)
{
	char ap[128], aq[128], b[256];

	bus("apmask", ap, sizeof(ap));
	bus("aqmask", aq, sizeof(aq));
	ck_assert_int_eq(reserve("05-08.0004-0007", APMATRIX_CLAIM_DRY_RUN), -EADDRINUSE);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "08.0005: bound to vfio_ap and assigned to a mediated device (status 'assigned'): nothing changed");
	ck_assert_int_eq(apmatrix_claim_count(claim), 6);
	/* refused: what the real call says of the others, nothing moved or bound */
	expect(0, "05.0004", APMATRIX_CLAIM_LEFT, "cex4queue",
	       "not bound to apmatrix: the reserve failed");
	expect(1, "05.0005", APMATRIX_CLAIM_LEFT, "cex4queue",
	       "not bound to apmatrix: the reserve failed");
	expect(2, "08.0004", APMATRIX_CLAIM_LEFT, "vfio_ap",
	       "not bound to apmatrix: the reserve failed");
	expect(3, "08.0005", APMATRIX_CLAIM_REFUSED, "vfio_ap",
	       "bound to vfio_ap and assigned to a mediated device (status 'assigned')");
	expect(4, "08.0006", APMATRIX_CLAIM_LEFT, NULL,
	       "not bound to apmatrix: the reserve failed");
	expect(5, "08.0007", APMATRIX_CLAIM_KEPT, "apmatrix", NULL);
	ck_assert(!apmatrix_claim_masks_written(claim));
	ck_assert_str_eq(bus("apmask", b, sizeof(b)), ap);
	ck_assert_str_eq(bus("aqmask", b, sizeof(b)), aq);
	ck_assert_str_eq(bus("drivers/vfio_ap/unbind", b, sizeof(b)), "");
	ck_assert_str_eq(bus("drivers/apmatrix/bind", b, sizeof(b)), "");
	ck_assert(access(t.lock, F_OK) != 0);
	/* no mediated device has it now: it would be moved too */
	status(8, 5, "unassigned\n");
	apmatrix_claim_free(claim);
	claim = NULL;
	ck_assert_int_eq(apmatrix_plan_apply_claim(ctx, host, plan, want,
						   APMATRIX_CLAIM_DRY_RUN, &claim), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), "");
	expect(0, "05.0004", APMATRIX_CLAIM_REPROBE, "cex4queue",
	       "vfio_ap may get it from the bus's re-probe: then it is moved unless a mediated device has it");
	expect(1, "05.0005", APMATRIX_CLAIM_REPROBE, "cex4queue",
	       "vfio_ap may get it from the bus's re-probe: then it is moved unless a mediated device has it");
	expect(2, "08.0004", APMATRIX_CLAIM_MOVED, "vfio_ap", NULL);
	expect(3, "08.0005", APMATRIX_CLAIM_MOVED, "vfio_ap", NULL);
	expect(4, "08.0006", APMATRIX_CLAIM_BOUND, NULL, NULL);
	expect(5, "08.0007", APMATRIX_CLAIM_KEPT, "apmatrix", NULL);
	ck_assert_str_eq(bus("drivers/vfio_ap/unbind", b, sizeof(b)), "");
	ck_assert_str_eq(bus("apmask", b, sizeof(b)), ap);
}
END_TEST

/*
 * A flag this library does not know: -EINVAL, nothing looked at, written
 * or taken - what a caller built against a newer header gets from an
 * older library (0.2.0 knew NO_REBIND only), so it can tell.
 */
START_TEST(unknown_flags_refused)
{
	static const unsigned int bad[] = { 1U << 3, 1U << 31, ~0U,
					    APMATRIX_CLAIM_DRY_RUN | (1U << 5) };
	struct apmatrix_claim *got;
	char ap[128], aq[128], b[128];
	unsigned int i;

	bus("apmask", ap, sizeof(ap));
	bus("aqmask", aq, sizeof(aq));
	want = mat("08.0004,08.0006");
	ck_assert_int_eq(apmatrix_plan_reserve(ctx, host, want, &plan), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		got = (struct apmatrix_claim *)&i;	/* set to NULL on failure */
		ck_assert_int_eq(apmatrix_plan_apply_claim(ctx, host, plan, want, bad[i], &got),
				 -EINVAL);
		ck_assert_ptr_null(got);
		ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
				 "bad arguments to apmatrix_plan_apply_claim()");
	}
	ck_assert_str_eq(bus("apmask", b, sizeof(b)), ap);
	ck_assert_str_eq(bus("aqmask", b, sizeof(b)), aq);
	ck_assert_str_eq(bus("drivers/vfio_ap/unbind", b, sizeof(b)), "");
	ck_assert_str_eq(bus("drivers/apmatrix/bind", b, sizeof(b)), "");
	ck_assert(access(t.lock, F_OK) != 0);
}
END_TEST

/*
 * A lock wait the real run's lock refuses (APMATRIX_LOCK_TIMEOUT=5s):
 * DRY_RUN refuses it too (it predicted a success the real call could
 * not have), nothing written either way.
 */
START_TEST(dry_run_bad_env)
{
	const char *bad = "APMATRIX_LOCK_TIMEOUT '5s': not a number of seconds from 0 to 86400";
	char ap[128], b[128];

	apmatrix_ctx_free(ctx);
	setenv("APMATRIX_LOCK_TIMEOUT", "5s", 1);
	ctx = tree_ctx(&t);
	unsetenv("APMATRIX_LOCK_TIMEOUT");
	bus("apmask", ap, sizeof(ap));
	ck_assert_int_eq(reserve("05.0004", APMATRIX_CLAIM_DRY_RUN), -EINVAL);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), bad);
	apmatrix_claim_free(claim);
	claim = NULL;
	ck_assert_int_eq(apmatrix_plan_apply_claim(ctx, host, plan, want, 0, &claim), -EINVAL);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), bad);
	ck_assert_str_eq(bus("apmask", b, sizeof(b)), ap);
	ck_assert(access(t.lock, F_OK) != 0);
}
END_TEST

/*
 * TAKEN_ONLY (apply): of every APQN, only the queues the plan takes from
 * the host and those without a driver; vfio_ap's 08.0004-0005 (set aside
 * already, one assigned) and apmatrix's 08.0007 are not looked at.
 */
START_TEST(taken_only)
{
	struct apmatrix_matrix *m = apmatrix_matrix_new();
	char b[256];
	unsigned int i;

	for (i = 0; i <= APMATRIX_MAX_ID; i++) {
		apmatrix_matrix_set(m, APMATRIX_ADAPTERS, i, i != 5 && i != 8);
		apmatrix_matrix_set(m, APMATRIX_DOMAINS, i, true);
	}
	ck_assert_int_eq(apmatrix_plan_masks(ctx, host, m, &plan), 0);
	for (i = 0; i <= APMATRIX_MAX_ID; i++)
		apmatrix_matrix_set(m, APMATRIX_ADAPTERS, i, true);
	ck_assert_int_eq(apmatrix_plan_apply_claim(ctx, host, plan, m, APMATRIX_CLAIM_TAKEN_ONLY,
						   &claim), 0);
	ck_assert_int_eq(apmatrix_claim_count(claim), 3);
	expect(0, "05.0004", APMATRIX_CLAIM_LEFT, "cex4queue",
	       "bound to cex4queue: only queues with vfio_ap or no driver are moved");
	expect(1, "05.0005", APMATRIX_CLAIM_LEFT, "cex4queue",
	       "bound to cex4queue: only queues with vfio_ap or no driver are moved");
	expect(2, "08.0006", APMATRIX_CLAIM_BOUND, NULL, NULL);
	ck_assert_str_eq(bus("drivers/apmatrix/bind", b, sizeof(b)), "08.0006\n");
	ck_assert_str_eq(bus("drivers/vfio_ap/unbind", b, sizeof(b)), "");
	ck_assert(apmatrix_claim_masks_written(claim));
	apmatrix_matrix_free(m);
}
END_TEST

START_TEST(refuses_assigned_before_writing)
{
	char b[256], m[68];

	/* 05.0004-0005 would clear a mask bit: nothing is written */
	ck_assert_int_eq(reserve("05.0004-0005,08.0004-0005", 0), -EADDRINUSE);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "08.0005: bound to vfio_ap and assigned to a mediated device (status 'assigned'): nothing changed");
	ck_assert_str_eq(bus("drivers/vfio_ap/unbind", b, sizeof(b)), "");
	ck_assert_str_eq(bus("drivers/apmatrix/bind", b, sizeof(b)), "");
	ck_assert_str_eq(bus("apmask", b, sizeof(b)), mask_text("0-7,9-255", m));
	ck_assert_str_eq(bus("aqmask", b, sizeof(b)), mask_text("0-255", m));
	expect(3, "08.0005", APMATRIX_CLAIM_REFUSED, "vfio_ap",
	       "bound to vfio_ap and assigned to a mediated device (status 'assigned')");
	/* the others say why they stay, as a DRY_RUN of it says */
	expect(2, "08.0004", APMATRIX_CLAIM_LEFT, "vfio_ap",
	       "not bound to apmatrix: the reserve failed");
	apmatrix_claim_free(claim);
	claim = NULL;
	ck_assert_int_eq(apmatrix_plan_apply_claim(ctx, host, plan, want, APMATRIX_CLAIM_DRY_RUN,
						   &claim), -EADDRINUSE);
	expect(2, "08.0004", APMATRIX_CLAIM_LEFT, "vfio_ap",
	       "not bound to apmatrix: the reserve failed");
	expect(3, "08.0005", APMATRIX_CLAIM_REFUSED, "vfio_ap",
	       "bound to vfio_ap and assigned to a mediated device (status 'assigned')");
}
END_TEST

START_TEST(refuses_in_use_and_unreadable)
{
	status(8, 4, "in use\n");
	ck_assert_int_eq(reserve("08.0004", 0), -EADDRINUSE);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "08.0004: bound to vfio_ap and in use by a guest through a mediated device (status 'in use'): nothing changed");
	apmatrix_claim_free(claim);
	apmatrix_matrix_free(want);
	apmatrix_plan_free(plan);
	status(8, 4, "whatever\n");
	ck_assert_int_eq(reserve("08.0004", 0), -EADDRINUSE);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "08.0004: bound to vfio_ap with status 'whatever': cannot tell whether a mediated device has it: nothing changed");
}
END_TEST

START_TEST(no_rebind)
{
	char b[256];

	ck_assert_int_eq(reserve("08.0004-0006", APMATRIX_CLAIM_NO_REBIND), 0);
	expect(0, "08.0004", APMATRIX_CLAIM_LEFT, "vfio_ap",
	       "bound to vfio_ap, left there (no rebinding asked for)");
	expect(1, "08.0005", APMATRIX_CLAIM_LEFT, "vfio_ap",
	       "bound to vfio_ap, left there (no rebinding asked for)");
	expect(2, "08.0006", APMATRIX_CLAIM_LEFT, NULL,
	       "bound to no driver, left so (no rebinding asked for)");
	ck_assert_str_eq(bus("drivers/vfio_ap/unbind", b, sizeof(b)), "");
	ck_assert_str_eq(bus("drivers/apmatrix/bind", b, sizeof(b)), "");
}
END_TEST

START_TEST(apmatrix_not_loaded)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/bus/ap/drivers/apmatrix", t.sys);
	rm_rf(p);
	ck_assert_int_eq(reserve("08.0004,08.0006", 0), 0);
	expect(0, "08.0004", APMATRIX_CLAIM_LEFT, "vfio_ap",
	       "bound to vfio_ap: the apmatrix driver is not loaded");
	expect(1, "08.0006", APMATRIX_CLAIM_LEFT, NULL,
	       "bound to no driver: the apmatrix driver is not loaded");
}
END_TEST

static long long ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(failure_after_write_undone)
{
	char b[256], m[68], p[PATH_MAX];
	long long t0;

	/* 05-08.0006: aqmask bit 6 is cleared; 08.0006 has no driver and
	 * binding it fails (no bind file): aqmask is written back */
	snprintf(p, sizeof(p), "%s/bus/ap/drivers/apmatrix/bind", t.sys);
	ck_assert_int_eq(unlink(p), 0);
	t0 = ms();
	ck_assert_int_eq(reserve("05.0006,08.0006", 0), -ENOENT);
	/* it waited for the bus to bind 08.0006, at most the settle timeout */
	ck_assert_int_ge(ms() - t0, 150);
	ck_assert_int_lt(ms() - t0, 2000);
	snprintf(p, sizeof(p), "binding 08.0006: writing %s/bus/ap/drivers/apmatrix/bind: ", t.sys);
	ck_assert_msg(!strncmp(apmatrix_ctx_last_error(ctx), p, strlen(p)) &&
		      strstr(apmatrix_ctx_last_error(ctx), ": nothing changed"), "%s",
		      apmatrix_ctx_last_error(ctx));
	ck_assert_str_eq(bus("aqmask", b, sizeof(b)), mask_text("0-255", m));
	ck_assert_str_eq(bus("apmask", b, sizeof(b)), mask_text("0-7,9-255", m));
}
END_TEST


static void attr(unsigned int a, unsigned int d, const char *name, const char *text)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/devices/ap/card%02x/%02x.%04x/%s", t.sys, a, a, d, name);
	write_file(p, text);
}

/*
 * 08.0003 (no driver) is bound to apmatrix, then unbinding 08.0004 from
 * vfio_ap fails. The undo unbinds 08.0003 from apmatrix by name (its
 * unbind file, not whatever driver it has now) and the entry says so -
 * unless a VMM got 08.0003 between its bind and the undo: then it is not
 * unbound (ap_matrix_remove() would take it from that guest) and the
 * message says it stays with apmatrix.
 */
static const struct {
	const char *state;		/* 08.0003's apmatrix_state at the undo */
	const char *unbound;		/* apmatrix's unbind file after */
	enum apmatrix_claim_action action;
	const char *reason;
	const char *undo_failed;	/* in the message; NULL: "nothing changed" */
} undo_cases[] = {
	{ "free\n", "08.0003\n", APMATRIX_CLAIM_LEFT,
	  "unbound from apmatrix again: the reserve failed", NULL },
	{ "in use 4242\n", "", APMATRIX_CLAIM_BOUND, NULL,
	  "; undoing it failed: 08.0003: left with apmatrix, its apmatrix_state is "
	  "'in use 4242' (unbinding it would take it from that guest)" },
};

START_TEST(undo_of_a_queue_bound)
{
	const char *msg = apmatrix_ctx_last_error(ctx);
	char b[256], p[PATH_MAX];

	tree_queue(&t, 8, 3, -2, NULL);
	attr(8, 3, "apmatrix_state", undo_cases[_i].state);
	apmatrix_host_free(host);
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), 0);
	snprintf(p, sizeof(p), "%s/bus/ap/drivers/vfio_ap/unbind", t.sys);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(reserve("08.0003-0004", 0), -ENOENT);
	ck_assert_str_eq(bus("drivers/apmatrix/bind", b, sizeof(b)), "08.0003\n");
	ck_assert_str_eq(bus("drivers/apmatrix/unbind", b, sizeof(b)), undo_cases[_i].unbound);
	expect(0, "08.0003", undo_cases[_i].action, NULL, undo_cases[_i].reason);
	snprintf(p, sizeof(p), "unbinding 08.0004: writing %s/bus/ap/drivers/vfio_ap/unbind: ", t.sys);
	ck_assert_msg(!strncmp(msg, p, strlen(p)), "%s", msg);
	if (undo_cases[_i].undo_failed)
		ck_assert_msg(strstr(msg, undo_cases[_i].undo_failed), "%s", msg);
	else
		ck_assert_msg(strstr(msg, ": nothing changed") && !strstr(msg, "undoing"),
			      "%s", msg);
}
END_TEST

/*
 * Neither apmatrix nor vfio_ap loaded: nobody will probe 08.0006, so
 * reserve does not wait the settle timeout for it (with the lock held
 * and signals blocked).
 */
START_TEST(no_settle_wait_without_a_driver_to_probe)
{
	char p[PATH_MAX];
	long long t0;

	apmatrix_ctx_free(ctx);
	setenv("APMATRIX_SETTLE_TIMEOUT", "5", 1);
	ctx = tree_ctx(&t);
	unsetenv("APMATRIX_SETTLE_TIMEOUT");
	snprintf(p, sizeof(p), "%s/bus/ap/drivers/apmatrix", t.sys);
	rm_rf(p);
	snprintf(p, sizeof(p), "%s/bus/ap/drivers/vfio_ap", t.sys);
	rm_rf(p);
	t0 = ms();
	ck_assert_int_eq(reserve("05.0006,08.0006", 0), 0);
	ck_assert_int_lt(ms() - t0, 2500);
	expect(0, "08.0006", APMATRIX_CLAIM_LEFT, NULL,
	       "bound to no driver: the apmatrix driver is not loaded");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("claim");
	TCase *tc = tcase_create("claim");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, moves_binds_keeps);
	tcase_add_test(tc, dry_run_predicts);
	tcase_add_test(tc, dry_run_bad_env);
	tcase_add_test(tc, unknown_flags_refused);
	tcase_add_test(tc, taken_only);
	tcase_add_test(tc, refuses_assigned_before_writing);
	tcase_add_test(tc, refuses_in_use_and_unreadable);
	tcase_add_test(tc, no_rebind);
	tcase_add_test(tc, apmatrix_not_loaded);
	tcase_add_test(tc, failure_after_write_undone);
	tcase_add_loop_test(tc, undo_of_a_queue_bound, 0,
			    sizeof(undo_cases) / sizeof(undo_cases[0]));
	tcase_add_test(tc, no_settle_wait_without_a_driver_to_probe);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
