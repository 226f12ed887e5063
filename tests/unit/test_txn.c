// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix unit tests: a transaction under the AP configuration lock
 * (apmatrix_lock/unlock with apmatrix_plan_apply), plans to exact masks
 * (apmatrix_plan_masks) and binding queues (apmatrix_queue_bind).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apmatrix.h"
#include "tutil.h"

static struct tree t;
static struct apmatrix_ctx *ctx;
static struct apmatrix_host *host;
static struct apmatrix_plan *plan;
static struct apmatrix_matrix *want;

static void setup(void)
{
	umask(022);
	tree_init(&t, "all", "all");
	tree_queues(&t, "5-7", "4-6", "cex4queue");
	ctx = tree_ctx(&t);
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), 0);
	plan = NULL;
	want = apmatrix_matrix_new();
}

static void teardown(void)
{
	apmatrix_matrix_free(want);
	apmatrix_plan_free(plan);
	apmatrix_host_free(host);
	apmatrix_ctx_free(ctx);
	tree_free(&t);
}

/* want = apmask and aqmask with every ID but those of the lists */
static void want_masks(const char *ap_clear, const char *aq_clear)
{
	struct apmatrix_matrix *c = apmatrix_matrix_new();
	unsigned int i;

	if (*ap_clear)
		ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, c, APMATRIX_ADAPTERS, ap_clear), 0);
	if (*aq_clear)
		ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, c, APMATRIX_DOMAINS, aq_clear), 0);
	for (i = 0; i <= APMATRIX_MAX_ID; i++) {
		apmatrix_matrix_set(want, APMATRIX_ADAPTERS, i,
				    !apmatrix_matrix_test(c, APMATRIX_ADAPTERS, i));
		apmatrix_matrix_set(want, APMATRIX_DOMAINS, i,
				    !apmatrix_matrix_test(c, APMATRIX_DOMAINS, i));
	}
	apmatrix_matrix_free(c);
}

static void expect_mask(const char *name, const char *ids)
{
	char got[128], m[68];

	tree_read(&t, name, got, sizeof(got));
	ck_assert_str_eq(got, mask_text(ids, m));
}

/*
 * A child that holds the lock as s390-tools does (its PID in a file
 * link()ed to the lock's name) until told; returns its pid.
 */
static pid_t hold_lock(int *release_fd)
{
	int ready[2], go[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		char tmp[PATH_MAX + 16];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.child", t.lock);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) ||
		    link(tmp, t.lock) || unlink(tmp) || write(ready[1], "L", 1) != 1)
			_exit(1);
		if (read(go[0], &c, 1) < 0)
			_exit(2);
		_exit(unlink(t.lock) ? 3 : 0);
	}
	close(ready[1]);
	close(go[0]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	*release_fd = go[1];
	return pid;
}

/* is the lock free (s390-tools would take it now)? */
static bool child_can_lock(void)
{
	return access(t.lock, F_OK) != 0;
}

START_TEST(plan_masks_exact)
{
	char buf[256];

	want_masks("05", "0006");
	ck_assert_int_eq(apmatrix_plan_masks(ctx, host, want, &plan), 0);
	ck_assert(!apmatrix_plan_is_noop(plan));
	/* every queue that changes side, none "wanted" */
	apmatrix_apqns_format(apmatrix_plan_collateral(plan), buf, sizeof(buf));
	ck_assert_str_eq(buf, "05.0004,05.0005,05.0006,06.0006,07.0006");
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), 0);
	expect_mask("apmask", "0-4,6-255");
	expect_mask("aqmask", "0-5,7-255");
	/* the same masks again: nothing to do */
	apmatrix_plan_free(plan);
	plan = NULL;
	apmatrix_host_free(host);
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), 0);
	ck_assert_int_eq(apmatrix_plan_masks(ctx, host, want, &plan), 0);
	ck_assert(apmatrix_plan_is_noop(plan));
	ck_assert_uint_eq(apmatrix_apqns_count(apmatrix_plan_collateral(plan)), 0);
}
END_TEST

START_TEST(plan_masks_bad_args)
{
	ck_assert_int_eq(apmatrix_plan_masks(ctx, NULL, want, &plan), -EINVAL);
	ck_assert_int_eq(apmatrix_plan_masks(ctx, host, NULL, &plan), -EINVAL);
	ck_assert_int_eq(apmatrix_plan_masks(ctx, host, want, NULL), -EINVAL);
}
END_TEST

/* the lock is held from apmatrix_lock() to apmatrix_unlock(), and
 * apmatrix_plan_apply() in between uses it rather than waiting for itself */
START_TEST(lock_spans_apply)
{
	ck_assert(child_can_lock());
	ck_assert_int_eq(apmatrix_lock(ctx, false), 0);
	ck_assert(!child_can_lock());
	ck_assert_int_eq(apmatrix_lock(ctx, false), -EALREADY);
	want_masks("07", "");
	ck_assert_int_eq(apmatrix_plan_masks(ctx, host, want, &plan), 0);
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), 0);	/* no self-deadlock */
	ck_assert(!child_can_lock());				/* still ours */
	expect_mask("apmask", "0-6,8-255");
	apmatrix_unlock(ctx);
	ck_assert(child_can_lock());
	apmatrix_unlock(ctx);	/* twice: nothing */
}
END_TEST

START_TEST(lock_busy)
{
	int go, status;
	pid_t pid = hold_lock(&go);

	ck_assert_int_eq(apmatrix_lock(ctx, false), -EWOULDBLOCK);
	ck_assert_msg(strstr(apmatrix_ctx_last_error(ctx), t.lock) != NULL, "%s",
		      apmatrix_ctx_last_error(ctx));
	/* waiting is bounded by the context's timeout */
	ck_assert_int_eq(apmatrix_ctx_set_lock_timeout(ctx, 200), 0);
	ck_assert_int_eq(apmatrix_lock(ctx, true), -ETIMEDOUT);
	ck_assert_int_eq(write(go, "G", 1), 1);
	close(go);
	ck_assert_int_eq(apmatrix_ctx_set_lock_timeout(ctx, 30000), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(apmatrix_lock(ctx, true), 0);
	ck_assert(!child_can_lock());
	apmatrix_unlock(ctx);
	ck_assert(child_can_lock());
}
END_TEST

/* the context's end drops a lock it holds */
START_TEST(lock_dropped_by_free)
{
	ck_assert_int_eq(apmatrix_lock(ctx, true), 0);
	ck_assert(!child_can_lock());
	apmatrix_ctx_free(ctx);
	ctx = NULL;
	ck_assert(child_can_lock());
}
END_TEST

static const char *bus_file(const char *rel, char *buf, size_t len)
{
	char p[PATH_MAX];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/bus/ap/%s", t.sys, rel);
	f = fopen(p, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(bind_and_unbind)
{
	char p[PATH_MAX], buf[256];

	tree_queue(&t, 8, 4, -2, NULL);
	tree_queue(&t, 8, 5, -2, NULL);
	snprintf(p, sizeof(p), "%s/bus/ap/drivers/apmatrix", t.sys);
	mkdir_p(p);
	tree_bus_attr(&t, "drivers/apmatrix/bind", "");
	tree_bus_attr(&t, "drivers/cex4queue/unbind", "");
	ck_assert_int_eq(apmatrix_queue_bind(ctx, 8, 4, "apmatrix"), 0);
	ck_assert_int_eq(apmatrix_queue_bind(ctx, 8, 5, "apmatrix"), 0);
	ck_assert_str_eq(bus_file("drivers/apmatrix/bind", buf, sizeof(buf)), "08.0004\n08.0005\n");
	/* unbind: from the driver the queue has */
	ck_assert_int_eq(apmatrix_queue_bind(ctx, 5, 4, NULL), 0);
	ck_assert_str_eq(bus_file("drivers/cex4queue/unbind", buf, sizeof(buf)), "05.0004\n");
	/* a queue bound to nothing: nothing to unbind */
	ck_assert_int_eq(apmatrix_queue_bind(ctx, 8, 4, NULL), 0);
	ck_assert_str_eq(bus_file("drivers/apmatrix/bind", buf, sizeof(buf)), "08.0004\n08.0005\n");
}
END_TEST

START_TEST(bind_errors)
{
	char msg[PATH_MAX + 128];

	ck_assert_int_eq(apmatrix_queue_bind(ctx, 8, 4, "../x"), -EINVAL);
	ck_assert_int_eq(apmatrix_queue_bind(ctx, 8, 4, ""), -EINVAL);
	ck_assert_int_eq(apmatrix_queue_bind(ctx, 256, 4, "apmatrix"), -EINVAL);
	ck_assert_int_eq(apmatrix_queue_bind(ctx, 5, 4, "nodriver"), -ENOENT);
	snprintf(msg, sizeof(msg), "binding 05.0004: writing %s/bus/ap/drivers/nodriver/bind: ",
		 t.sys);
	ck_assert_msg(!strncmp(apmatrix_ctx_last_error(ctx), msg, strlen(msg)), "%s",
		      apmatrix_ctx_last_error(ctx));
}
END_TEST

/*
 * APMATRIX_LOCK_TIMEOUT and APMATRIX_SETTLE_TIMEOUT: seconds 0 to 86400
 * (3600); a bad value is named at once (the new context's last error) and
 * stops the lock and every change, apmask and aqmask untouched, until the
 * caller sets a time of its own (lock) - never a default waited instead.
 */
static const struct {
	const char *var, *val;
	unsigned int ms;	/* the lock's wait; 0 with bad */
	const char *bad;	/* the message, NULL: good */
} env_cases[] = {
	{ "APMATRIX_LOCK_TIMEOUT", "2.5", 2500, NULL },
	{ "APMATRIX_LOCK_TIMEOUT", "0", 0, NULL },
	{ "APMATRIX_LOCK_TIMEOUT", "86400", 86400000, NULL },
	{ "APMATRIX_LOCK_TIMEOUT", "", 30000, NULL },
	{ "APMATRIX_SETTLE_TIMEOUT", "3600", 30000, NULL },
	{ "APMATRIX_LOCK_TIMEOUT", "abc", 0,
	  "APMATRIX_LOCK_TIMEOUT 'abc': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "-1", 0,
	  "APMATRIX_LOCK_TIMEOUT '-1': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "86400.1", 0,
	  "APMATRIX_LOCK_TIMEOUT '86400.1': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "1e400", 0,
	  "APMATRIX_LOCK_TIMEOUT '1e400': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "3 ", 0,
	  "APMATRIX_LOCK_TIMEOUT '3 ': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "nan", 0,
	  "APMATRIX_LOCK_TIMEOUT 'nan': not a number of seconds from 0 to 86400" },
	/* a decimal number: digits and one '.', nothing strtod() also takes */
	{ "APMATRIX_LOCK_TIMEOUT", ".5", 500, NULL },
	{ "APMATRIX_LOCK_TIMEOUT", "5.", 5000, NULL },
	{ "APMATRIX_LOCK_TIMEOUT", "2.0005", 2001, NULL },
	{ "APMATRIX_LOCK_TIMEOUT", "0.00049", 0, NULL },
	{ "APMATRIX_LOCK_TIMEOUT", "86400.0000", 86400000, NULL },
	{ "APMATRIX_LOCK_TIMEOUT", " 5", 0,
	  "APMATRIX_LOCK_TIMEOUT ' 5': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "+5", 0,
	  "APMATRIX_LOCK_TIMEOUT '+5': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "-0", 0,
	  "APMATRIX_LOCK_TIMEOUT '-0': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "0x10", 0,
	  "APMATRIX_LOCK_TIMEOUT '0x10': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "1e3", 0,
	  "APMATRIX_LOCK_TIMEOUT '1e3': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "inf", 0,
	  "APMATRIX_LOCK_TIMEOUT 'inf': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", ".", 0,
	  "APMATRIX_LOCK_TIMEOUT '.': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "1..2", 0,
	  "APMATRIX_LOCK_TIMEOUT '1..2': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "1.2.3", 0,
	  "APMATRIX_LOCK_TIMEOUT '1.2.3': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "86400.00001", 0,
	  "APMATRIX_LOCK_TIMEOUT '86400.00001': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "99999999999999999999", 0,
	  "APMATRIX_LOCK_TIMEOUT '99999999999999999999': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "0,5", 0,
	  "APMATRIX_LOCK_TIMEOUT '0,5': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_LOCK_TIMEOUT", "5 s", 0,
	  "APMATRIX_LOCK_TIMEOUT '5 s': not a number of seconds from 0 to 86400" },
	{ "APMATRIX_SETTLE_TIMEOUT", "3600.5", 0,
	  "APMATRIX_SETTLE_TIMEOUT '3600.5': not a number of seconds from 0 to 3600" },
};

START_TEST(env_timeouts)
{
	const char *var = env_cases[_i].var, *bad = env_cases[_i].bad;
	struct apmatrix_ctx *c;
	char ap[128], aq[128], ap2[128], aq2[128];

	setenv(var, env_cases[_i].val, 1);
	c = apmatrix_ctx_new();
	unsetenv(var);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(apmatrix_ctx_last_error(c), bad ? bad : "");
	if (!bad)
		ck_assert_uint_eq(apmatrix_ctx_get_lock_timeout(c), env_cases[_i].ms);
	ck_assert_int_eq(apmatrix_ctx_set_sysfs_root(c, t.sys), 0);
	ck_assert_int_eq(apmatrix_ctx_set_lock_file(c, t.lock), 0);
	want_masks("5", "");
	ck_assert_int_eq(apmatrix_plan_masks(c, host, want, &plan), 0);
	tree_read(&t, "apmask", ap, sizeof(ap));
	tree_read(&t, "aqmask", aq, sizeof(aq));
	if (bad) {
		ck_assert_int_eq(apmatrix_lock(c, false), -EINVAL);
		ck_assert_str_eq(apmatrix_ctx_last_error(c), bad);
		ck_assert_int_eq(apmatrix_plan_apply(c, plan), -EINVAL);
		ck_assert_str_eq(apmatrix_ctx_last_error(c), bad);
		ck_assert_str_eq(tree_read(&t, "apmask", ap2, sizeof(ap2)), ap);
		ck_assert_str_eq(tree_read(&t, "aqmask", aq2, sizeof(aq2)), aq);
		ck_assert(access(t.lock, F_OK) != 0);
		if (strcmp(var, "APMATRIX_LOCK_TIMEOUT"))
			goto out;
		/* the caller's own time replaces the environment's */
		ck_assert_int_eq(apmatrix_ctx_set_lock_timeout(c, 1000), 0);
	}
	ck_assert_int_eq(apmatrix_lock(c, false), 0);
	apmatrix_unlock(c);
out:
	apmatrix_ctx_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("txn");
	TCase *tc = tcase_create("txn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, plan_masks_exact);
	tcase_add_test(tc, plan_masks_bad_args);
	tcase_add_test(tc, lock_spans_apply);
	tcase_add_test(tc, lock_busy);
	tcase_add_test(tc, lock_dropped_by_free);
	tcase_add_test(tc, bind_and_unbind);
	tcase_add_test(tc, bind_errors);
	tcase_add_loop_test(tc, env_timeouts, 0, sizeof(env_cases) / sizeof(env_cases[0]));
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
