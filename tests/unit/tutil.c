// SPDX-License-Identifier: LGPL-2.1-or-later
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tutil.h"

const char *tmp_base(void)
{
	const char *t = getenv("TMPDIR");

	if (t && *t)
		return t;
	if (!access("/dev/shm", W_OK | X_OK))
		return "/dev/shm";
	return "/tmp";
}

void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f, "cannot create %s: %s", path, strerror(errno));
	fputs(content, f);
	ck_assert_int_eq(fclose(f), 0);
}

void mkdir_p(const char *path)
{
	char buf[PATH_MAX], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		ck_assert_msg(!mkdir(buf, 0755) || errno == EEXIST, "mkdir %s", buf);
		*p = '/';
	}
	ck_assert_msg(!mkdir(buf, 0755) || errno == EEXIST, "mkdir %s", buf);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* for each decimal ID of "0,5-7" (or "all") */
static void each_id(const char *ids, void (*fn)(unsigned int id, void *), void *data)
{
	const char *p = ids;

	if (!strcmp(ids, "all")) {
		for (unsigned int i = 0; i < 256; i++)
			fn(i, data);
		return;
	}
	while (*p) {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (*end == '-')
			hi = strtoul(end + 1, &end, 10);
		for (unsigned long i = lo; i <= hi; i++)
			fn(i, data);
		p = *end == ',' ? end + 1 : end;
	}
}

static void set_nibble(unsigned int id, void *data)
{
	char *digits = data;
	int v = digits[id / 4] <= '9' ? digits[id / 4] - '0' : digits[id / 4] - 'a' + 10;

	v |= 8 >> (id % 4);
	digits[id / 4] = "0123456789abcdef"[v];
}

const char *mask_text(const char *ids, char buf[68])
{
	memset(buf, '0', 66);
	buf[1] = 'x';
	each_id(ids, set_nibble, buf + 2);
	buf[66] = '\n';
	buf[67] = '\0';
	return buf;
}

static void path_of(struct tree *t, char *buf, const char *fmt, const char *a)
{
	snprintf(buf, PATH_MAX, "%s/", t->sys);
	snprintf(buf + strlen(buf), PATH_MAX - strlen(buf), fmt, a);
}

void tree_bus_attr(struct tree *t, const char *name, const char *content)
{
	char p[PATH_MAX];

	path_of(t, p, "bus/ap/%s", name);
	write_file(p, content);
}

void tree_init(struct tree *t, const char *apmask_ids, const char *aqmask_ids)
{
	char p[PATH_MAX], m[68];

	snprintf(t->dir, sizeof(t->dir), "%s/apmatrix-unit-XXXXXX", tmp_base());
	ck_assert(mkdtemp(t->dir));
	snprintf(t->sys, sizeof(t->sys), "%s/sys", t->dir);
	snprintf(t->lock, sizeof(t->lock), "%s/s390apconfig.lock", t->dir);
	path_of(t, p, "%s", "bus/ap/devices");
	mkdir_p(p);
	path_of(t, p, "%s", "bus/ap/drivers");
	mkdir_p(p);
	path_of(t, p, "%s", "devices/ap");
	mkdir_p(p);
	tree_bus_attr(t, "apmask", mask_text(apmask_ids, m));
	tree_bus_attr(t, "aqmask", mask_text(aqmask_ids, m));
	tree_bus_attr(t, "ap_max_adapter_id", "255\n");
	tree_bus_attr(t, "ap_max_domain_id", "255\n");
	tree_bus_attr(t, "ap_interrupts", "1\n");
	tree_bus_attr(t, "config_time", "30\n");
}

void tree_free(struct tree *t)
{
	rm_rf(t->dir);
}

static void card_file(const char *dir, const char *name, const char *fmt, int v)
{
	char p[PATH_MAX], c[32];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	snprintf(c, sizeof(c), fmt, v);
	write_file(p, c);
}

void tree_card(struct tree *t, unsigned int id, const char *type, int hwtype,
	       int online, int config)
{
	char dir[PATH_MAX], link[PATH_MAX], name[16];

	snprintf(name, sizeof(name), "card%02x", id);
	path_of(t, dir, "devices/ap/%s", name);
	mkdir_p(dir);
	if (type) {
		snprintf(link, sizeof(link), "%s/type", dir);
		write_file(link, type);
	}
	if (hwtype != -2)
		card_file(dir, "hwtype", "%d\n", hwtype);
	if (online != -2)
		card_file(dir, "online", "%d\n", online);
	if (config != -2)
		card_file(dir, "config", "%d\n", config);
	card_file(dir, "raw_hwtype", "%d\n", hwtype);
	card_file(dir, "depth", "%d\n", 32);
	card_file(dir, "ap_functions", "0x%08X\n", 0x92000000);
	path_of(t, link, "bus/ap/devices/%s", name);
	snprintf(dir, sizeof(dir), "../../../devices/ap/%s", name);
	ck_assert_int_eq(symlink(dir, link), 0);
}

void tree_queue(struct tree *t, unsigned int apid, unsigned int apqi,
		int online, const char *driver)
{
	char dir[PATH_MAX], p[PATH_MAX], rel[PATH_MAX], name[16];

	snprintf(name, sizeof(name), "card%02x/%02x.%04x", apid, apid, apqi);
	path_of(t, dir, "devices/ap/%s", name);
	mkdir_p(dir);
	if (online != -2)
		card_file(dir, "online", "%d\n", online);
	if (driver) {
		path_of(t, p, "bus/ap/drivers/%s", driver);
		mkdir_p(p);
		snprintf(p, sizeof(p), "%s/driver", dir);
		snprintf(rel, sizeof(rel), "../../../../bus/ap/drivers/%s", driver);
		ck_assert_int_eq(symlink(rel, p), 0);
	}
	snprintf(name, sizeof(name), "%02x.%04x", apid, apqi);
	path_of(t, p, "bus/ap/devices/%s", name);
	snprintf(rel, sizeof(rel), "../../../devices/ap/card%02x/%s", apid, name);
	ck_assert_int_eq(symlink(rel, p), 0);
}

struct qdata {
	struct tree *t;
	const char *apqis, *driver;
	unsigned int apid;
};

static void one_queue(unsigned int d, void *data)
{
	struct qdata *q = data;

	tree_queue(q->t, q->apid, d, 1, q->driver);
}

static void one_card(unsigned int a, void *data)
{
	struct qdata *q = data;
	char dir[PATH_MAX], name[16];
	struct stat st;

	snprintf(name, sizeof(name), "card%02x", a);
	path_of(q->t, dir, "devices/ap/%s", name);
	if (stat(dir, &st))
		tree_card(q->t, a, "CEX8C\n", 14, 1, 1);
	q->apid = a;
	each_id(q->apqis, one_queue, q);
}

void tree_queues(struct tree *t, const char *apids, const char *apqis,
		 const char *driver)
{
	struct qdata q = { .t = t, .apqis = apqis, .driver = driver };

	each_id(apids, one_card, &q);
}

const char *tree_read(struct tree *t, const char *name, char *buf, size_t len)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	path_of(t, p, "bus/ap/%s", name);
	fd = open(p, O_RDONLY);
	ck_assert_msg(fd >= 0, "open %s", p);
	n = read(fd, buf, len - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

struct apmatrix_ctx *tree_ctx(struct tree *t)
{
	struct apmatrix_ctx *ctx = apmatrix_ctx_new();

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(apmatrix_ctx_set_sysfs_root(ctx, t->sys), 0);
	ck_assert_int_eq(apmatrix_ctx_set_lock_file(ctx, t->lock), 0);
	return ctx;
}

struct apmatrix_matrix *mat(const char *apqns)
{
	struct apmatrix_matrix *m = apmatrix_matrix_new();
	struct apmatrix_ctx *ctx = apmatrix_ctx_new();
	int rc;

	ck_assert_ptr_nonnull(m);
	rc = apmatrix_matrix_parse_apqns(ctx, m, apqns, NULL);
	ck_assert_msg(rc == 0, "'%s': %s", apqns, apmatrix_ctx_last_error(ctx));
	apmatrix_ctx_free(ctx);
	return m;
}

int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
