/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers of libapmatrix's unit tests: fake sysfs trees, masks, files. */
#ifndef TUTIL_H
#define TUTIL_H

#include <check.h>
#include <limits.h>
#include <stdbool.h>

#include "apmatrix.h"

/* A sysfs tree laid out as a real s390 host's, in a temp directory. */
struct tree {
	char dir[PATH_MAX];	/* the temp directory */
	char sys[PATH_MAX];	/* dir/sys: the sysfs root */
	char lock[PATH_MAX];	/* dir/s390apconfig.lock */
};

/*
 * Make dir/sys/bus/ap with apmask/aqmask (IDs as "0,5-7" decimal lists,
 * "" none, "all" for 0-255), ap_max_adapter_id/ap_max_domain_id 255,
 * bus/ap/devices, bus/ap/drivers, devices/ap.
 */
void tree_init(struct tree *t, const char *apmask_ids, const char *aqmask_ids);
void tree_free(struct tree *t);
/* a file under dir/sys/bus/ap */
void tree_bus_attr(struct tree *t, const char *name, const char *content);
/* devices/ap/cardXX and its bus/ap/devices symlink; NULL/-2 leave a file out */
void tree_card(struct tree *t, unsigned int id, const char *type, int hwtype,
	       int online, int config);
/* devices/ap/cardXX/XX.YYYY, its symlink and a driver link (NULL: none) */
void tree_queue(struct tree *t, unsigned int apid, unsigned int apqi,
		int online, const char *driver);
/* cards a..b x domains: queues bound to driver */
void tree_queues(struct tree *t, const char *apids, const char *apqis,
		 const char *driver);
/* contents of dir/sys/bus/ap/name */
const char *tree_read(struct tree *t, const char *name, char *buf, size_t len);
/* a context rooted at the tree, with the tree's lock file */
struct apmatrix_ctx *tree_ctx(struct tree *t);

/* "0x" + 64 hex digits + "\n" for a decimal ID list ("0,5-7"), computed
 * nibble by nibble, independently of the library. */
const char *mask_text(const char *ids, char buf[68]);

/* where temp trees go: $TMPDIR, else /dev/shm (tmpfs: fast) if usable, else /tmp */
const char *tmp_base(void);

void write_file(const char *path, const char *content);
void mkdir_p(const char *path);
void rm_rf(const char *path);

/* run every test of s (freed here); the exit status for main() */
int run_suite(Suite *s);

/* a matrix from APQN text; the test fails if it does not parse */
struct apmatrix_matrix *mat(const char *apqns);

#endif
