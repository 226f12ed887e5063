// SPDX-License-Identifier: LGPL-2.1-or-later
/* libapmatrix unit tests: reserve/release plans and writing them to apmask/aqmask. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apmatrix.h"
#include "tutil.h"

static struct tree t;
static struct apmatrix_ctx *ctx;
static struct apmatrix_host *host;
static struct apmatrix_plan *plan;
static struct apmatrix_matrix *want;
static char expect[2 * PATH_MAX];

static void setup(void)
{
	umask(022);
	tree_init(&t, "all", "all");
	ctx = tree_ctx(&t);
	host = NULL;
	plan = NULL;
	want = NULL;
}

static void teardown(void)
{
	apmatrix_matrix_free(want);
	apmatrix_plan_free(plan);
	apmatrix_host_free(host);
	apmatrix_ctx_free(ctx);
	tree_free(&t);
}

static void read_host(void)
{
	apmatrix_host_free(host);
	host = NULL;
	ck_assert_msg(apmatrix_host_read(ctx, &host) == 0, "%s", apmatrix_ctx_last_error(ctx));
}

static void set_masks(const char *ap, const char *aq)
{
	char m[68], p[PATH_MAX];

	/* plain files again, if refuse_writes() made them links */
	snprintf(p, sizeof(p), "%s/bus/ap/apmask", t.sys);
	unlink(p);
	snprintf(p, sizeof(p), "%s/bus/ap/aqmask", t.sys);
	unlink(p);

	tree_bus_attr(&t, "apmask", mask_text(ap, m));
	tree_bus_attr(&t, "aqmask", mask_text(aq, m));
}

static const char *plan_ids(bool after, enum apmatrix_part p)
{
	static char buf[2][256];
	struct apmatrix_matrix *m = apmatrix_matrix_new();

	ck_assert_int_eq(apmatrix_plan_get_masks(plan, after, m), 0);
	ck_assert_uint_eq(apmatrix_matrix_count(m, APMATRIX_CONTROL_DOMAINS), 0);
	apmatrix_matrix_format_ids(m, p, buf[p], sizeof(buf[p]));
	apmatrix_matrix_free(m);
	return buf[p];
}

static const char *collateral(void)
{
	static char buf[1024];

	apmatrix_apqns_format(apmatrix_plan_collateral(plan), buf, sizeof(buf));
	return buf;
}

static int reserve(const char *apqns)
{
	apmatrix_matrix_free(want);
	apmatrix_plan_free(plan);
	plan = NULL;
	want = mat(apqns);
	return apmatrix_plan_reserve(ctx, host, want, &plan);
}

static int release(const char *apqns)
{
	apmatrix_matrix_free(want);
	apmatrix_plan_free(plan);
	plan = NULL;
	want = mat(apqns);
	return apmatrix_plan_release(ctx, host, want, &plan);
}

/* cards 05-07 with domains 4-6, all with the default drivers */
static void grid(void)
{
	tree_queues(&t, "5-7", "4-6", "cex4queue");
	read_host();
}

/* ------------------------------------------------------------------------ */
/* plans */

/* equal collateral, equal bits: the adapter */
START_TEST(reserve_tie_adapters)
{
	grid();
	ck_assert_int_eq(reserve("05.0004"), 0);
	ck_assert(!apmatrix_plan_is_noop(plan));
	ck_assert_str_eq(plan_ids(false, APMATRIX_ADAPTERS), "00-ff");
	ck_assert_str_eq(plan_ids(true, APMATRIX_ADAPTERS), "00-04,06-ff");
	ck_assert_str_eq(plan_ids(true, APMATRIX_DOMAINS), "0000-00ff");
	ck_assert_str_eq(collateral(), "05.0005,05.0006");
}
END_TEST

/* two adapters would take 4 others, one domain takes 1 */
START_TEST(reserve_domain_cheaper)
{
	grid();
	ck_assert_int_eq(reserve("05-06.0004"), 0);
	ck_assert_str_eq(plan_ids(true, APMATRIX_ADAPTERS), "00-ff");
	ck_assert_str_eq(plan_ids(true, APMATRIX_DOMAINS), "0000-0003,0005-00ff");
	ck_assert_str_eq(collateral(), "07.0004");
}
END_TEST

/* a whole card: nothing else goes */
START_TEST(reserve_whole_card)
{
	grid();
	ck_assert_int_eq(reserve("05.0004-0006"), 0);
	ck_assert_str_eq(plan_ids(true, APMATRIX_ADAPTERS), "00-04,06-ff");
	ck_assert_str_eq(plan_ids(true, APMATRIX_DOMAINS), "0000-00ff");
	ck_assert_str_eq(collateral(), "");
}
END_TEST

/* equal collateral: the cover with fewer bits wins over the adapters */
START_TEST(reserve_tie_fewer_bits)
{
	tree_queues(&t, "5", "4-5", "cex4queue");
	tree_queues(&t, "6-7", "4", "cex4queue");
	read_host();
	ck_assert_int_eq(reserve("05-06.0004"), 0);
	/* adapters: 2 bits, takes 05.0005; domains: 1 bit, takes 07.0004 */
	ck_assert_str_eq(plan_ids(true, APMATRIX_ADAPTERS), "00-ff");
	ck_assert_str_eq(plan_ids(true, APMATRIX_DOMAINS), "0000-0003,0005-00ff");
	ck_assert_str_eq(collateral(), "07.0004");
}
END_TEST

/* only queues the default drivers hold count as taken along */
START_TEST(reserve_counts_host_queues_only)
{
	set_masks("0-5,7-255", "all");
	tree_queues(&t, "5-7", "4-6", "cex4queue");
	read_host();
	/* adapter 6 is already out: A = {5}, D = {4}; adapters take
	 * 05.0005-0006 (2), domains take 07.0004 (1; 06.0004 is wanted) */
	ck_assert_int_eq(reserve("05-06.0004"), 0);
	ck_assert_str_eq(plan_ids(true, APMATRIX_ADAPTERS), "00-05,07-ff");
	ck_assert_str_eq(plan_ids(true, APMATRIX_DOMAINS), "0000-0003,0005-00ff");
	ck_assert_str_eq(collateral(), "07.0004");

	/* domains 5-6 already out: card 05's other queues are not the host's */
	set_masks("all", "0-4,7-255");
	read_host();
	ck_assert_int_eq(reserve("05-06.0004"), 0);
	ck_assert_str_eq(plan_ids(true, APMATRIX_ADAPTERS), "00-04,07-ff");
	ck_assert_str_eq(plan_ids(true, APMATRIX_DOMAINS), "0000-0004,0007-00ff");
	ck_assert_str_eq(collateral(), "");
}
END_TEST

START_TEST(reserve_noop)
{
	set_masks("0-4,6-255", "all");
	grid();
	ck_assert_int_eq(reserve("05.0004-0005"), 0);
	ck_assert(apmatrix_plan_is_noop(plan));
	ck_assert_str_eq(plan_ids(true, APMATRIX_ADAPTERS), "00-04,06-ff");
	ck_assert_str_eq(collateral(), "");
	/* applying it writes nothing and needs no lock */
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), 0);
	ck_assert_int_eq(access(t.lock, F_OK), -1);
}
END_TEST

START_TEST(plan_bad_args)
{
	grid();
	want = apmatrix_matrix_new();
	apmatrix_matrix_set(want, APMATRIX_ADAPTERS, 5, true);
	plan = (struct apmatrix_plan *)1;
	ck_assert_int_eq(apmatrix_plan_reserve(ctx, host, want, &plan), -EINVAL);
	ck_assert_ptr_null(plan);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "nothing to reserve: the matrix has no usage APQN (it needs adapters and domains)");
	ck_assert_int_eq(apmatrix_plan_release(ctx, host, want, &plan), -EINVAL);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "nothing to release: the matrix has no usage APQN (it needs adapters and domains)");
	ck_assert_int_eq(apmatrix_plan_reserve(ctx, NULL, want, &plan), -EINVAL);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), "bad arguments to apmatrix_plan_reserve()");
	ck_assert_int_eq(apmatrix_plan_release(ctx, host, NULL, &plan), -EINVAL);
	ck_assert_int_eq(apmatrix_plan_reserve(ctx, host, want, NULL), -EINVAL);
	ck_assert_int_eq(apmatrix_plan_apply(ctx, NULL), -EINVAL);
	ck_assert_int_eq(apmatrix_plan_get_masks(NULL, true, want), -EINVAL);
	ck_assert_ptr_null(apmatrix_plan_collateral(NULL));
	ck_assert(apmatrix_plan_is_noop(NULL));
	apmatrix_plan_free(NULL);
}
END_TEST

START_TEST(release_sets_bits)
{
	set_masks("0-4,6-255", "all");
	tree_queues(&t, "5", "4-6", "apmatrix");
	tree_queues(&t, "6-7", "4-6", "cex4queue");
	read_host();
	ck_assert_int_eq(release("05.0004"), 0);
	ck_assert_str_eq(plan_ids(true, APMATRIX_ADAPTERS), "00-ff");
	ck_assert_str_eq(plan_ids(true, APMATRIX_DOMAINS), "0000-00ff");
	ck_assert_str_eq(collateral(), "05.0005,05.0006");

	/* both masks change */
	set_masks("0-4,6-255", "0-3,5-255");
	read_host();
	ck_assert_int_eq(release("05.0004"), 0);
	ck_assert_str_eq(plan_ids(false, APMATRIX_DOMAINS), "0000-0003,0005-00ff");
	ck_assert_str_eq(plan_ids(true, APMATRIX_ADAPTERS), "00-ff");
	ck_assert_str_eq(plan_ids(true, APMATRIX_DOMAINS), "0000-00ff");
	ck_assert_str_eq(collateral(), "05.0005,05.0006,06.0004,07.0004");

	/* already the host's */
	set_masks("all", "all");
	read_host();
	ck_assert_int_eq(release("05-06.0004"), 0);
	ck_assert(apmatrix_plan_is_noop(plan));
	ck_assert_str_eq(collateral(), "");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* apply */

static void expect_file(const char *name, const char *ids)
{
	char got[128], m[68];

	ck_assert_str_eq(tree_read(&t, name, got, sizeof(got)), mask_text(ids, m));
}

static int count_lock_files(void);

START_TEST(apply_reserve)
{
	struct stat st;

	grid();
	ck_assert_int_eq(reserve("05.0004"), 0);
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), 0);
	expect_file("apmask", "0-4,6-255");
	expect_file("aqmask", "all");
	/* the lock was let go: no lock file left behind, no temporary file */
	ck_assert_int_eq(lstat(t.lock, &st), -1);
	ck_assert_int_eq(count_lock_files(), 0);
	/* the host sees it */
	read_host();
	ck_assert_int_eq(apmatrix_queue_holder(apmatrix_host_queue(host, 5, 4)),
			 APMATRIX_HOLDER_OTHER);	/* cex4queue, but no more the host's */
	/* the same plan again: the masks are no longer its "before" */
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), -EAGAIN);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "apmask or aqmask changed since the plan was made: read the host and plan again");
}
END_TEST

START_TEST(apply_release_both)
{
	set_masks("0-4,6-255", "0-3,5-255");
	grid();
	ck_assert_int_eq(release("05.0004"), 0);
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), 0);
	expect_file("apmask", "all");
	expect_file("aqmask", "all");
}
END_TEST

START_TEST(apply_changed_masks)
{
	grid();
	ck_assert_int_eq(reserve("05-06.0004"), 0);
	set_masks("all", "0-200");	/* someone else wrote aqmask */
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), -EAGAIN);
	expect_file("apmask", "all");
	expect_file("aqmask", "0-200");
}
END_TEST

/*
 * Make name a file that reads like the mask but refuses writes with
 * EPERM, even for root: a sealed memfd of this process.
 */
static int refuse_writes(const char *name)
{
	char got[128], p[PATH_MAX], link[64];
	int fd = memfd_create("sealed-mask", MFD_ALLOW_SEALING | MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	tree_read(&t, name, got, sizeof(got));
	ck_assert_int_eq(write(fd, got, strlen(got)), (ssize_t)strlen(got));
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK |
			       F_SEAL_GROW | F_SEAL_SEAL), 0);
	snprintf(p, sizeof(p), "%s/bus/ap/%s", t.sys, name);
	ck_assert_int_eq(unlink(p), 0);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ck_assert_int_eq(symlink(link, p), 0);
	return fd;
}

/* the second write fails: the first is undone */
START_TEST(apply_rollback)
{
	int fd;

	set_masks("0-4,6-255", "0-3,5-255");
	grid();
	ck_assert_int_eq(release("05.0004"), 0);
	fd = refuse_writes("aqmask");
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), -EPERM);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "writing aqmask: Operation not permitted (EPERM); apmask rolled back");
	expect_file("apmask", "0-4,6-255");
	expect_file("aqmask", "0-3,5-255");
	close(fd);
}
END_TEST

START_TEST(apply_first_write_fails)
{
	int fd;

	set_masks("0-4,6-255", "0-3,5-255");
	grid();
	ck_assert_int_eq(release("05.0004"), 0);
	fd = refuse_writes("apmask");
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), -EPERM);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "writing apmask: Operation not permitted (EPERM); nothing changed");
	expect_file("apmask", "0-4,6-255");
	expect_file("aqmask", "0-3,5-255");
	close(fd);

	/* a domain reserve writes only aqmask */
	set_masks("all", "all");
	read_host();
	ck_assert_int_eq(reserve("05-06.0004"), 0);
	fd = refuse_writes("aqmask");
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), -EPERM);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "writing aqmask: Operation not permitted (EPERM); nothing changed");
	expect_file("apmask", "all");
	close(fd);
}
END_TEST

START_TEST(apply_lock_errors)
{
	grid();
	ck_assert_int_eq(reserve("05.0004"), 0);
	snprintf(expect, sizeof(expect), "%s/no/such/dir/lock", t.dir);
	ck_assert_int_eq(apmatrix_ctx_set_lock_file(ctx, expect), 0);
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), -ENOENT);
	snprintf(expect, sizeof(expect),
		 "taking lock file %s/no/such/dir/lock: cannot create a file in its directory: No such file or directory (ENOENT)",
		 t.dir);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	expect_file("apmask", "all");
	/* the AP bus went away */
	ck_assert_int_eq(apmatrix_ctx_set_lock_file(ctx, t.lock), 0);
	snprintf(expect, sizeof(expect), "%s/gone", t.dir);
	ck_assert_int_eq(apmatrix_ctx_set_sysfs_root(ctx, expect), 0);
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), -ENODEV);
	snprintf(expect, sizeof(expect), "no AP bus at %s/gone/bus/ap (no s390 AP bus here)", t.dir);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
}
END_TEST

/*
 * s390-tools' lock, as libutil/util_lockfile.c takes it: "PID\n" in a
 * temporary file, link()ed to the lock file's name; released by unlink().
 * A stand-in for chzdev -t ap / ap-check holding the lock.
 */
static int s390tools_lock(const char *lock)
{
	char tmp[PATH_MAX + 16], text[24];
	int fd, len, rc;

	snprintf(tmp, sizeof(tmp), "%s%05d%02x", lock, (int)getpid(),
		 (unsigned int)time(NULL) & 255);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	len = snprintf(text, sizeof(text), "%d\n", (int)getpid());
	if (write(fd, text, len) != len || close(fd))
		return -1;
	rc = link(tmp, lock);
	unlink(tmp);
	return rc;
}

/* files in the lock's directory whose name starts with the lock's */
static int count_lock_files(void)
{
	const char *base = strrchr(t.lock, '/') + 1;
	struct dirent *de;
	DIR *d = opendir(t.dir);
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, base, strlen(base)))
			n++;
	closedir(d);
	return n;
}

/*
 * The lock is held from re-reading the masks to the last write. A child
 * holds it the s390-tools way, and changes apmask before it lets go: an
 * apply that waits for the lock must see the change (-EAGAIN). One that
 * did not wait (or took a lock s390-tools does not see, such as flock())
 * would read the old masks and write.
 */
START_TEST(apply_waits_for_lock)
{
	int ready[2], status;
	pid_t pid;
	char c;

	grid();
	ck_assert_int_eq(reserve("05.0004"), 0);
	ck_assert_int_eq(pipe(ready), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		char m[68], p[PATH_MAX];
		FILE *f;

		if (s390tools_lock(t.lock) || write(ready[1], "L", 1) != 1)
			_exit(1);
		usleep(300 * 1000);
		snprintf(p, sizeof(p), "%s/bus/ap/apmask", t.sys);
		f = fopen(p, "w");
		if (!f || fputs(mask_text("1-255", m), f) < 0 || fclose(f))
			_exit(2);
		_exit(unlink(t.lock) ? 3 : 0);	/* s390-tools' release */
	}
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);	/* the child holds it now */
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), -EAGAIN);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	expect_file("apmask", "1-255");
	ck_assert_int_eq(count_lock_files(), 0);
}
END_TEST

/* and once the holder lets go without changing anything, apply goes ahead */
START_TEST(apply_after_lock)
{
	int ready[2], status;
	char c, p[PATH_MAX];
	pid_t pid;

	grid();
	ck_assert_int_eq(reserve("05.0004"), 0);
	ck_assert_int_eq(pipe(ready), 0);
	snprintf(p, sizeof(p), "%s/released", t.dir);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		int mark;

		if (s390tools_lock(t.lock) || write(ready[1], "L", 1) != 1)
			_exit(1);
		usleep(100 * 1000);
		mark = open(p, O_WRONLY | O_CREAT, 0644);	/* the last thing under the lock */
		_exit(mark < 0 || unlink(t.lock) ? 2 : 0);
	}
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), 0);
	ck_assert_int_eq(access(p, F_OK), 0);	/* the child was done before apply wrote */
	expect_file("apmask", "0-4,6-255");
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

static int waits_told;
static pid_t waits_holder;

static void on_wait(struct apmatrix_ctx *c, const char *lock, pid_t holder,
		    unsigned int timeout_ms, void *data)
{
	ck_assert_ptr_eq(c, ctx);
	ck_assert_str_eq(lock, t.lock);
	ck_assert_uint_eq(timeout_ms, 200);
	ck_assert_ptr_eq(data, &waits_told);
	waits_told++;
	waits_holder = holder;
}

/*
 * A lock held by a live process that never lets go: apply waits at most
 * the timeout, says so once through the callback, fails with -ETIMEDOUT
 * naming the holder, and writes nothing.
 */
START_TEST(apply_lock_timeout)
{
	char pidtext[24];

	grid();
	ck_assert_int_eq(reserve("05.0004"), 0);
	snprintf(pidtext, sizeof(pidtext), "%d\n", (int)getpid());
	write_file(t.lock, pidtext);
	ck_assert_int_eq(apmatrix_ctx_set_lock_timeout(ctx, 200), 0);
	ck_assert_uint_eq(apmatrix_ctx_get_lock_timeout(ctx), 200);
	waits_told = 0;
	apmatrix_ctx_set_lock_wait_fn(ctx, on_wait, &waits_told);
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), -ETIMEDOUT);
	ck_assert_int_eq(waits_told, 1);
	ck_assert_int_eq(waits_holder, getpid());
	snprintf(expect, sizeof(expect),
		 "the AP configuration lock %s is held by process %d (file owner uid %u), still after 0.2 s: nothing written",
		 t.lock, (int)getpid(), (unsigned int)getuid());
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	expect_file("apmask", "all");
	/* someone else's lock is left alone, and no temporary file remains */
	ck_assert_int_eq(access(t.lock, F_OK), 0);
	ck_assert_int_eq(count_lock_files(), 1);
	/* the same with no wait at all */
	ck_assert_int_eq(apmatrix_ctx_set_lock_timeout(ctx, 0), 0);
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), -ETIMEDOUT);
}
END_TEST

/* a lock whose process is gone is stale: removed, then taken */
START_TEST(apply_stale_lock)
{
	char pidtext[24];
	int status;
	pid_t pid;

	grid();
	ck_assert_int_eq(reserve("05.0004"), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);	/* pid: no process now */
	snprintf(pidtext, sizeof(pidtext), "%d\n", (int)pid);
	write_file(t.lock, pidtext);
	ck_assert_int_eq(apmatrix_ctx_set_lock_timeout(ctx, 0), 0);
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), 0);
	expect_file("apmask", "0-4,6-255");
	ck_assert_int_eq(count_lock_files(), 0);
}
END_TEST

/*
 * A symbolic link at the lock's name (a user's, in a world-writable
 * /run/lock with fs.protected_symlinks=0) is refused: nothing is made
 * where it points, nothing is written.
 */
START_TEST(apply_lock_symlink)
{
	char target[PATH_MAX];
	struct stat st;

	grid();
	ck_assert_int_eq(reserve("05.0004"), 0);
	snprintf(target, sizeof(target), "%s/elsewhere", t.dir);
	ck_assert_int_eq(symlink(target, t.lock), 0);
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), -ELOOP);
	snprintf(expect, sizeof(expect),
		 "lock file %s is a symbolic link: not following it (remove it if no one should have put it there)",
		 t.lock);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	ck_assert_int_eq(lstat(target, &st), -1);
	ck_assert_int_eq(lstat(t.lock, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	expect_file("apmask", "all");
	/* a FIFO there: refused too, and nothing hangs on it */
	ck_assert_int_eq(unlink(t.lock), 0);
	ck_assert_int_eq(mkfifo(t.lock, 0644), 0);
	ck_assert_int_eq(apmatrix_plan_apply(ctx, plan), -EINVAL);
	snprintf(expect, sizeof(expect), "lock file %s is not a regular file", t.lock);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	expect_file("apmask", "all");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("plan");
	TCase *ta = tcase_create("apply");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reserve_tie_adapters);
	tcase_add_test(tc, reserve_domain_cheaper);
	tcase_add_test(tc, reserve_whole_card);
	tcase_add_test(tc, reserve_tie_fewer_bits);
	tcase_add_test(tc, reserve_counts_host_queues_only);
	tcase_add_test(tc, reserve_noop);
	tcase_add_test(tc, plan_bad_args);
	tcase_add_test(tc, release_sets_bits);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(ta, setup, teardown);
	tcase_add_test(ta, apply_reserve);
	tcase_add_test(ta, apply_release_both);
	tcase_add_test(ta, apply_changed_masks);
	tcase_add_test(ta, apply_rollback);
	tcase_add_test(ta, apply_first_write_fails);
	tcase_add_test(ta, apply_lock_errors);
	tcase_add_test(ta, apply_waits_for_lock);
	tcase_add_test(ta, apply_after_lock);
	tcase_add_test(ta, apply_lock_timeout);
	tcase_add_test(ta, apply_stale_lock);
	tcase_add_test(ta, apply_lock_symlink);
	tcase_set_timeout(ta, 60);
	suite_add_tcase(s, ta);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
