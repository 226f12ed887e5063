// SPDX-License-Identifier: LGPL-2.1-or-later
/* libapmatrix unit tests: the host view on sysfs trees laid out like a real host's. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apmatrix.h"
#include "tutil.h"

static struct tree t;
static struct apmatrix_ctx *ctx;
static struct apmatrix_host *host;
static char expect[2 * PATH_MAX];

static void setup(void)
{
	tree_init(&t, "0-5,7-255", "0-4,6-255");
	ctx = tree_ctx(&t);
	host = NULL;
}

static void teardown(void)
{
	apmatrix_host_free(host);
	apmatrix_ctx_free(ctx);
	tree_free(&t);
}

static const char *card_path(const char *rel)
{
	static char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", t.sys, rel);
	return p;
}

static void card_attr(const char *rel, const char *content)
{
	write_file(card_path(rel), content);
}

/* the host of most tests: see the comment of host_holders */
static void populate(void)
{
	tree_bus_attr(&t, "ap_max_adapter_id", "63\n");
	tree_bus_attr(&t, "ap_max_domain_id", "84\n");
	tree_card(&t, 5, "CEX8C\n", 14, 1, 1);
	tree_card(&t, 6, "CEX8A\n", 14, 0, 1);
	tree_card(&t, 7, NULL, 13, -2, 0);
	tree_queue(&t, 5, 4, 1, "cex4queue");
	tree_queue(&t, 5, 5, 1, "apmatrix");
	tree_queue(&t, 6, 4, 0, "vfio_ap");
	tree_queue(&t, 6, 5, -2, NULL);
	tree_queue(&t, 7, 4, -2, "cex4queue");
	/* what 6.12 has beside: card and queue config/chkstop, card driver */
	card_attr("devices/ap/card05/chkstop", "0\n");
	card_attr("devices/ap/card06/chkstop", "1\n");
	card_attr("devices/ap/card05/05.0004/config", "1\n");
	card_attr("devices/ap/card05/05.0004/chkstop", "0\n");
	card_attr("devices/ap/card06/06.0004/config", "0\n");
	card_attr("devices/ap/card06/06.0004/chkstop", "1\n");
	ck_assert_int_eq(symlink("../../../bus/ap/drivers/cex4card", card_path("devices/ap/card05/driver")), 0);
}

static const char *ids(const struct apmatrix_matrix *m, enum apmatrix_part p)
{
	static char buf[3][256];

	ck_assert_int_lt(apmatrix_matrix_format_ids(m, p, buf[p], sizeof(buf[p])), 256);
	return buf[p];
}

/*
 * apmask lacks adapter 6, aqmask lacks domain 5:
 *   05.0004 cex4queue  -> HOST (both bits)
 *   05.0005 apmatrix   -> APMATRIX
 *   06.0004 vfio_ap    -> OTHER
 *   06.0005 no driver  -> FREE
 *   07.0004 cex4queue  -> HOST
 */
START_TEST(host_holders)
{
	const struct apmatrix_card *c;
	const struct apmatrix_queue *q;

	populate();
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), 0);
	ck_assert_uint_eq(apmatrix_host_max_adapter_id(host), 63);
	ck_assert_uint_eq(apmatrix_host_max_domain_id(host), 84);
	ck_assert_uint_eq(apmatrix_host_num_cards(host), 3);

	c = apmatrix_host_card(host, 0);
	ck_assert_uint_eq(apmatrix_card_id(c), 5);
	ck_assert_str_eq(apmatrix_card_type(c), "CEX8C");
	ck_assert_int_eq(apmatrix_card_hwtype(c), 14);
	ck_assert_int_eq(apmatrix_card_online(c), 1);
	ck_assert_int_eq(apmatrix_card_config(c), 1);
	ck_assert_int_eq(apmatrix_card_chkstop(c), 0);
	ck_assert_str_eq(apmatrix_card_driver(c), "cex4card");
	ck_assert_uint_eq(apmatrix_card_num_queues(c), 2);
	q = apmatrix_card_queue(c, 0);
	ck_assert_uint_eq(apmatrix_queue_apid(q), 5);
	ck_assert_uint_eq(apmatrix_queue_apqi(q), 4);
	ck_assert_int_eq(apmatrix_queue_online(q), 1);
	ck_assert_str_eq(apmatrix_queue_driver(q), "cex4queue");
	ck_assert_int_eq(apmatrix_queue_holder(q), APMATRIX_HOLDER_HOST);
	ck_assert_int_eq(apmatrix_queue_config(q), 1);
	ck_assert_int_eq(apmatrix_queue_chkstop(q), 0);
	q = apmatrix_card_queue(c, 1);
	ck_assert_int_eq(apmatrix_queue_config(q), -1);
	ck_assert_int_eq(apmatrix_queue_chkstop(q), -1);
	ck_assert_uint_eq(apmatrix_queue_apqi(q), 5);
	ck_assert_str_eq(apmatrix_queue_driver(q), "apmatrix");
	ck_assert_int_eq(apmatrix_queue_holder(q), APMATRIX_HOLDER_APMATRIX);
	ck_assert_ptr_null(apmatrix_card_queue(c, 2));

	c = apmatrix_host_card(host, 1);
	ck_assert_uint_eq(apmatrix_card_id(c), 6);
	ck_assert_str_eq(apmatrix_card_type(c), "CEX8A");
	ck_assert_int_eq(apmatrix_card_online(c), 0);
	ck_assert_int_eq(apmatrix_card_chkstop(c), 1);
	ck_assert_ptr_null(apmatrix_card_driver(c));
	q = apmatrix_host_queue(host, 6, 4);
	ck_assert_int_eq(apmatrix_queue_config(q), 0);
	ck_assert_int_eq(apmatrix_queue_chkstop(q), 1);
	ck_assert_ptr_eq(q, apmatrix_card_queue(c, 0));
	ck_assert_int_eq(apmatrix_queue_online(q), 0);
	ck_assert_str_eq(apmatrix_queue_driver(q), "vfio_ap");
	ck_assert_int_eq(apmatrix_queue_holder(q), APMATRIX_HOLDER_OTHER);
	q = apmatrix_host_queue(host, 6, 5);
	ck_assert_int_eq(apmatrix_queue_online(q), -1);
	ck_assert_ptr_null(apmatrix_queue_driver(q));
	ck_assert_int_eq(apmatrix_queue_holder(q), APMATRIX_HOLDER_FREE);

	c = apmatrix_host_card(host, 2);
	ck_assert_uint_eq(apmatrix_card_id(c), 7);
	ck_assert_ptr_null(apmatrix_card_type(c));
	ck_assert_int_eq(apmatrix_card_hwtype(c), 13);
	ck_assert_int_eq(apmatrix_card_online(c), -1);
	ck_assert_int_eq(apmatrix_card_config(c), 0);
	ck_assert_int_eq(apmatrix_card_chkstop(c), -1);
	q = apmatrix_host_queue(host, 7, 4);
	ck_assert_int_eq(apmatrix_queue_holder(q), APMATRIX_HOLDER_HOST);
	ck_assert_int_eq(apmatrix_queue_online(q), -1);

	ck_assert_ptr_null(apmatrix_host_card(host, 3));
	ck_assert_ptr_null(apmatrix_host_queue(host, 5, 6));
	ck_assert_ptr_null(apmatrix_host_queue(host, 8, 4));
	ck_assert_ptr_null(apmatrix_host_queue(host, 256, 4));
}
END_TEST

START_TEST(host_masks)
{
	struct apmatrix_matrix *m = apmatrix_matrix_new();
	char mask[68];

	populate();
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), 0);
	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 1, true);
	ck_assert_int_eq(apmatrix_host_get_masks(host, APMATRIX_HOST_MASKS, m), 0);
	ck_assert_str_eq(ids(m, APMATRIX_ADAPTERS), "00-05,07-ff");
	ck_assert_str_eq(ids(m, APMATRIX_DOMAINS), "0000-0004,0006-00ff");
	ck_assert_str_eq(ids(m, APMATRIX_CONTROL_DOMAINS), "");
	/* no QCI mask files: configured cards, domains of queues present */
	ck_assert_int_eq(apmatrix_host_get_masks(host, APMATRIX_HOST_CONFIG, m), 0);
	ck_assert_str_eq(ids(m, APMATRIX_ADAPTERS), "05-06");
	ck_assert_str_eq(ids(m, APMATRIX_DOMAINS), "0004-0005");
	ck_assert_str_eq(ids(m, APMATRIX_CONTROL_DOMAINS), "");
	ck_assert_int_eq(apmatrix_host_get_masks(host, 2, m), -EINVAL);
	ck_assert_int_eq(apmatrix_host_get_masks(NULL, APMATRIX_HOST_MASKS, m), -EINVAL);
	apmatrix_host_free(host);
	host = NULL;

	/* with them, in the kernel's "%08x" x 8 form */
	tree_bus_attr(&t, "ap_adapter_mask",
		      "0x0700000000000000000000000000000000000000000000000000000000000000\n");
	tree_bus_attr(&t, "ap_usage_domain_mask", mask_text("0-84", mask));
	tree_bus_attr(&t, "ap_control_domain_mask", mask_text("0-84,255", mask));
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), 0);
	ck_assert_int_eq(apmatrix_host_get_masks(host, APMATRIX_HOST_CONFIG, m), 0);
	ck_assert_str_eq(ids(m, APMATRIX_ADAPTERS), "05-07");
	ck_assert_str_eq(ids(m, APMATRIX_DOMAINS), "0000-0054");
	ck_assert_str_eq(ids(m, APMATRIX_CONTROL_DOMAINS), "0000-0054,00ff");
	apmatrix_host_free(host);
	host = NULL;

	/* without QCI the kernel says so: as if absent */
	tree_bus_attr(&t, "ap_adapter_mask", "not supported\n");
	tree_bus_attr(&t, "ap_usage_domain_mask", "not supported\n");
	tree_bus_attr(&t, "ap_control_domain_mask", "not supported\n");
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), 0);
	ck_assert_int_eq(apmatrix_host_get_masks(host, APMATRIX_HOST_CONFIG, m), 0);
	ck_assert_str_eq(ids(m, APMATRIX_ADAPTERS), "05-06");
	ck_assert_str_eq(ids(m, APMATRIX_DOMAINS), "0004-0005");
	ck_assert_str_eq(ids(m, APMATRIX_CONTROL_DOMAINS), "");
	apmatrix_matrix_free(m);
}
END_TEST

/* an empty AP bus, the max ID files missing: 63 and 15 */
START_TEST(host_empty_defaults)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/bus/ap/ap_max_adapter_id", t.sys);
	unlink(p);
	snprintf(p, sizeof(p), "%s/bus/ap/ap_max_domain_id", t.sys);
	unlink(p);
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), 0);
	ck_assert_uint_eq(apmatrix_host_num_cards(host), 0);
	ck_assert_uint_eq(apmatrix_host_max_adapter_id(host), 63);
	ck_assert_uint_eq(apmatrix_host_max_domain_id(host), 15);
	apmatrix_host_free(host);
	host = NULL;
	/* no devices directory at all */
	snprintf(p, sizeof(p), "%s/bus/ap/devices", t.sys);
	ck_assert_int_eq(rmdir(p), 0);
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), 0);
	ck_assert_uint_eq(apmatrix_host_num_cards(host), 0);
}
END_TEST

/* queues only under their card, a queue without card, junk names */
START_TEST(host_odd_trees)
{
	char p[PATH_MAX];
	const struct apmatrix_card *c;

	tree_card(&t, 0x0a, "CEX7P\n", 13, 7, -9);	/* odd values of 0/1 files */
	/* 0a.0003 only under the card */
	snprintf(p, sizeof(p), "%s/devices/ap/card0a/0a.0003", t.sys);
	mkdir_p(p);
	/* 0b.0001 only in bus/ap/devices, a plain directory */
	snprintf(p, sizeof(p), "%s/bus/ap/devices/0b.0001", t.sys);
	mkdir_p(p);
	/* junk */
	snprintf(p, sizeof(p), "%s/bus/ap/devices/card5", t.sys);
	mkdir_p(p);
	snprintf(p, sizeof(p), "%s/bus/ap/devices/05.04", t.sys);
	mkdir_p(p);
	snprintf(p, sizeof(p), "%s/bus/ap/devices/0c.0100", t.sys);
	mkdir_p(p);
	snprintf(p, sizeof(p), "%s/bus/ap/devices/cardXY", t.sys);
	mkdir_p(p);
	snprintf(p, sizeof(p), "%s/bus/ap/devices/card0d", t.sys);
	ck_assert_int_eq(symlink("../../../devices/ap/card0d", p), 0);	/* dangling */
	snprintf(p, sizeof(p), "%s/devices/ap/card0a/0b.0002", t.sys);
	mkdir_p(p);	/* wrong card */

	ck_assert_int_eq(apmatrix_host_read(ctx, &host), 0);
	ck_assert_uint_eq(apmatrix_host_num_cards(host), 2);
	c = apmatrix_host_card(host, 0);
	ck_assert_uint_eq(apmatrix_card_id(c), 0x0a);
	ck_assert_int_eq(apmatrix_card_online(c), 1);
	ck_assert_int_eq(apmatrix_card_config(c), -1);
	ck_assert_uint_eq(apmatrix_card_num_queues(c), 1);
	ck_assert_uint_eq(apmatrix_queue_apqi(apmatrix_card_queue(c, 0)), 3);
	ck_assert_int_eq(apmatrix_queue_holder(apmatrix_card_queue(c, 0)), APMATRIX_HOLDER_HOST);
	c = apmatrix_host_card(host, 1);
	ck_assert_uint_eq(apmatrix_card_id(c), 0x0b);
	ck_assert_ptr_null(apmatrix_card_type(c));
	ck_assert_int_eq(apmatrix_card_hwtype(c), -1);
	ck_assert_int_eq(apmatrix_card_config(c), -1);
	ck_assert_ptr_nonnull(apmatrix_host_queue(host, 0x0b, 1));
}
END_TEST

/* the sysfs root from the environment */
START_TEST(host_env_root)
{
	struct apmatrix_ctx *c;

	populate();
	setenv("APMATRIX_SYSFS_ROOT", t.sys, 1);
	c = apmatrix_ctx_new();
	unsetenv("APMATRIX_SYSFS_ROOT");
	ck_assert_int_eq(apmatrix_host_read(c, &host), 0);
	ck_assert_uint_eq(apmatrix_host_num_cards(host), 3);
	apmatrix_ctx_free(c);
}
END_TEST

START_TEST(host_no_bus)
{
	char root[PATH_MAX];

	snprintf(root, sizeof(root), "%s/nothing", t.dir);
	ck_assert_int_eq(apmatrix_ctx_set_sysfs_root(ctx, root), 0);
	host = (struct apmatrix_host *)1;
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), -ENODEV);
	ck_assert_ptr_null(host);
	snprintf(expect, sizeof(expect), "no AP bus at %s/bus/ap (no s390 AP bus here)", root);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	ck_assert_int_eq(apmatrix_host_read(ctx, NULL), -EINVAL);
	ck_assert_int_eq(apmatrix_host_read(NULL, &host), -EINVAL);
}
END_TEST

static const struct bad_file {
	const char *file, *content;	/* content NULL: remove; "DIR": a directory */
	int rc;
	const char *msg;		/* after "<sys>/bus/ap/" */
} bad_files[] = {
	{ "apmask", NULL, -EIO, "reading %s/bus/ap/apmask: No such file or directory (ENOENT)" },
	{ "aqmask", NULL, -EIO, "reading %s/bus/ap/aqmask: No such file or directory (ENOENT)" },
	{ "apmask", "DIR", -EIO, "reading %s/bus/ap/apmask: not a regular file (sysfs attributes are)" },
	{ "apmask", "0x123\n", -EINVAL, "%s/bus/ap/apmask: '0x123' is not a mask (0x and 64 hex digits)" },
	{ "aqmask", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n", -EINVAL,
	  "%s/bus/ap/aqmask: 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' is not a mask (0x and 64 hex digits)" },
	{ "apmask", "", -EINVAL, "%s/bus/ap/apmask: '' is not a mask (0x and 64 hex digits)" },
	{ "ap_usage_domain_mask", "0xzz\n", -EINVAL,
	  "%s/bus/ap/ap_usage_domain_mask: '0xzz' is not a mask (0x and 64 hex digits)" },
	{ "ap_max_domain_id", "abc\n", -EINVAL, "%s/bus/ap/ap_max_domain_id: 'abc' is not a number" },
	{ "ap_max_adapter_id", "\n", -EINVAL, "%s/bus/ap/ap_max_adapter_id: '' is not a number" },
	{ "ap_max_domain_id", "300\n", -EINVAL, "%s/bus/ap/ap_max_domain_id: 300 is not an ID from 0 to 255" },
	{ "ap_max_adapter_id", "-1\n", -EINVAL, "%s/bus/ap/ap_max_adapter_id: -1 is not an ID from 0 to 255" },
	{ "devices/card05/hwtype", "x\n", -EINVAL, "%s/bus/ap/devices/card05/hwtype: 'x' is not a number" },
	{ "devices/card05/online", "1x\n", -EINVAL, "%s/bus/ap/devices/card05/online: '1x' is not a number" },
	{ "devices/05.0004/online", "yes\n", -EINVAL, "%s/bus/ap/devices/05.0004/online: 'yes' is not a number" },
	{ "devices/05.0004/online", "DIR", -EIO,
	  "reading %s/bus/ap/devices/05.0004/online: not a regular file (sysfs attributes are)" },
	{ "ap_adapter_mask", "0x1\n", -EINVAL,
	  "%s/bus/ap/ap_adapter_mask: '0x1' is not a mask (0x and 64 hex digits)" },
	{ "ap_control_domain_mask", "nope\n", -EINVAL,
	  "%s/bus/ap/ap_control_domain_mask: 'nope' is not a mask (0x and 64 hex digits)" },
	{ "devices/card05/chkstop", "?\n", -EINVAL, "%s/bus/ap/devices/card05/chkstop: '?' is not a number" },
	{ "devices/05.0004/config", "\n", -EINVAL, "%s/bus/ap/devices/05.0004/config: '' is not a number" },
	{ "devices/card05/driver", "DIR", -EIO,
	  "reading %s/bus/ap/devices/card05/driver: Invalid argument (EINVAL)" },
	{ "devices/card05/type", "DIR", -EIO,
	  "reading %s/bus/ap/devices/card05/type: not a regular file (sysfs attributes are)" },
};

/*
 * An entry that exists but cannot be read is an error naming it, not a
 * card or queue silently left out (a reserve would then take more than
 * it says, a list would leave the card out). A dangling link is a device
 * gone meanwhile: skipped. A FIFO where an attribute is fails at once.
 */
START_TEST(host_unreadable_entries)
{
	static const struct {
		const char *name, *how, *msg;
	} cases[] = {
		{ "card0e", "loop", "reading %s/bus/ap/devices/card0e: Too many levels of symbolic links (ELOOP)" },
		{ "0e.0001", "loop", "reading %s/bus/ap/devices/0e.0001: Too many levels of symbolic links (ELOOP)" },
		{ "card0c", "file", "reading %s/bus/ap/devices/card0c: Not a directory (ENOTDIR)" },
		{ "card05/05.0009", "loop", "reading %s/bus/ap/devices/card05/05.0009: Too many levels of symbolic links (ELOOP)" },
		{ "apmask", "fifo", "reading %s/bus/ap/apmask: not a regular file (sysfs attributes are)" },
		{ "05.0004/online", "fifo", "reading %s/bus/ap/devices/05.0004/online: not a regular file (sysfs attributes are)" },
	};
	char p[PATH_MAX];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tree_free(&t);
		tree_init(&t, "all", "all");
		ck_assert_int_eq(apmatrix_ctx_set_sysfs_root(ctx, t.sys), 0);
		populate();
		if (!strcmp(cases[i].name, "apmask"))
			snprintf(p, sizeof(p), "%s/bus/ap/apmask", t.sys);
		else
			snprintf(p, sizeof(p), "%s/bus/ap/devices/%s", t.sys, cases[i].name);
		unlink(p);
		if (!strcmp(cases[i].how, "loop"))
			ck_assert_int_eq(symlink(cases[i].name + (strchr(cases[i].name, '/') ?
					 strchr(cases[i].name, '/') - cases[i].name + 1 : 0), p), 0);
		else if (!strcmp(cases[i].how, "file"))
			write_file(p, "not a directory");
		else
			ck_assert_int_eq(mkfifo(p, 0644), 0);
		ck_assert_int_eq(apmatrix_host_read(ctx, &host), -EIO);
		ck_assert_ptr_null(host);
		snprintf(expect, sizeof(expect), cases[i].msg, t.sys);
		ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	}
}
END_TEST

START_TEST(host_bad_files)
{
	const struct bad_file *b = &bad_files[_i];
	char p[PATH_MAX];

	populate();
	snprintf(p, sizeof(p), "%s/bus/ap/%s", t.sys, b->file);
	unlink(p);
	if (b->content && !strcmp(b->content, "DIR"))
		mkdir_p(p);
	else if (b->content)
		write_file(p, b->content);
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), b->rc);
	ck_assert_ptr_null(host);
	snprintf(expect, sizeof(expect), b->msg, t.sys);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
}
END_TEST

/* a NUL byte is not sysfs text */
START_TEST(host_nul_byte)
{
	static const char text[] = "0x8000000000000000000000000000000000000000000000000000000000000000\0x\n";
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/bus/ap/apmask", t.sys);
	f = fopen(p, "w");
	ck_assert_uint_eq(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
	fclose(f);
	ck_assert_int_eq(apmatrix_host_read(ctx, &host), -EINVAL);
	snprintf(expect, sizeof(expect), "%s/bus/ap/apmask: '' is not a mask (0x and 64 hex digits)",
		 t.sys);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
}
END_TEST

START_TEST(host_null_accessors)
{
	ck_assert_uint_eq(apmatrix_host_max_adapter_id(NULL), 0);
	ck_assert_uint_eq(apmatrix_host_num_cards(NULL), 0);
	ck_assert_ptr_null(apmatrix_host_card(NULL, 0));
	ck_assert_ptr_null(apmatrix_host_queue(NULL, 0, 0));
	ck_assert_ptr_null(apmatrix_card_type(NULL));
	ck_assert_int_eq(apmatrix_card_hwtype(NULL), -1);
	ck_assert_int_eq(apmatrix_card_online(NULL), -1);
	ck_assert_int_eq(apmatrix_card_config(NULL), -1);
	ck_assert_uint_eq(apmatrix_card_num_queues(NULL), 0);
	ck_assert_ptr_null(apmatrix_card_queue(NULL, 0));
	ck_assert_int_eq(apmatrix_queue_online(NULL), -1);
	ck_assert_int_eq(apmatrix_queue_config(NULL), -1);
	ck_assert_int_eq(apmatrix_queue_chkstop(NULL), -1);
	ck_assert_int_eq(apmatrix_card_chkstop(NULL), -1);
	ck_assert_ptr_null(apmatrix_card_driver(NULL));
	ck_assert_ptr_null(apmatrix_queue_driver(NULL));
	apmatrix_host_free(NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("host");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, host_holders);
	tcase_add_test(tc, host_masks);
	tcase_add_test(tc, host_empty_defaults);
	tcase_add_test(tc, host_odd_trees);
	tcase_add_test(tc, host_env_root);
	tcase_add_test(tc, host_no_bus);
	tcase_add_test(tc, host_unreadable_entries);
	tcase_add_loop_test(tc, host_bad_files, 0, sizeof(bad_files) / sizeof(bad_files[0]));
	tcase_add_test(tc, host_nul_byte);
	tcase_add_test(tc, host_null_accessors);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
