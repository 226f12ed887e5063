// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix unit tests: VM ioctls, open_pid and explain(), against
 * tests/ioctl-mock (preloaded by meson): a memfd named apmatrix-fake-vm
 * is the VM, APMATRIX_IOCTL_SCRIPT the calls it expects. A test whose
 * script is not used up exits 99 (the mock's check), so each test also
 * asserts that exactly the scripted calls were made.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apmatrix.h"
#include "kvm-abi.h"
#include "tutil.h"

static struct tree t;
static struct apmatrix_ctx *ctx;
static struct apmatrix_vm *vm;
static char expect[4096];

static void setup(void)
{
	tree_init(&t, "all", "all");
	ctx = tree_ctx(&t);
	vm = NULL;
	unsetenv("APMATRIX_IOCTL_SCRIPT");
	unsetenv("APMATRIX_IOCTL_LOG");
}

static struct apmatrix_grant_fd *grant;

static void teardown(void)
{
	apmatrix_grant_free(grant);
	grant = NULL;
	apmatrix_vm_free(vm);
	apmatrix_ctx_free(ctx);
	tree_free(&t);
}

static int fake_vm_fd(void)
{
	int fd = memfd_create("apmatrix-fake-vm", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

static void script(const char *text)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/script", t.dir);
	write_file(p, text);
	setenv("APMATRIX_IOCTL_SCRIPT", p, 1);
}

/* a VM on a fresh fake fd, with the script */
static void open_vm(const char *text)
{
	int fd = fake_vm_fd();

	script(text);
	ck_assert_int_eq(apmatrix_vm_open_fd(ctx, fd, &vm), 0);
	close(fd);
}

/* adapters x domains from two ID lists */
static struct apmatrix_matrix *mat2(const char *adapters, const char *domains)
{
	struct apmatrix_matrix *m = apmatrix_matrix_new();

	ck_assert_int_eq(apmatrix_matrix_parse_ids(NULL, m, APMATRIX_ADAPTERS, adapters), 0);
	ck_assert_int_eq(apmatrix_matrix_parse_ids(NULL, m, APMATRIX_DOMAINS, domains), 0);
	return m;
}

static const char *fmt_apqns(const struct apmatrix_apqns *s)
{
	static char buf[1024];

	ck_assert_int_lt(apmatrix_apqns_format(s, buf, sizeof(buf)), sizeof(buf));
	return buf;
}

/* ------------------------------------------------------------------------ */

START_TEST(vm_open_fd)
{
	int fd = fake_vm_fd();

	ck_assert_int_eq(apmatrix_vm_open_fd(ctx, fd, &vm), 0);
	ck_assert_int_ne(apmatrix_vm_fd(vm), fd);
	ck_assert_int_ge(apmatrix_vm_fd(vm), 3);
	ck_assert_int_eq(fcntl(apmatrix_vm_fd(vm), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);	/* the VM keeps its own */
	ck_assert_int_ge(fcntl(apmatrix_vm_fd(vm), F_GETFD), 0);
	apmatrix_vm_free(vm);
	vm = NULL;

	ck_assert_int_eq(apmatrix_vm_open_fd(ctx, -1, &vm), -EBADF);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), "fd -1 is not a file descriptor");
	ck_assert_int_eq(apmatrix_vm_open_fd(ctx, 999, &vm), -EBADF);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "duplicating fd 999: Bad file descriptor (EBADF)");
	ck_assert_ptr_null(vm);
	ck_assert_int_eq(apmatrix_vm_open_fd(NULL, 0, &vm), -EINVAL);
	ck_assert_int_eq(apmatrix_vm_open_fd(ctx, 0, NULL), -EINVAL);
	ck_assert_int_eq(apmatrix_vm_fd(NULL), -EINVAL);
	apmatrix_vm_free(NULL);
}
END_TEST

/* every ioctl, its payload and its answer */
START_TEST(vm_ioctls)
{
	struct apmatrix_matrix *m = mat("05-06.0004");
	struct apmatrix_matrix *got = apmatrix_matrix_new();
	char buf[256];

	open_vm("# every call libapmatrix makes\n"
		"has -> 0\n"
		"set 0 05-06.0004/c=0004 -> 0\n"
		"\n"
		"set reset 05-06.0004/c=0004 -> 0\n"
		"set validate,reset 05-06.0004/c=0004 -> 0\n"
		"get -> 0 05-06.0004-0005/c=0001\n"
		"set 0 - -> 0\n"
		"apie -> 0\n"
		"has -> ENXIO\n"
		"set validate 05-06.0004/c=0004 -> EADDRINUSE\n"
		"get -> EBUSY\n"
		"apie -> EOPNOTSUPP\n"
		"set 0 - -> EBUSY\n");
	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 4, true);
	ck_assert_int_eq(apmatrix_vm_probe(vm), 0);
	ck_assert_int_eq(apmatrix_vm_set(vm, m, 0), 0);
	ck_assert_int_eq(apmatrix_vm_set(vm, m, APMATRIX_SET_RESET), 0);
	ck_assert_int_eq(apmatrix_vm_set(vm, m, APMATRIX_SET_RESET | APMATRIX_SET_VALIDATE_ONLY), 0);
	ck_assert_int_eq(apmatrix_vm_get(vm, got), 0);
	apmatrix_matrix_format_apqns(got, buf, sizeof(buf));
	ck_assert_str_eq(buf, "05-06.0004-0005");
	apmatrix_matrix_format_ids(got, APMATRIX_CONTROL_DOMAINS, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0001");
	ck_assert_int_eq(apmatrix_vm_clear(vm), 0);
	ck_assert_int_eq(apmatrix_vm_enable_apie(vm), 0);

	ck_assert_int_eq(apmatrix_vm_probe(vm), -ENXIO);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "KVM_HAS_DEVICE_ATTR (KVM_S390_VM_CRYPTO_SET_AP_MATRIX): No such device or address (ENXIO)");
	ck_assert_int_eq(apmatrix_vm_set(vm, m, APMATRIX_SET_VALIDATE_ONLY), -EADDRINUSE);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "KVM_SET_DEVICE_ATTR (KVM_S390_VM_CRYPTO_SET_AP_MATRIX): Address already in use (EADDRINUSE)");
	ck_assert_int_eq(apmatrix_vm_get(vm, got), -EBUSY);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "KVM_GET_DEVICE_ATTR (KVM_S390_VM_CRYPTO_SET_AP_MATRIX): Device or resource busy (EBUSY)");
	ck_assert_int_eq(apmatrix_vm_enable_apie(vm), -EOPNOTSUPP);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "KVM_SET_DEVICE_ATTR (KVM_S390_VM_CRYPTO_ENABLE_APIE): Operation not supported (EOPNOTSUPP)");
	ck_assert_int_eq(apmatrix_vm_clear(vm), -EBUSY);

	ck_assert_int_eq(apmatrix_vm_set(NULL, m, 0), -EINVAL);
	ck_assert_int_eq(apmatrix_vm_set(vm, NULL, 0), -EINVAL);
	ck_assert_int_eq(apmatrix_vm_get(vm, NULL), -EINVAL);
	ck_assert_int_eq(apmatrix_vm_probe(NULL), -EINVAL);
	ck_assert_int_eq(apmatrix_vm_clear(NULL), -EINVAL);
	ck_assert_int_eq(apmatrix_vm_enable_apie(NULL), -EINVAL);
	apmatrix_matrix_free(m);
	apmatrix_matrix_free(got);
}
END_TEST

/* the mock's log, in the script's syntax */
START_TEST(vm_log)
{
	struct apmatrix_matrix *m = mat("05.0004");
	char p[PATH_MAX], buf[512];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/log", t.dir);
	setenv("APMATRIX_IOCTL_LOG", p, 1);
	open_vm("has -> 0\nset * * -> EBUSY\nset 1 * -> 0\n");
	apmatrix_matrix_set(m, APMATRIX_ADAPTERS, 0x20, true);
	ck_assert_int_eq(apmatrix_vm_probe(vm), 0);
	ck_assert_int_eq(apmatrix_vm_set(vm, m, 2), -EBUSY);
	apmatrix_matrix_clear(m);
	apmatrix_matrix_set(m, APMATRIX_ADAPTERS, 0x20, true);
	ck_assert_int_eq(apmatrix_vm_set(vm, m, 1), 0);
	f = fopen(p, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	ck_assert_str_eq(buf, "has -> 0\n"
			      "set 2 05.0004,20.0004 -> EBUSY\n"
			      "set 1 a=20 -> 0\n");
	apmatrix_matrix_free(m);
}
END_TEST

/* a payload the script did not expect: EPROTO now, exit status 99 at the end */
START_TEST(mock_mismatch)
{
	struct apmatrix_matrix *m = mat("06.0004");

	open_vm("set 0 05.0004 -> 0\n");
	ck_assert_int_eq(apmatrix_vm_set(vm, m, 0), -EPROTO);
	apmatrix_matrix_free(m);
}
END_TEST

START_TEST(mock_leftover)
{
	open_vm("has -> 0\nhas -> 0\n");
	ck_assert_int_eq(apmatrix_vm_probe(vm), 0);
}
END_TEST

START_TEST(mock_extra_call)
{
	open_vm("has -> 0\n");
	ck_assert_int_eq(apmatrix_vm_probe(vm), 0);
	ck_assert_int_eq(apmatrix_vm_probe(vm), -EPROTO);
}
END_TEST

/* no script: the fake VM is a file without ioctls; other fds are untouched */
START_TEST(mock_passthrough)
{
	struct apmatrix_kvm_device_attr da = { .group = KVM_S390_VM_CRYPTO };
	int fd = fake_vm_fd();

	ck_assert_int_eq(apmatrix_vm_open_fd(ctx, fd, &vm), 0);
	ck_assert_int_eq(apmatrix_vm_probe(vm), -ENOTTY);
	close(fd);
	script("has -> 0\n");	/* not used: /dev/null is no fake VM */
	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(ioctl(fd, APMATRIX_KVM_HAS_DEVICE_ATTR, &da), -1);
	ck_assert(errno == ENOTTY || errno == ENOSYS);	/* ENOSYS: qemu-user */
	close(fd);
}
END_TEST

/* an fd that is no VM is refused at once */
START_TEST(open_fd_not_vm)
{
	char p[PATH_MAX];
	int fd;

	/* a file of ours: under qemu-user -L, /dev/null may be the sysroot's */
	snprintf(p, sizeof(p), "%s/notavm", t.dir);
	write_file(p, "x");
	fd = open(p, O_RDONLY);
	snprintf(expect, sizeof(expect), "fd %d is not a KVM VM: it is %s", fd, p);
	ck_assert_int_eq(apmatrix_vm_open_fd(ctx, fd, &vm), -ENOTTY);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	ck_assert_ptr_null(vm);
	close(fd);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* open_pid */

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/*
 * Valgrind (3.19) and some qemu-user versions do not know pidfd_open() or
 * pidfd_getfd(): the name of the missing one, or NULL.
 */
static const char *pidfd_missing(void)
{
	int pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	int fd;

	if (pidfd < 0)
		return errno == ENOSYS ? "pidfd_open" : NULL;
	fd = syscall(SYS_pidfd_getfd, pidfd, 0, 0);
	close(pidfd);
	if (fd >= 0)
		close(fd);
	return fd < 0 && errno == ENOSYS ? "pidfd_getfd" : NULL;
}

/* then open_pid must say so, and the rest of a test cannot run */
static bool no_pidfd(pid_t pid, int fd)
{
	const char *missing = pidfd_missing();

	if (!missing)
		return false;
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, pid, fd, &vm), -ENOSYS);
	ck_assert_ptr_null(vm);
	snprintf(expect, sizeof(expect),
		 "this kernel has no %s() (Linux 5.6 or later is needed to take a VM fd from a process)",
		 missing);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	return true;
}

START_TEST(open_pid_self)
{
	int fd = fake_vm_fd();

	if (no_pidfd(getpid(), -1))
		return;
	script("has -> 0\n");
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), -1, &vm), 0);
	ck_assert_int_ne(apmatrix_vm_fd(vm), fd);
	ck_assert_int_eq(fcntl(apmatrix_vm_fd(vm), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(apmatrix_vm_probe(vm), 0);
	apmatrix_vm_free(vm);
	vm = NULL;
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), fd, &vm), 0);
	close(fd);
}
END_TEST

/* another process's VM fd, as a VMM would hold it */
START_TEST(open_pid_child)
{
	int ready[2], done[2], fd, status;
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(done), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		fd = memfd_create("apmatrix-fake-vm", 0);
		if (fd < 0 || write(ready[1], "r", 1) != 1)
			_exit(1);
		close(done[1]);
		if (read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(done[0]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	script("set 0 05.0004 -> 0\n");
	if (no_pidfd(pid, -1)) {
		unlink(getenv("APMATRIX_IOCTL_SCRIPT"));
		close(done[1]);
		waitpid(pid, &status, 0);
		return;
	}
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, pid, -1, &vm), 0);
	{
		struct apmatrix_matrix *m = mat("05.0004");

		ck_assert_int_eq(apmatrix_vm_set(vm, m, 0), 0);
		apmatrix_matrix_free(m);
	}
	close(done[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

/*
 * The fd is looked at in /proc/PID/fd before pidfd_getfd() takes it; a
 * VMM may meanwhile put another file there. The file taken is checked,
 * not the name it had: refused, and nothing is kept.
 */
START_TEST(open_pid_fd_replaced)
{
	int fd = fake_vm_fd();
	char num[16];

	if (no_pidfd(getpid(), fd))
		return;
	snprintf(num, sizeof(num), "%d", fd);
	setenv("APMATRIX_MOCK_REPLACE_FD", num, 1);
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), fd, &vm), -ENOENT);
	unsetenv("APMATRIX_MOCK_REPLACE_FD");
	ck_assert_ptr_null(vm);
	snprintf(expect, sizeof(expect),
		 "process %d's fd %d is no KVM VM any more: it is /memfd:apmatrix-not-a-vm (deleted) now",
		 (int)getpid(), fd);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	close(fd);
}
END_TEST

/*
 * A child that waits for *release to be closed; with_vm: holding a fake
 * VM fd, its number in *fd.
 */
static pid_t child(bool with_vm, int *fd, int *release)
{
	int ready[2], done[2], n = -1;
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(done), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		close(done[1]);
		if (with_vm)
			n = memfd_create("apmatrix-fake-vm", 0);
		if ((with_vm && n < 0) || write(ready[1], &n, sizeof(n)) != sizeof(n))
			_exit(1);
		if (read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	ck_assert_int_eq(read(ready[0], &n, sizeof(n)), sizeof(n));
	close(ready[0]);
	if (fd)
		*fd = n;
	*release = done[1];
	return pid;
}

/*
 * The VMM exits while its fds are read, and its PID names another
 * process, one with a VM (the ioctl-mock's APMATRIX_MOCK_PID_REUSE: the
 * VMM is reaped at the first look under /proc/PID, and then /proc/PID
 * and pidfd_open(PID) lead to the other process). Nothing is taken, and
 * the error says why; with the pidfd opened after the look, the other
 * process's VM would be taken.
 */
START_TEST(open_pid_reused)
{
	int old_rel, new_rel, new_fd, status, round;
	pid_t old, new;
	char spec[64];

	if (pidfd_missing())
		return;	/* open_pid_self says it */
	script("");	/* any ioctl would be a mismatch */
	for (round = 0; round < 2; round++) {
		old = child(false, NULL, &old_rel);
		new = child(true, &new_fd, &new_rel);
		snprintf(spec, sizeof(spec), "%d:%d", (int)old, (int)new);
		setenv("APMATRIX_MOCK_PID_REUSE", spec, 1);
		/* round 0: the only VM fd is looked for; 1: fd new_fd is named */
		ck_assert_int_eq(apmatrix_vm_open_pid(ctx, old, round ? new_fd : -1, &vm),
				 -ESRCH);
		unsetenv("APMATRIX_MOCK_PID_REUSE");
		ck_assert_ptr_null(vm);
		snprintf(expect, sizeof(expect),
			 "process %d exited while its fds were being read (its PID may name another process now): nothing was taken",
			 (int)old);
		ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
		/* the mock reaped old: it is gone; new still runs, untouched */
		ck_assert_int_eq(waitpid(old, &status, WNOHANG), -1);
		close(old_rel);
		close(new_rel);
		ck_assert_int_eq(waitpid(new, &status, 0), new);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}
END_TEST

/* a VMM that gave its fd to apmatrix_vm_open_fd() holds two of one VM */
START_TEST(open_pid_same_vm_twice)
{
	int a = fake_vm_fd(), b = dup(a), c = fake_vm_fd();
	bool kcmp_ok = syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, a, b) == 0;

	if (no_pidfd(getpid(), a))
		return;
	close(c);
	script("has -> 0\n");
	if (kcmp_ok) {
		ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), -1, &vm), 0);
		ck_assert_int_eq(apmatrix_vm_probe(vm), 0);
	} else {	/* valgrind, some qemu-user: no kcmp() */
		ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), -1, &vm), -EEXIST);
		ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), a, &vm), 0);
		ck_assert_int_eq(apmatrix_vm_probe(vm), 0);
	}
	apmatrix_vm_free(vm);
	vm = NULL;
	/* two VMs stay two */
	c = fake_vm_fd();
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), -1, &vm), -EEXIST);
	close(a);
	close(b);
	close(c);
}
END_TEST

START_TEST(open_pid_errors)
{
	int a = fake_vm_fd(), b = fake_vm_fd(), fd, status;
	char p[PATH_MAX];
	pid_t pid;

	/* the pidfd comes before any look at the fds: without it, ENOSYS first */
	if (no_pidfd(getpid(), -1)) {
		close(a);
		close(b);
		ck_assert_int_eq(apmatrix_vm_open_pid(ctx, 0, -1, &vm), -ESRCH);
		ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), -1, NULL), -EINVAL);
		return;
	}
	snprintf(expect, sizeof(expect), "process %d has 2 KVM VM fds (%d, %d): say which one",
		 (int)getpid(), a < b ? a : b, a < b ? b : a);
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), -1, &vm), -EEXIST);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	ck_assert_ptr_null(vm);
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), b, &vm), 0);
	apmatrix_vm_free(vm);
	vm = NULL;
	close(a);
	close(b);

	/* many VMs: the list is cut */
	{
		int many[80], i;

		for (i = 0; i < 80; i++)
			many[i] = fake_vm_fd();
		ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), -1, &vm), -EEXIST);
		snprintf(expect, sizeof(expect), "process %d has 80 KVM VM fds (%d, %d, ", (int)getpid(),
			 many[0], many[1]);
		ck_assert(!strncmp(apmatrix_ctx_last_error(ctx), expect, strlen(expect)));
		ck_assert_ptr_nonnull(strstr(apmatrix_ctx_last_error(ctx), "...): say which one"));
		for (i = 0; i < 80; i++)
			close(many[i]);
	}

	snprintf(expect, sizeof(expect), "process %d has no KVM VM fd", (int)getpid());
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), -1, &vm), -ENOENT);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);

	snprintf(p, sizeof(p), "%s/notavm", t.dir);
	write_file(p, "x");
	fd = open(p, O_RDONLY);
	snprintf(expect, sizeof(expect), "fd %d of process %d is not a KVM VM: it is %s", fd,
		 (int)getpid(), p);
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), fd, &vm), -ENOENT);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	close(fd);

	snprintf(expect, sizeof(expect), "process %d has no fd 999", (int)getpid());
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), 999, &vm), -ENOENT);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);

	/* a process that is gone */
	pid = fork();
	if (!pid)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	snprintf(expect, sizeof(expect), "no process %d", (int)pid);
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, pid, -1, &vm), -ESRCH);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, pid, 3, &vm), -ESRCH);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, 0, -1, &vm), -ESRCH);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), "no process 0");
	ck_assert_int_eq(apmatrix_vm_open_pid(ctx, getpid(), -1, NULL), -EINVAL);
	ck_assert_ptr_null(vm);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* explain */

/* the host of tests/unit/test_host.c: see there */
static void populate(void)
{
	char m[68];

	tree_bus_attr(&t, "apmask", mask_text("0-5,7-255", m));
	tree_bus_attr(&t, "aqmask", mask_text("0-4,6-255", m));
	tree_card(&t, 5, "CEX8C\n", 14, 1, 1);
	tree_card(&t, 6, "CEX8A\n", 14, 0, 1);
	tree_card(&t, 7, NULL, 13, -2, 0);
	tree_queue(&t, 5, 4, 1, "cex4queue");
	tree_queue(&t, 5, 5, 1, "apmatrix");
	tree_queue(&t, 6, 4, 0, "vfio_ap");
	tree_queue(&t, 6, 5, -2, NULL);
	tree_queue(&t, 7, 4, -2, "cex4queue");
}

START_TEST(explain_enodev_host)
{
	struct apmatrix_matrix *m = mat2("05,40-41", "0004,0060");
	struct apmatrix_matrix *ids = apmatrix_matrix_new();
	char buf[64];

	tree_bus_attr(&t, "ap_max_adapter_id", "63\n");
	tree_bus_attr(&t, "ap_max_domain_id", "84\n");
	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 0x55, true);
	/* beyond the host: no probe needed; domains 0060 and 0055 are past 0x54 */
	open_vm("");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -ENODEV, NULL, ids), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "adapters 40-41: beyond the host's AP configuration (max adapter 0x3f) (ENODEV); "
			 "domain 0060: beyond the host's AP configuration (max domain 0x54) (ENODEV); "
			 "control domain 0055: beyond the host's AP configuration (max control domain 0x54) (ENODEV)");
	apmatrix_matrix_format_ids(ids, APMATRIX_ADAPTERS, buf, sizeof(buf));
	ck_assert_str_eq(buf, "40-41");
	apmatrix_matrix_format_ids(ids, APMATRIX_DOMAINS, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0060");
	apmatrix_matrix_format_ids(ids, APMATRIX_CONTROL_DOMAINS, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0055");
	apmatrix_matrix_free(m);
	apmatrix_matrix_free(ids);
}
END_TEST

START_TEST(explain_enodev_crycb)
{
	struct apmatrix_matrix *m = mat2("05,41-42", "0004,0010");
	struct apmatrix_matrix *ids = apmatrix_matrix_new();
	char buf[64];

	/* host max 0xff: the highest IDs past format 0/1 are probed */
	open_vm("set validate 42.0010 -> ENODEV\n");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, ENODEV, NULL, ids), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "adapters 41-42: beyond what this VM's CRYCB format holds (ENODEV); "
			 "domain 0010: beyond what this VM's CRYCB format holds (ENODEV)");
	apmatrix_matrix_format_ids(ids, APMATRIX_ADAPTERS, buf, sizeof(buf));
	ck_assert_str_eq(buf, "41-42");
	apmatrix_matrix_format_ids(ids, APMATRIX_DOMAINS, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0010");
	apmatrix_matrix_free(m);
	apmatrix_matrix_free(ids);
}
END_TEST

START_TEST(explain_enodev_mixed)
{
	struct apmatrix_matrix *m = mat2("05,40", "0004,0020");

	tree_bus_attr(&t, "ap_max_adapter_id", "63\n");
	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 0x30, true);
	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 0x01, true);
	open_vm("set validate d=0020/c=0030 -> ENODEV\n");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, ENODEV, NULL, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "adapter 40: beyond the host's AP configuration (max adapter 0x3f) (ENODEV); "
			 "domain 0020: beyond what this VM's CRYCB format holds (ENODEV); "
			 "control domain 0030: beyond what this VM's CRYCB format holds (ENODEV)");
	apmatrix_matrix_free(m);
}
END_TEST

/* no host view: only the CRYCB probe can tell; EADDRNOTAVAIL names no cause */
START_TEST(explain_no_host)
{
	struct apmatrix_matrix *m = mat2("05,40", "0004");

	snprintf(expect, sizeof(expect), "%s/gone", t.dir);
	ck_assert_int_eq(apmatrix_ctx_set_sysfs_root(ctx, expect), 0);
	open_vm("set validate a=40 -> ENODEV\n");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -ENODEV, NULL, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "adapter 40: beyond what this VM's CRYCB format holds (ENODEV)");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EADDRNOTAVAIL, NULL, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "05.0004,40.0004: not available to apmatrix (not set aside for guests, or not bound "
			 "to the apmatrix driver; the host's AP bus could not be read to tell which) (EADDRNOTAVAIL)");
	apmatrix_matrix_free(m);
}
END_TEST

/* format 2 holds them all and the host has them: the state changed */
START_TEST(explain_enodev_nothing)
{
	struct apmatrix_matrix *m = mat("41.0004");
	struct apmatrix_matrix *ids = apmatrix_matrix_new();

	open_vm("set validate a=41 -> 0\n");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -ENODEV, NULL, ids), -EAGAIN);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "the kernel refused the matrix (ENODEV), but the probes find nothing refused now: "
			 "the AP configuration changed meanwhile; try again");
	ck_assert(apmatrix_matrix_is_empty(ids));
	apmatrix_matrix_free(m);
	apmatrix_matrix_free(ids);
}
END_TEST

START_TEST(explain_addrnotavail)
{
	struct apmatrix_matrix *m = mat("05-08.0004-0005");
	struct apmatrix_apqns *refused = apmatrix_apqns_new();

	populate();
	tree_card(&t, 8, "CEX8C\n", 14, 1, 1);
	tree_queue(&t, 8, 5, 1, "vfio_ap");
	tree_queue(&t, 8, 4, 1, "other_drv");
	open_vm("");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EADDRNOTAVAIL, refused, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 /* 08.0004: the masks give it to the host, whatever it is bound to */
			 /* 07.0005 is no queue of this host: that, not a mask's story */
			 "07.0005: not on this host (no such queue under /sys/bus/ap) (EADDRNOTAVAIL); "
			 "05.0004,07.0004,08.0004: not set aside for guests (still owned by the host's default drivers) (EADDRNOTAVAIL); "
			 "06.0004,08.0005: bound to vfio_ap, not to apmatrix (EADDRNOTAVAIL); "
			 "06.0005: not bound to the apmatrix driver (EADDRNOTAVAIL)");
	ck_assert_str_eq(fmt_apqns(refused), "05.0004,06.0004,06.0005,07.0004,07.0005,08.0004,08.0005");
	apmatrix_matrix_free(m);
	apmatrix_apqns_free(refused);
}
END_TEST

/* thousands of refused APQNs: each list and the whole message are cut with "..." */
START_TEST(explain_long_message)
{
	struct apmatrix_matrix *m = mat("00-ff.0000-00ff");
	struct apmatrix_apqns *refused = apmatrix_apqns_new();
	char m68[68];
	const char *msg;

	tree_bus_attr(&t, "aqmask", mask_text("0-127", m68));
	tree_card(&t, 0, "CEX8C\n", 14, 1, 1);
	tree_queues(&t, "0", "0-255", NULL);
	open_vm("");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EADDRNOTAVAIL, refused, NULL), 0);
	ck_assert_uint_eq(apmatrix_apqns_count(refused), 65536);
	msg = apmatrix_ctx_last_error(ctx);
	ck_assert_uint_eq(strlen(msg), 1023);
	ck_assert(!strncmp(msg, "01.0000,01.0001,01.0002,", 24));
	ck_assert_ptr_nonnull(strstr(msg, "...: not on this host (no such queue under /sys/bus/ap) (EADDRNOTAVAIL); 00.0000,"));
	ck_assert_str_eq(msg + 1020, "...");
	apmatrix_matrix_free(m);
	apmatrix_apqns_free(refused);
}
END_TEST

START_TEST(explain_addrnotavail_nothing)
{
	struct apmatrix_matrix *m = mat("05.0005");

	populate();
	open_vm("");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EADDRNOTAVAIL, NULL, NULL), -EAGAIN);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "the kernel refused the matrix (EADDRNOTAVAIL), but the probes find nothing refused now: "
			 "the AP configuration changed meanwhile; try again");
	apmatrix_matrix_free(m);
}
END_TEST

/*
 * One row probe per adapter, then halves of a refused row: a half the
 * kernel takes leaves the refusal to the other half, not probed again.
 */
START_TEST(explain_inuse)
{
	struct apmatrix_matrix *m = mat("05-06.0004-0005");
	struct apmatrix_apqns *refused = apmatrix_apqns_new();

	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 1, true);	/* not probed */
	open_vm("set validate 05.0004-0005 -> 0\n"
		"set validate 06.0004-0005 -> EADDRINUSE\n"
		"set validate 06.0004 -> 0\n");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EADDRINUSE, refused, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), "06.0005: held by another VM (EADDRINUSE)");
	ck_assert_str_eq(fmt_apqns(refused), "06.0005");
	apmatrix_matrix_free(m);
	apmatrix_apqns_free(refused);
}
END_TEST

/* every refused APQN is named, each with its own rule */
START_TEST(explain_mixed)
{
	struct apmatrix_matrix *m = mat("05-07.0004-0005");
	struct apmatrix_apqns *refused = apmatrix_apqns_new();

	populate();
	open_vm("set validate 05.0004-0005 -> EBUSY\n"
		"set validate 06.0004-0005 -> EADDRINUSE\n"
		"set validate 07.0004-0005 -> EADDRNOTAVAIL\n"
		"set validate 05.0004 -> EBUSY\n"
		"set validate 05.0005 -> 0\n"
		"set validate 06.0004 -> EADDRINUSE\n"
		"set validate 06.0005 -> EADDRINUSE\n"
		"set validate 07.0004 -> EADDRNOTAVAIL\n"
		"set validate 07.0005 -> 0\n");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, EADDRINUSE, refused, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "07.0004: not set aside for guests (still owned by the host's default drivers) (EADDRNOTAVAIL); "
			 "06.0004,06.0005: held by another VM (EADDRINUSE); "
			 "05.0004: still being reset after leaving another VM, or its reset failed (EBUSY)");
	ck_assert_str_eq(fmt_apqns(refused), "05.0004,06.0004,06.0005,07.0004");
	apmatrix_matrix_free(m);
	apmatrix_apqns_free(refused);
}
END_TEST

/* the same refusal as a structured result, walked by the caller */
START_TEST(explain_all_findings)
{
	struct apmatrix_matrix *m = mat("05-07.0004-0005"), *big = mat("05.0055");
	struct apmatrix_explanation *x = NULL;
	const struct apmatrix_apqns *s;
	const struct apmatrix_matrix *ids;
	const char *reason;
	int err;

	populate();
	/* the kernel as a model: what a probe of any part gives */
	open_vm("model 06.0004-0005 -> EADDRINUSE\n"
		"model 05.0004 -> EBUSY\n");
	ck_assert_int_eq(apmatrix_vm_explain_all(vm, m, -EADDRINUSE, &x), 0);
	ck_assert_uint_eq(apmatrix_explanation_count(x), 2);
	ck_assert_int_eq(apmatrix_explanation_get(x, 0, &err, &reason, &s, &ids), 0);
	ck_assert_int_eq(err, EADDRINUSE);
	ck_assert_str_eq(reason, "held by another VM");
	ck_assert_str_eq(fmt_apqns(s), "06.0004,06.0005");
	ck_assert_ptr_null(ids);
	ck_assert_int_eq(apmatrix_explanation_get(x, 1, &err, &reason, &s, NULL), 0);
	ck_assert_int_eq(err, EBUSY);
	ck_assert_str_eq(fmt_apqns(s), "05.0004");
	ck_assert_int_eq(apmatrix_explanation_get(x, 2, &err, NULL, NULL, NULL), -ENOENT);
	/* and the message as apmatrix_vm_explain() sets it */
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "06.0004,06.0005: held by another VM (EADDRINUSE); "
			 "05.0004: still being reset after leaving another VM, or its reset failed (EBUSY)");
	apmatrix_explanation_free(x);
	/* IDs: ENODEV names a part */
	tree_bus_attr(&t, "ap_max_domain_id", "84\n");
	ck_assert_int_eq(apmatrix_vm_explain_all(vm, big, -ENODEV, &x), 0);
	ck_assert_uint_eq(apmatrix_explanation_count(x), 1);
	ck_assert_int_eq(apmatrix_explanation_get(x, 0, &err, &reason, &s, &ids), 0);
	ck_assert_int_eq(err, ENODEV);
	ck_assert_ptr_null(s);
	ck_assert(apmatrix_matrix_test(ids, APMATRIX_DOMAINS, 0x55));
	ck_assert_uint_eq(apmatrix_matrix_count(ids, APMATRIX_DOMAINS), 1);
	apmatrix_explanation_free(x);
	/* a rule that names nothing is one finding with its meaning */
	ck_assert_int_eq(apmatrix_vm_explain_all(vm, m, -EOPNOTSUPP, &x), 0);
	ck_assert_int_eq(apmatrix_explanation_get(x, 0, &err, &reason, &s, &ids), 0);
	ck_assert_int_eq(err, EOPNOTSUPP);
	ck_assert_str_eq(reason, apmatrix_rule_meaning(EOPNOTSUPP));
	apmatrix_explanation_free(x);
	apmatrix_matrix_free(m);
	apmatrix_matrix_free(big);
}
END_TEST

/* one domain: the row probe is the APQN probe */
START_TEST(explain_busy_one_domain)
{
	struct apmatrix_matrix *m = mat("05-06.0004");

	open_vm("set validate 05.0004 -> EBUSY\n"
		"set validate 06.0004 -> 0\n");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EBUSY, NULL, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "05.0004: still being reset after leaving another VM, or its reset failed (EBUSY)");
	apmatrix_matrix_free(m);
}
END_TEST

START_TEST(explain_probes_nothing)
{
	struct apmatrix_matrix *m = mat("05-06.0004");

	open_vm("set validate 05.0004 -> 0\n"
		"set validate 06.0004 -> 0\n");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EADDRINUSE, NULL, NULL), -EAGAIN);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "the kernel refused the matrix (EADDRINUSE), but the probes find nothing refused now: "
			 "the AP configuration changed meanwhile; try again");
	apmatrix_matrix_free(m);
}
END_TEST

START_TEST(explain_probe_fails)
{
	struct apmatrix_matrix *m = mat("05-06.0004-0005");

	open_vm("set validate 05.0004-0005 -> EOPNOTSUPP\n");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EADDRINUSE, NULL, NULL), -EOPNOTSUPP);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "probing adapter 05 with VALIDATE_ONLY: Operation not supported (EOPNOTSUPP)");
	apmatrix_vm_free(vm);
	vm = NULL;
	open_vm("set validate 05.0004-0005 -> EBUSY\n"
		"set validate 06.0004-0005 -> 0\n"
		"set validate 05.0004 -> ENXIO\n");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EBUSY, NULL, NULL), -ENXIO);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "probing 05.0004 with VALIDATE_ONLY: No such device or address (ENXIO)");
	apmatrix_matrix_free(m);
}
END_TEST

/* lines in the ioctl-mock's log: the calls made */
static unsigned int calls_logged(const char *path)
{
	unsigned int n = 0;
	FILE *f = fopen(path, "r");
	int c;

	ck_assert_ptr_nonnull(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void log_calls(char *p, size_t len)
{
	snprintf(p, len, "%s/calls", t.dir);
	unlink(p);
	setenv("APMATRIX_IOCTL_LOG", p, 1);
}

/*
 * A few refused APQNs of a 256 x 256 matrix: one probe per adapter row,
 * then about 2 log2(256) per refused APQN - not one per APQN of each
 * refused row (2 x 256 more).
 */
START_TEST(explain_probe_bound_sparse)
{
	struct apmatrix_matrix *m = mat2("00-ff", "0000-00ff");
	struct apmatrix_apqns *refused = apmatrix_apqns_new();
	char p[PATH_MAX];
	unsigned int n;

	open_vm("model 05.0004 -> EADDRINUSE\n"
		"model 80.0010 -> EADDRINUSE\n"
		"model 80.00ff -> EBUSY\n");
	log_calls(p, sizeof(p));
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EADDRINUSE, refused, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "05.0004,80.0010: held by another VM (EADDRINUSE); "
			 "80.00ff: still being reset after leaving another VM, or its reset failed (EBUSY)");
	ck_assert_str_eq(fmt_apqns(refused), "05.0004,80.0010,80.00ff");
	n = calls_logged(p);
	ck_assert_uint_le(n, 256 + 3 * 2 * 8);
	ck_assert_uint_ge(n, 256 + 3);
	apmatrix_matrix_free(m);
	apmatrix_apqns_free(refused);
}
END_TEST

/*
 * Every APQN of 256 x 256 refused: 256 row probes and 1024 bisecting
 * ones, not 65536; what they did not tell apart is named as such, its
 * count said ("and N more"), and it goes to refused too.
 */
START_TEST(explain_probe_bound_full)
{
	struct apmatrix_matrix *m = mat2("00-ff", "0000-00ff");
	struct apmatrix_explanation *x = NULL;
	const struct apmatrix_apqns *s0, *s1;
	unsigned int named, more;
	const char *msg, *reason, *tail;
	char p[PATH_MAX], head[64];
	int err;

	open_vm("model 00-ff.0000-00ff -> EADDRINUSE\n");
	log_calls(p, sizeof(p));
	ck_assert_int_eq(apmatrix_vm_explain_all(vm, m, -EADDRINUSE, &x), 0);
	ck_assert_uint_eq(calls_logged(p), 256 + 1024);
	ck_assert_uint_eq(apmatrix_explanation_count(x), 2);
	ck_assert_int_eq(apmatrix_explanation_get(x, 0, &err, &reason, &s0, NULL), 0);
	ck_assert_int_eq(err, EADDRINUSE);
	ck_assert_str_eq(reason, "held by another VM");
	ck_assert_int_eq(apmatrix_explanation_get(x, 1, &err, &reason, &s1, NULL), 0);
	ck_assert_int_eq(err, EADDRINUSE);
	ck_assert_str_eq(reason, "not probed one by one (explain stops after 1024 probes of refused rows): "
			 "some of them are refused");
	named = apmatrix_apqns_count(s0);
	more = apmatrix_apqns_count(s1);
	/* two whole rows take 2 x 510 probes; the rest is not told apart */
	ck_assert_uint_eq(named, 512);
	ck_assert(apmatrix_apqns_contains(s0, 0x01, 0xff));
	ck_assert(apmatrix_apqns_contains(s1, 0x02, 0x00));
	ck_assert_uint_eq(named + more, 65536);
	msg = apmatrix_ctx_last_error(ctx);
	ck_assert(!strncmp(msg, "00.0000,00.0001,", 16));
	snprintf(head, sizeof(head), "; and %u more APQNs not probed one by one", more);
	tail = strstr(msg, head);
	ck_assert_ptr_nonnull(tail);
	ck_assert(!strncmp(tail + strlen(head),
			   " (explain stops after 1024 probes of refused rows): some of them are refused (EADDRINUSE): ",
			   90));
	apmatrix_explanation_free(x);

	/* refused gets them all: the request without it is one the kernel takes */
	{
		struct apmatrix_apqns *refused = apmatrix_apqns_new();

		unlink(p);
		ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EADDRINUSE, refused, NULL), 0);
		ck_assert_uint_eq(apmatrix_apqns_count(refused), 65536);
		ck_assert_uint_eq(calls_logged(p), 256 + 1024);
		apmatrix_apqns_free(refused);
	}
	apmatrix_matrix_free(m);
}
END_TEST

/* the library's vocabulary: every rule of the contract has a name and meaning */
START_TEST(rule_vocabulary)
{
	static const int rules[] = { EINVAL, EBADF, EOPNOTSUPP, EEXIST, ENODEV, EPERM,
				     EADDRNOTAVAIL, EADDRINUSE, EBUSY, EINTR, EIO };
	unsigned int i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		ck_assert_ptr_nonnull(apmatrix_rule_name(rules[i]));
		ck_assert_ptr_nonnull(apmatrix_rule_meaning(-rules[i]));
	}
	ck_assert_str_eq(apmatrix_rule_name(-EADDRINUSE), "EADDRINUSE");
	ck_assert_str_eq(apmatrix_rule_meaning(EADDRINUSE), "an APQN is held by another VM");
	ck_assert_ptr_null(apmatrix_rule_meaning(ENOMEM));
	ck_assert_ptr_null(apmatrix_rule_name(4000));
}
END_TEST

/* last_error is about the last call: set on failure, cleared by the next call */
START_TEST(last_error_per_call)
{
	struct apmatrix_matrix *m = apmatrix_matrix_new();

	open_vm("has -> 0\n");
	ck_assert_int_eq(apmatrix_matrix_parse_apqns(ctx, m, "zz", NULL), -EINVAL);
	ck_assert_str_ne(apmatrix_ctx_last_error(ctx), "");
	ck_assert_int_eq(apmatrix_matrix_parse_apqns(ctx, m, "05.0004", NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), "");
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS, "zz"), -EINVAL);
	ck_assert_int_eq(apmatrix_vm_probe(vm), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), "");
	ck_assert_int_eq(apmatrix_ctx_set_lock_file(ctx, ""), -EINVAL);
	ck_assert_int_eq(apmatrix_ctx_set_lock_file(ctx, "/tmp/x"), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), "");
	apmatrix_matrix_free(m);
}
END_TEST

/* the caller's iterator walks in order, and the set is never written */
START_TEST(apqns_iterator)
{
	struct apmatrix_apqns *s = apmatrix_apqns_new();
	struct apmatrix_apqns_iter it, it2;
	unsigned int a, d, n = 0, b, e;

	ck_assert_int_eq(apmatrix_apqns_parse(NULL, s, "ff.00ff,00.0000,05.0004-0005"), 0);
	apmatrix_apqns_iter_init(&it);
	apmatrix_apqns_iter_init(&it2);
	ck_assert(apmatrix_apqns_next(s, &it2, &b, &e));	/* a second walk at once */
	while (apmatrix_apqns_next(s, &it, &a, &d)) {
		static const unsigned int want[][2] = { { 0, 0 }, { 5, 4 }, { 5, 5 }, { 0xff, 0xff } };

		ck_assert_uint_lt(n, 4);
		ck_assert_uint_eq(a, want[n][0]);
		ck_assert_uint_eq(d, want[n][1]);
		ck_assert_int_eq(apmatrix_apqns_get(s, n, &b, &e), 0);
		ck_assert(a == b && d == e);
		n++;
	}
	ck_assert_uint_eq(n, 4);
	ck_assert(!apmatrix_apqns_next(s, &it, &a, &d));	/* stays at the end */
	ck_assert(apmatrix_apqns_next(s, &it2, &b, &e));
	ck_assert(b == 5 && e == 4);
	apmatrix_apqns_clear(s);
	apmatrix_apqns_iter_init(&it);
	ck_assert(!apmatrix_apqns_next(s, &it, &a, &d));
	apmatrix_apqns_free(s);
}
END_TEST

START_TEST(explain_rules)
{
	struct apmatrix_matrix *m = mat("05.0004");

	open_vm("");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EINVAL, NULL, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "the request had unknown flag bits, non-zero reserved fields, or a grant_fd that is no grant (EINVAL)");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EOPNOTSUPP, NULL, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "the host has no AP instructions or no apmatrix AP driver is registered (EOPNOTSUPP)");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, ENXIO, NULL, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "the kernel does not offer KVM_S390_VM_CRYPTO_SET_AP_MATRIX on this VM (ENXIO)");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EEXIST, NULL, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "the VM's AP configuration belongs to vfio_ap (a mediated device is attached to it) (EEXIST)");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -ENOMEM, NULL, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "KVM_SET_DEVICE_ATTR failed: Cannot allocate memory (ENOMEM)");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, 200, NULL, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "KVM_SET_DEVICE_ATTR failed: Unknown error 200 (errno 200)");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, 0, NULL, NULL), -EINVAL);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "nothing was refused: there is nothing to explain");
	ck_assert_int_eq(apmatrix_vm_explain(NULL, m, -EBUSY, NULL, NULL), -EINVAL);
	ck_assert_int_eq(apmatrix_vm_explain(vm, NULL, -EBUSY, NULL, NULL), -EINVAL);
	apmatrix_matrix_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* grants (the mock's fake /dev/apmatrix: a file named apmatrix-fake-dev) */

static void grant_dev(void)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/apmatrix-fake-dev", t.dir);
	write_file(p, "");
	ck_assert_int_eq(apmatrix_ctx_set_grant_device(ctx, p), 0);
}

static const char *fmt_matrix(const struct apmatrix_matrix *m)
{
	static char buf[3][256];
	char *b = buf[0];

	apmatrix_matrix_format_apqns(m, buf[1], sizeof(buf[1]));
	apmatrix_matrix_format_ids(m, APMATRIX_CONTROL_DOMAINS, buf[2], sizeof(buf[2]));
	snprintf(b, sizeof(buf[0]), "%s/c=%s", buf[1], buf[2]);
	return b;
}

START_TEST(grant_create)
{
	struct apmatrix_matrix *m = mat("05-06.0004"), *got = apmatrix_matrix_new();
	struct apmatrix_grant_fd *g2 = NULL;
	char path[64];

	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 0x0b, true);
	grant_dev();
	script("grant 05-06.0004/c=000b -> 0\n");
	ck_assert_msg(apmatrix_grant_create(ctx, m, &grant) == 0, "%s", apmatrix_ctx_last_error(ctx));
	ck_assert_int_ge(apmatrix_grant_get_fd(grant), 0);
	ck_assert_int_eq(fcntl(apmatrix_grant_get_fd(grant), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(apmatrix_grant_get_matrix(grant, got), 0);
	ck_assert_str_eq(fmt_matrix(got), "05-06.0004/c=000b");
	/* the matrix comes from fdinfo: open the same fd again */
	ck_assert_int_eq(apmatrix_grant_open_fd(ctx, apmatrix_grant_get_fd(grant), &g2), 0);
	apmatrix_matrix_clear(got);
	ck_assert_int_eq(apmatrix_grant_get_matrix(g2, got), 0);
	ck_assert_str_eq(fmt_matrix(got), "05-06.0004/c=000b");
	ck_assert_int_ne(apmatrix_grant_get_fd(g2), apmatrix_grant_get_fd(grant));
	apmatrix_grant_free(g2);
	apmatrix_grant_free(grant);
	grant = NULL;

	/* refusals: the kernel's errno, named */
	script("grant 40.0004 -> ENODEV\n");
	apmatrix_matrix_free(m);
	m = mat("40.0004");
	ck_assert_int_eq(apmatrix_grant_create(ctx, m, &grant), -ENODEV);
	ck_assert_ptr_null(grant);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "APMATRIX_CREATE_GRANT: an ID is beyond the host's AP configuration, or a control domain is not one of the host's (ENODEV)");
	apmatrix_matrix_clear(m);
	ck_assert_int_eq(apmatrix_grant_create(ctx, m, &grant), -EINVAL);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "a grant for nothing: the matrix has no adapter, domain or control domain");
	/* no device */
	snprintf(path, sizeof(path), "%s/none", "/nonexistent");
	ck_assert_int_eq(apmatrix_ctx_set_grant_device(ctx, path), 0);
	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 1, true);
	ck_assert_int_eq(apmatrix_grant_create(ctx, m, &grant), -ENOENT);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "/nonexistent/none: No such file or directory (ENOENT) (is the apmatrix AP driver loaded?)");
	apmatrix_matrix_free(m);
	apmatrix_matrix_free(got);
}
END_TEST

START_TEST(grant_open_not_grant)
{
	int fd = fake_vm_fd();

	ck_assert_int_eq(apmatrix_grant_open_fd(ctx, fd, &grant), -EINVAL);
	snprintf(expect, sizeof(expect),
		 "fd %d is not an apmatrix grant (its fdinfo has no apm:/aqm:/adm: lines)", fd);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), expect);
	ck_assert_ptr_null(grant);
	ck_assert_int_eq(apmatrix_grant_open_fd(ctx, 1000, &grant), -EBADF);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), "grant fd 1000: Bad file descriptor (EBADF)");
	close(fd);
}
END_TEST

/* a VM given a grant passes it with every SET and probe; NULL stops that */
START_TEST(grant_set)
{
	struct apmatrix_matrix *m = mat("05.0004");

	grant_dev();
	open_vm("grant 05-06.0004 -> 0\n"
		"set grant 05.0004 -> 0\n"
		"set grant,reset 05.0004 -> 0\n"
		"set 0 05.0004 -> 0\n");
	{
		struct apmatrix_matrix *gm = mat("05-06.0004");

		ck_assert_int_eq(apmatrix_grant_create(ctx, gm, &grant), 0);
		apmatrix_matrix_free(gm);
	}
	ck_assert_int_eq(apmatrix_vm_set_grant(vm, grant), 0);
	apmatrix_grant_free(grant);	/* the VM keeps its own copy */
	grant = NULL;
	ck_assert_int_eq(apmatrix_vm_set(vm, m, 0), 0);
	ck_assert_int_eq(apmatrix_vm_set(vm, m, APMATRIX_SET_RESET), 0);
	ck_assert_int_eq(apmatrix_vm_set_grant(vm, NULL), 0);
	ck_assert_int_eq(apmatrix_vm_set(vm, m, 0), 0);
	apmatrix_matrix_free(m);
}
END_TEST

/*
 * EPERM: the request minus what the VM holds minus the grant. The VM
 * holds 05.0004 and control domain 0001; the grant covers 05-06.0005
 * and control domain 000b.
 */
START_TEST(explain_eperm)
{
	struct apmatrix_matrix *m = mat("05-07.0004-0005");
	struct apmatrix_apqns *refused = apmatrix_apqns_new();
	struct apmatrix_matrix *ids = apmatrix_matrix_new();

	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 1, true);
	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 0x0b, true);
	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 0x0c, true);
	grant_dev();
	open_vm("grant 05-06.0005/c=000b -> 0\n"
		"get -> 0 05.0004/c=0001\n"
		"get -> 0 05.0004/c=0001\n");
	{
		struct apmatrix_matrix *gm = mat("05-06.0005");

		apmatrix_matrix_set(gm, APMATRIX_CONTROL_DOMAINS, 0x0b, true);
		ck_assert_int_eq(apmatrix_grant_create(ctx, gm, &grant), 0);
		apmatrix_matrix_free(gm);
	}
	/* without the grant: everything the VM does not hold */
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EPERM, refused, ids), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "control domains 000b-000c: not held by this VM: adding it needs a grant or CAP_SYS_ADMIN (EPERM); "
			 "05.0005,06.0004,06.0005,07.0004,07.0005: not held by this VM: adding them needs a grant or CAP_SYS_ADMIN (EPERM)");
	ck_assert_str_eq(fmt_apqns(refused), "05.0005,06.0004,06.0005,07.0004,07.0005");
	/* with it: only what the grant does not cover */
	ck_assert_int_eq(apmatrix_vm_set_grant(vm, grant), 0);
	apmatrix_apqns_clear(refused);
	apmatrix_matrix_clear(ids);
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EPERM, refused, ids), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "control domain 000c: not held by this VM and not covered by its grant (EPERM); "
			 "06.0004,07.0004,07.0005: not held by this VM and not covered by its grant (EPERM)");
	ck_assert_str_eq(fmt_apqns(refused), "06.0004,07.0004,07.0005");
	ck_assert_uint_eq(apmatrix_matrix_count(ids, APMATRIX_CONTROL_DOMAINS), 1);
	ck_assert(apmatrix_matrix_test(ids, APMATRIX_CONTROL_DOMAINS, 0x0c));
	apmatrix_apqns_free(refused);
	apmatrix_matrix_free(ids);
	apmatrix_matrix_free(m);
}
END_TEST

/*
 * EIO after RESET: the VM keeps the new matrix minus the adapter of the
 * queue whose reset failed; GET tells which, sysfs which one failed.
 */
START_TEST(explain_eio)
{
	struct apmatrix_matrix *m = mat("05-06.0004-0005");
	struct apmatrix_apqns *refused = apmatrix_apqns_new();
	char p[PATH_MAX];

	tree_card(&t, 5, "CEX8C\n", 14, 1, 1);
	tree_card(&t, 6, "CEX8C\n", 14, 1, 1);
	tree_queues(&t, "5-6", "4-5", "apmatrix");
	snprintf(p, sizeof(p), "%s/devices/ap/card05/05.0005/apmatrix_state", t.sys);
	write_file(p, "reset failed\n");
	open_vm("get -> 0 06.0004-0005\n");
	ck_assert_int_eq(apmatrix_vm_explain(vm, m, -EIO, refused, NULL), 0);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "the reset of a queue did not complete (EIO): the VM now holds 06.0004-0005; "
			 "05.0005: reset failed, dropped with its adapter (EIO); "
			 "05.0004: dropped with the adapter of a failed reset (EIO)");
	ck_assert_str_eq(fmt_apqns(refused), "05.0004,05.0005");
	apmatrix_apqns_free(refused);
	apmatrix_matrix_free(m);
}
END_TEST

/* queue states from sysfs */
START_TEST(host_queue_states)
{
	static const struct {
		const char *text;
		enum apmatrix_queue_state st;
		pid_t pid;
	} c[] = {
		{ "free\n", APMATRIX_QSTATE_FREE, 0 },
		{ "in use 4242\n", APMATRIX_QSTATE_IN_USE, 4242 },
		{ "resetting\n", APMATRIX_QSTATE_RESETTING, 0 },
		{ "reset failed\n", APMATRIX_QSTATE_RESET_FAILED, 0 },
		{ "in use x\n", APMATRIX_QSTATE_OTHER, 0 },
		{ "quiescing\n", APMATRIX_QSTATE_OTHER, 0 },
	};
	struct apmatrix_host *h;
	unsigned int i;
	char p[PATH_MAX];
	pid_t pid;

	tree_card(&t, 5, "CEX8C\n", 14, 1, 1);
	tree_queues(&t, "5", "0-6", "apmatrix");
	tree_queue(&t, 5, 7, 1, "cex4queue");
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		snprintf(p, sizeof(p), "%s/devices/ap/card05/05.%04x/apmatrix_state", t.sys, i);
		write_file(p, c[i].text);
	}
	ck_assert_int_eq(apmatrix_host_read(ctx, &h), 0);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const struct apmatrix_queue *q = apmatrix_host_queue(h, 5, i);

		ck_assert_int_eq(apmatrix_queue_state(q, &pid), c[i].st);
		ck_assert_int_eq(pid, c[i].pid);
	}
	ck_assert_str_eq(apmatrix_queue_state_text(apmatrix_host_queue(h, 5, 5)), "quiescing");
	ck_assert_int_eq(apmatrix_queue_state(apmatrix_host_queue(h, 5, 6), NULL), APMATRIX_QSTATE_NONE);
	ck_assert_int_eq(apmatrix_queue_state(apmatrix_host_queue(h, 5, 7), NULL), APMATRIX_QSTATE_NONE);
	ck_assert_ptr_null(apmatrix_queue_state_text(apmatrix_host_queue(h, 5, 7)));
	apmatrix_host_free(h);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("vm");
	TCase *tc = tcase_create("ioctl");
	TCase *tp = tcase_create("open_pid");
	TCase *te = tcase_create("explain");
	TCase *tg = tcase_create("grant");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, vm_open_fd);
	tcase_add_test(tc, vm_ioctls);
	tcase_add_test(tc, vm_log);
	tcase_add_exit_test(tc, mock_mismatch, 99);
	tcase_add_exit_test(tc, mock_leftover, 99);
	tcase_add_exit_test(tc, mock_extra_call, 99);
	tcase_add_test(tc, mock_passthrough);
	tcase_add_test(tc, open_fd_not_vm);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_add_test(tp, open_pid_self);
	tcase_add_test(tp, open_pid_child);
	tcase_add_test(tp, open_pid_same_vm_twice);
	tcase_add_test(tp, open_pid_fd_replaced);
	tcase_add_test(tp, open_pid_reused);
	tcase_add_test(tp, open_pid_errors);
	suite_add_tcase(s, tp);

	tcase_add_checked_fixture(tg, setup, teardown);
	tcase_add_test(tg, rule_vocabulary);
	tcase_add_test(tg, last_error_per_call);
	tcase_add_test(tg, apqns_iterator);
	tcase_add_test(tg, grant_create);
	tcase_add_test(tg, grant_open_not_grant);
	tcase_add_test(tg, grant_set);
	tcase_add_test(tg, explain_eperm);
	tcase_add_test(tg, explain_eio);
	tcase_add_test(tg, host_queue_states);
	suite_add_tcase(s, tg);

	tcase_add_checked_fixture(te, setup, teardown);
	tcase_add_test(te, explain_enodev_host);
	tcase_add_test(te, explain_enodev_crycb);
	tcase_add_test(te, explain_enodev_mixed);
	tcase_add_test(te, explain_enodev_nothing);
	tcase_add_test(te, explain_no_host);
	tcase_add_test(te, explain_addrnotavail);
	tcase_add_test(te, explain_addrnotavail_nothing);
	tcase_add_test(te, explain_long_message);
	tcase_add_test(te, explain_inuse);
	tcase_add_test(te, explain_mixed);
	tcase_add_test(te, explain_all_findings);
	tcase_add_test(te, explain_busy_one_domain);
	tcase_add_test(te, explain_probes_nothing);
	tcase_add_test(te, explain_probe_fails);
	/* 2 x 1280 probes through the mock take long under valgrind */
	tcase_set_timeout(te, 120);
	tcase_add_test(te, explain_probe_bound_sparse);
	tcase_add_test(te, explain_probe_bound_full);
	tcase_add_test(te, explain_rules);
	suite_add_tcase(s, te);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	/* the mock's exit-status check needs each test in its own process */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
