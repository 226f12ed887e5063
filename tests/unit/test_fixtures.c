// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix unit tests on the project's fixture hosts (tests/fixtures):
 * the host view agrees with the fixture's model of every host, and a
 * reserve then a release, each settled by the fixture's AP bus model
 * (mkfixture.py settle), move exactly the planned queues and come back
 * to where they started.
 *
 * Environment (set by meson): APMATRIX_PYTHON, APMATRIX_MKFIXTURE,
 * APMATRIX_FIXTURE_HOSTS (the hosts/ directory).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apmatrix.h"
#include "tutil.h"

#define MAX_HOSTS 32

static char hosts[MAX_HOSTS][64];
static unsigned int nhosts;

static char dir[PATH_MAX], sys_root[PATH_MAX], host_json[PATH_MAX];
static struct apmatrix_ctx *ctx;

static const char *env(const char *name)
{
	const char *v = getenv(name);

	ck_assert_msg(v && *v, "%s is not set (run through meson test)", name);
	return v;
}

/* run mkfixture.py with args; its stdout into out (if not NULL); the exit status */
static int mkfixture(const char *out, const char *a1, const char *a2, const char *a3)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		const char *py = getenv("APMATRIX_PYTHON");
		const char *mk = getenv("APMATRIX_MKFIXTURE");

		if (out) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(126);
		} else {
			int fd = open("/dev/null", O_WRONLY);

			if (fd >= 0)
				dup2(fd, 1);
		}
		execl(py, py, mk, a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "mkfixture.py %s died", a1);
	return WEXITSTATUS(status);
}

static void setup_host(const char *name)
{
	env("APMATRIX_PYTHON");
	env("APMATRIX_MKFIXTURE");
	snprintf(host_json, sizeof(host_json), "%s/%s.json", env("APMATRIX_FIXTURE_HOSTS"), name);
	snprintf(dir, sizeof(dir), "%s/apmatrix-fixture-XXXXXX", tmp_base());
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sys_root, sizeof(sys_root), "%s/sys", dir);
	ck_assert_int_eq(mkfixture(NULL, "write", host_json, sys_root), 0);
	ctx = apmatrix_ctx_new();
	ck_assert_int_eq(apmatrix_ctx_set_sysfs_root(ctx, sys_root), 0);
	{
		char lock[PATH_MAX];

		snprintf(lock, sizeof(lock), "%s/lock", dir);
		ck_assert_int_eq(apmatrix_ctx_set_lock_file(ctx, lock), 0);
	}
}

static void teardown_host(void)
{
	apmatrix_ctx_free(ctx);
	rm_rf(dir);
}

static struct apmatrix_host *read_host(void)
{
	struct apmatrix_host *h = NULL;

	ck_assert_msg(apmatrix_host_read(ctx, &h) == 0, "%s", apmatrix_ctx_last_error(ctx));
	return h;
}

static unsigned int count_queues(const struct apmatrix_host *h)
{
	unsigned int i, n = 0;

	for (i = 0; i < apmatrix_host_num_cards(h); i++)
		n += apmatrix_card_num_queues(apmatrix_host_card(h, i));
	return n;
}

/* the host view says what the fixture's model says */
START_TEST(fixture_model)
{
	char model_path[PATH_MAX + 16];
	struct apmatrix_host *h;
	struct json_object *model, *adapters, *queues;
	unsigned int i, nq = 0;

	setup_host(hosts[_i]);
	snprintf(model_path, sizeof(model_path), "%s/model.json", dir);
	ck_assert_int_eq(mkfixture(model_path, "model", host_json, NULL), 0);
	model = json_object_from_file(model_path);
	ck_assert_ptr_nonnull(model);
	ck_assert(json_object_object_get_ex(model, "adapters", &adapters));
	ck_assert(json_object_object_get_ex(model, "queues", &queues));
	h = read_host();

	ck_assert_uint_eq(apmatrix_host_num_cards(h), json_object_object_length(adapters));
	for (i = 0; i < apmatrix_host_num_cards(h); i++) {
		const struct apmatrix_card *c = apmatrix_host_card(h, i);
		struct json_object *a, *type, *state;
		char id[8];

		snprintf(id, sizeof(id), "%02x", apmatrix_card_id(c));
		ck_assert_msg(json_object_object_get_ex(adapters, id, &a), "card %s not in the model", id);
		ck_assert(json_object_object_get_ex(a, "type", &type));
		ck_assert(json_object_object_get_ex(a, "state", &state));
		if (apmatrix_card_type(c))
			ck_assert_str_eq(apmatrix_card_type(c), json_object_get_string(type));
		if (!strcmp(json_object_get_string(state), "deconfig"))
			ck_assert_int_eq(apmatrix_card_config(c), 0);
		if (!strcmp(json_object_get_string(state), "online")) {
			ck_assert_int_eq(apmatrix_card_config(c), 1);
			ck_assert_int_eq(apmatrix_card_online(c), 1);
			ck_assert_int_ne(apmatrix_card_chkstop(c), 1);
		}
		ck_assert_uint_eq(apmatrix_card_hwtype(c) >= 10 && apmatrix_card_hwtype(c) <= 14, 1);
	}
	json_object_object_foreach(queues, apqn, q) {
		struct json_object *drv, *state;
		unsigned int a, d;
		const struct apmatrix_queue *hq;
		const char *want;

		ck_assert_int_eq(sscanf(apqn, "%x.%x", &a, &d), 2);
		hq = apmatrix_host_queue(h, a, d);
		ck_assert_msg(hq != NULL, "queue %s missing", apqn);
		ck_assert(json_object_object_get_ex(q, "driver", &drv));
		ck_assert(json_object_object_get_ex(q, "state", &state));
		want = json_object_get_string(drv);
		if (!strcmp(want, "-no-driver-"))
			ck_assert_ptr_null(apmatrix_queue_driver(hq));
		else
			ck_assert_str_eq(apmatrix_queue_driver(hq), want);
		/* the fixtures keep the default drivers bound to what the masks give them */
		ck_assert_int_eq(apmatrix_queue_holder(hq) == APMATRIX_HOLDER_HOST,
				 !strcmp(want, "cex4queue"));
		if (!strcmp(want, "apmatrix"))
			ck_assert_int_eq(apmatrix_queue_holder(hq), APMATRIX_HOLDER_APMATRIX);
		if (!strcmp(json_object_get_string(state), "online"))
			ck_assert_int_eq(apmatrix_queue_online(hq), 1);
		if (!strcmp(json_object_get_string(state), "-"))
			ck_assert_int_eq(apmatrix_queue_online(hq), -1);
		nq++;
	}
	ck_assert_uint_eq(count_queues(h), nq);
	apmatrix_host_free(h);
	json_object_put(model);
	teardown_host();
}
END_TEST

/* the holder of every queue of h, with the driver, as text */
static void snapshot(const struct apmatrix_host *h, char *buf, size_t len)
{
	unsigned int i, j;
	size_t n = 0;

	buf[0] = '\0';
	for (i = 0; i < apmatrix_host_num_cards(h); i++) {
		const struct apmatrix_card *c = apmatrix_host_card(h, i);

		for (j = 0; j < apmatrix_card_num_queues(c); j++) {
			const struct apmatrix_queue *q = apmatrix_card_queue(c, j);
			const char *drv = apmatrix_queue_driver(q);

			n += snprintf(buf + n, len - n, "%02x.%04x:%d:%s ", apmatrix_queue_apid(q),
				      apmatrix_queue_apqi(q), apmatrix_queue_holder(q),
				      drv ? drv : "-");
			ck_assert_uint_lt(n, len);
		}
	}
}

/* reserve one queue the host holds, settle; release it, settle: back where it was */
START_TEST(fixture_reserve_release)
{
	static char before[1 << 16], after[1 << 16];
	struct apmatrix_host *h0, *h1;
	struct apmatrix_matrix *want = apmatrix_matrix_new();
	struct apmatrix_matrix *m0 = apmatrix_matrix_new(), *m2 = apmatrix_matrix_new();
	struct apmatrix_apqns *taken = apmatrix_apqns_new(), *moved = apmatrix_apqns_new();
	struct apmatrix_plan *plan;
	unsigned int i, j, a = 0, d = 0, n;
	bool found = false;
	char cbuf[4096], cbuf2[4096];

	setup_host(hosts[_i]);
	h0 = read_host();
	for (i = 0; !found && i < apmatrix_host_num_cards(h0); i++) {
		const struct apmatrix_card *c = apmatrix_host_card(h0, i);

		for (j = 0; !found && j < apmatrix_card_num_queues(c); j++) {
			const struct apmatrix_queue *q = apmatrix_card_queue(c, j);

			if (apmatrix_queue_holder(q) == APMATRIX_HOLDER_HOST) {
				a = apmatrix_queue_apid(q);
				d = apmatrix_queue_apqi(q);
				found = true;
			}
		}
	}
	ck_assert_msg(found, "%s: no queue held by the host", hosts[_i]);
	apmatrix_matrix_set(want, APMATRIX_ADAPTERS, a, true);
	apmatrix_matrix_set(want, APMATRIX_DOMAINS, d, true);
	apmatrix_host_get_masks(h0, APMATRIX_HOST_MASKS, m0);
	snapshot(h0, before, sizeof(before));

	/* reserve */
	ck_assert_int_eq(apmatrix_plan_reserve(ctx, h0, want, &plan), 0);
	ck_assert(!apmatrix_plan_is_noop(plan));
	apmatrix_apqns_add_matrix(taken, want);
	n = apmatrix_apqns_count(apmatrix_plan_collateral(plan));
	apmatrix_apqns_format(apmatrix_plan_collateral(plan), cbuf, sizeof(cbuf));
	for (i = 0; i < n; i++) {
		unsigned int x, y;

		apmatrix_apqns_get(apmatrix_plan_collateral(plan), i, &x, &y);
		apmatrix_apqns_add(taken, x, y);
	}
	ck_assert_msg(apmatrix_plan_apply(ctx, plan) == 0, "%s", apmatrix_ctx_last_error(ctx));
	apmatrix_plan_free(plan);
	ck_assert_int_eq(mkfixture(NULL, "settle", sys_root, NULL), 0);

	/* exactly the wanted queue and the collateral left the host */
	h1 = read_host();
	for (i = 0; i < apmatrix_host_num_cards(h0); i++) {
		const struct apmatrix_card *c = apmatrix_host_card(h0, i);

		for (j = 0; j < apmatrix_card_num_queues(c); j++) {
			const struct apmatrix_queue *q0 = apmatrix_card_queue(c, j);
			unsigned int x = apmatrix_queue_apid(q0), y = apmatrix_queue_apqi(q0);
			const struct apmatrix_queue *q1 = apmatrix_host_queue(h1, x, y);

			ck_assert_ptr_nonnull(q1);
			if (apmatrix_apqns_contains(taken, x, y)) {
				ck_assert_int_eq(apmatrix_queue_holder(q0), APMATRIX_HOLDER_HOST);
				ck_assert_int_ne(apmatrix_queue_holder(q1), APMATRIX_HOLDER_HOST);
			} else {
				ck_assert_int_eq(apmatrix_queue_holder(q1), apmatrix_queue_holder(q0));
				if (apmatrix_queue_holder(q1) != apmatrix_queue_holder(q0))
					apmatrix_apqns_add(moved, x, y);
			}
		}
	}
	ck_assert_uint_eq(apmatrix_apqns_count(moved), 0);

	/* release: the same queues come back, and nothing else moves */
	ck_assert_int_eq(apmatrix_plan_release(ctx, h1, want, &plan), 0);
	apmatrix_apqns_format(apmatrix_plan_collateral(plan), cbuf2, sizeof(cbuf2));
	ck_assert_str_eq(cbuf2, cbuf);
	ck_assert_msg(apmatrix_plan_apply(ctx, plan) == 0, "%s", apmatrix_ctx_last_error(ctx));
	apmatrix_plan_free(plan);
	ck_assert_int_eq(mkfixture(NULL, "settle", sys_root, NULL), 0);
	apmatrix_host_free(h1);
	h1 = read_host();
	snapshot(h1, after, sizeof(after));
	ck_assert_str_eq(after, before);
	apmatrix_host_get_masks(h1, APMATRIX_HOST_MASKS, m2);
	ck_assert(apmatrix_matrix_equal(m2, m0));

	apmatrix_host_free(h0);
	apmatrix_host_free(h1);
	apmatrix_matrix_free(want);
	apmatrix_matrix_free(m0);
	apmatrix_matrix_free(m2);
	apmatrix_apqns_free(taken);
	apmatrix_apqns_free(moved);
	teardown_host();
}
END_TEST

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

int main(void)
{
	const char *hd = getenv("APMATRIX_FIXTURE_HOSTS");
	struct dirent *de;
	Suite *s;
	TCase *tc;
	DIR *dp;

	if (!hd || !(dp = opendir(hd))) {
		fprintf(stderr, "APMATRIX_FIXTURE_HOSTS is not a directory: run through meson test\n");
		return 1;
	}
	while ((de = readdir(dp)) && nhosts < MAX_HOSTS) {
		size_t l = strlen(de->d_name);

		if (l > 5 && l < sizeof(hosts[0]) + 5 && !strcmp(de->d_name + l - 5, ".json")) {
			memcpy(hosts[nhosts], de->d_name, l - 5);
			hosts[nhosts++][l - 5] = '\0';
		}
	}
	closedir(dp);
	qsort(hosts, nhosts, sizeof(hosts[0]), cmp_names);
	if (!nhosts) {
		fprintf(stderr, "no fixture hosts in %s\n", hd);
		return 1;
	}

	s = suite_create("fixtures");
	tc = tcase_create("hosts");
	tcase_add_loop_test(tc, fixture_model, 0, nhosts);
	tcase_add_loop_test(tc, fixture_reserve_release, 0, nhosts);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
