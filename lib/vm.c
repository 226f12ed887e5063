// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix: a KVM VM, its AP matrix attribute, and naming what the
 * kernel refused (the contract's "Naming what was refused").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "internal.h"
#include "kvm-abi.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#define KVM_VM_LINK "anon_inode:kvm-vm"

/* the CRYCB formats 0 and 1 hold APIDs 0..63 and APQIs/control domains 0..15 */
#define CRYCB01_MAX_APID 63
#define CRYCB01_MAX_APQI 15

struct apmatrix_vm {
	struct apmatrix_ctx *ctx;
	int fd;
	int grant_fd;			/* -1: none */
	struct apmatrix_matrix grant;	/* what it covers */
};

static const char *errname(int err)
{
	const char *n = apm_errno_name(err);

	return n ? n : "?";
}

static int vm_new(struct apmatrix_ctx *ctx, int fd, struct apmatrix_vm **vm)
{
	struct apmatrix_vm *v = calloc(1, sizeof(*v));

	if (!v) {
		close(fd);
		return apm_fail(ctx, ENOMEM, "out of memory");
	}
	v->ctx = ctx;
	v->fd = fd;
	v->grant_fd = -1;
	*vm = v;
	return 0;
}

/* What /proc/PID/fd/FD links to: length, or -errno. */
static int fd_link(int dirfd, const char *name, char *buf, size_t len)
{
	ssize_t n = readlinkat(dirfd, name, buf, len - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

int apmatrix_vm_open_fd(struct apmatrix_ctx *ctx, int fd,
			struct apmatrix_vm **vm)
{
	char e[160], path[64], link[PATH_MAX];
	int nfd;

	apm_clear_error(ctx);
	if (!ctx || !vm)
		return apm_fail(ctx, EINVAL, "bad arguments to apmatrix_vm_open_fd()");
	*vm = NULL;
	if (fd < 0)
		return apm_fail(ctx, EBADF, "fd %d is not a file descriptor", fd);
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return apm_fail(ctx, errno, "duplicating fd %d: %s", fd,
				apm_strerror(errno, e, sizeof(e)));
	/* say now, not at the first ioctl, when it is no VM (no /proc: trust it) */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", nfd);
	if (fd_link(AT_FDCWD, path, link, sizeof(link)) >= 0 &&
	    strcmp(link, KVM_VM_LINK)) {
		close(nfd);
		return apm_fail(ctx, ENOTTY, "fd %d is not a KVM VM: it is %s", fd, link);
	}
	return vm_new(ctx, nfd, vm);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/*
 * Keep one fd of each open VM: a VMM that handed its fd to
 * apmatrix_vm_open_fd() holds two of the same file. kcmp() tells (it
 * needs the same ptrace access as pidfd_getfd(); without it, or without
 * CONFIG_KCMP, the fds stay as they are). Different VMs cannot be told
 * apart by inode: every anon_inode file shares one.
 */
static void dedup(pid_t pid, int *v, unsigned int *n)
{
	unsigned int i, j, kept = 0;

	for (i = 0; i < *n; i++) {
		for (j = 0; j < kept; j++)
			if (syscall(SYS_kcmp, pid, pid, KCMP_FILE, v[j], v[i]) == 0)
				break;
		if (j == kept)
			v[kept++] = v[i];
	}
	*n = kept;
}

/* the VM fds of pid, ascending; *n of them in *fds (malloc'ed) */
static int vm_fds(struct apmatrix_ctx *ctx, pid_t pid, int **fds,
		  unsigned int *n)
{
	char path[64], link[PATH_MAX], e[160];
	unsigned int cap = 0;
	struct dirent *de;
	int dirfd, *v = NULL;
	DIR *dp;

	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		int err = errno;

		if (err == ENOENT)
			return apm_fail(ctx, ESRCH, "no process %d", (int)pid);
		if (err == EACCES || err == EPERM)
			return apm_fail(ctx, err,
					"not allowed to look at the fds of process %d (ptrace access is needed): %s",
					(int)pid, apm_strerror(err, e, sizeof(e)));
		return apm_fail(ctx, err, "opening %s: %s", path,
				apm_strerror(err, e, sizeof(e)));
	}
	dp = fdopendir(dirfd);
	if (!dp) {
		close(dirfd);
		return apm_fail(ctx, ENOMEM, "out of memory");
	}
	while ((de = readdir(dp))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end || fd > INT_MAX)
			continue;
		if (fd_link(dirfd, de->d_name, link, sizeof(link)) < 0 ||
		    strcmp(link, KVM_VM_LINK))
			continue;
		if (*n == cap) {
			int *nv = realloc(v, (cap ? cap * 2 : 8) * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(dp);
				return apm_fail(ctx, ENOMEM, "out of memory");
			}
			v = nv;
			cap = cap ? cap * 2 : 8;
		}
		v[(*n)++] = fd;
	}
	closedir(dp);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_int);
	dedup(pid, v, n);
	*fds = v;
	return 0;
}

/* fd of pid is a VM: 0; -ENOENT with a message otherwise */
static int check_fd(struct apmatrix_ctx *ctx, pid_t pid, int fd)
{
	char path[64], link[PATH_MAX], e[160];
	int n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	n = fd_link(AT_FDCWD, path, link, sizeof(link));
	if (n == -ENOENT) {
		/* the process, or only its fd? */
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (access(path, F_OK))
			return apm_fail(ctx, ESRCH, "no process %d", (int)pid);
		return apm_fail(ctx, ENOENT, "process %d has no fd %d", (int)pid, fd);
	}
	if (n == -EACCES || n == -EPERM)
		return apm_fail(ctx, -n,
				"not allowed to look at fd %d of process %d (ptrace access is needed): %s",
				fd, (int)pid, apm_strerror(-n, e, sizeof(e)));
	if (n < 0)
		return apm_fail(ctx, -n, "reading %s: %s", path,
				apm_strerror(-n, e, sizeof(e)));
	if (strcmp(link, KVM_VM_LINK))
		return apm_fail(ctx, ENOENT, "fd %d of process %d is not a KVM VM: it is %s",
				fd, (int)pid, link);
	return 0;
}

/* the one VM fd of pid (fd < 0: find it): *fd; an error with a message otherwise */
static int find_vm_fd(struct apmatrix_ctx *ctx, pid_t pid, int *fd)
{
	struct apm_sbuf sb;
	unsigned int n, i;
	int *fds = NULL, rc;
	char list[256];

	if (*fd >= 0)
		return check_fd(ctx, pid, *fd);
	rc = vm_fds(ctx, pid, &fds, &n);
	if (rc)
		return rc;
	if (n == 1)
		*fd = fds[0];
	if (n > 1) {
		apm_sb_init(&sb, list, sizeof(list));
		for (i = 0; i < n; i++)
			apm_sb_printf(&sb, "%s%d", i ? ", " : "", fds[i]);
		if (sb.pos >= sizeof(list))
			memcpy(list + sizeof(list) - 4, "...", 4);
		rc = apm_fail(ctx, EEXIST, "process %d has %u KVM VM fds (%s): say which one",
			      (int)pid, n, list);
	}
	free(fds);
	if (!rc && !n)
		rc = apm_fail(ctx, ENOENT, "process %d has no KVM VM fd", (int)pid);
	return rc;
}

/*
 * -ESRCH when the process behind pidfd is gone (reaped: its PID may name
 * another process now), else 0. A zombie counts as there: its PID is not
 * free before it is reaped. EPERM (no right to signal it) says it is
 * there too. Without pidfd_send_signal() (ENOSYS: valgrind) 0: then
 * pidfd_getfd()'s success, which needs the same process, is the proof.
 */
static int pidfd_gone(int pidfd)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0)
		return 0;
	return errno == ESRCH ? -ESRCH : 0;
}

/*
 * Take fd (fd < 0: the only VM fd) of process pid. A PID names a process
 * only until it is reaped; then it may name any other, another tenant's
 * VMM too. So the pidfd comes first and pins the process; /proc/PID/fd
 * is read after it; and the process must still be there after that read
 * (pidfd_send_signal(pidfd, 0)), which proves the PID was not reused in
 * between, so the fd found there is this process's. pidfd_getfd() then
 * takes the fd from the pinned process itself, and the file taken is
 * checked to be a KVM VM (the process may have put another file at that
 * number meanwhile).
 */
int apmatrix_vm_open_pid(struct apmatrix_ctx *ctx, pid_t pid, int fd,
			 struct apmatrix_vm **vm)
{
	char e[160], path[64], link[PATH_MAX];
	int pidfd, nfd, rc, err;

	apm_clear_error(ctx);
	if (!ctx || !vm)
		return apm_fail(ctx, EINVAL, "bad arguments to apmatrix_vm_open_pid()");
	*vm = NULL;
	if (pid <= 0)
		return apm_fail(ctx, ESRCH, "no process %d", (int)pid);

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		err = errno;
		if (err == ESRCH)
			return apm_fail(ctx, ESRCH, "no process %d", (int)pid);
		if (err == ENOSYS)
			return apm_fail(ctx, ENOSYS,
					"this kernel has no pidfd_open() (Linux 5.6 or later is needed to take a VM fd from a process)");
		return apm_fail(ctx, err, "pidfd_open(%d): %s", (int)pid,
				apm_strerror(err, e, sizeof(e)));
	}
	rc = find_vm_fd(ctx, pid, &fd);
	/* what was read may be another process's: say that, whatever was found */
	if (pidfd_gone(pidfd)) {
		close(pidfd);
		return apm_fail(ctx, ESRCH,
				"process %d exited while its fds were being read (its PID may name another process now): nothing was taken",
				(int)pid);
	}
	if (rc) {
		close(pidfd);
		return rc;
	}
	nfd = syscall(SYS_pidfd_getfd, pidfd, fd, 0);	/* O_CLOEXEC is set */
	err = errno;
	close(pidfd);
	if (nfd < 0) {
		if (err == EPERM || err == EACCES)
			return apm_fail(ctx, err,
					"not allowed to take fd %d of process %d (ptrace access is needed): %s",
					fd, (int)pid, apm_strerror(err, e, sizeof(e)));
		if (err == ESRCH)
			return apm_fail(ctx, ESRCH,
					"process %d exited before its fd %d was taken: nothing was taken",
					(int)pid, fd);
		if (err == EBADF)
			return apm_fail(ctx, ENOENT, "process %d has no fd %d (any more)",
					(int)pid, fd);
		if (err == ENOSYS)
			return apm_fail(ctx, ENOSYS,
					"this kernel has no pidfd_getfd() (Linux 5.6 or later is needed to take a VM fd from a process)");
		return apm_fail(ctx, err, "pidfd_getfd(%d, fd %d): %s", (int)pid, fd,
				apm_strerror(err, e, sizeof(e)));
	}
	/*
	 * /proc/PID/fd/N was read before pidfd_getfd(): by now the process
	 * may have closed N and opened something else there. Check the file
	 * this process now holds, not the name it had; a link that cannot be
	 * read is no proof of a VM.
	 */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", nfd);
	rc = fd_link(AT_FDCWD, path, link, sizeof(link));
	if (rc < 0) {
		close(nfd);
		return apm_fail(ctx, -rc, "cannot tell whether fd %d taken from process %d is a KVM VM: reading %s: %s",
				fd, (int)pid, path, apm_strerror(-rc, e, sizeof(e)));
	}
	if (strcmp(link, KVM_VM_LINK)) {
		close(nfd);
		return apm_fail(ctx, ENOENT,
				"process %d's fd %d is no KVM VM any more: it is %s now",
				(int)pid, fd, link);
	}
	return vm_new(ctx, nfd, vm);
}

void apmatrix_vm_free(struct apmatrix_vm *vm)
{
	if (!vm)
		return;
	close(vm->fd);
	if (vm->grant_fd >= 0)
		close(vm->grant_fd);
	free(vm);
}

int apmatrix_vm_set_grant(struct apmatrix_vm *vm,
			  const struct apmatrix_grant_fd *grant)
{
	char e[160];
	int nfd = -1;

	if (!vm)
		return -EINVAL;
	apm_clear_error(vm->ctx);
	if (grant) {
		nfd = fcntl(apmatrix_grant_get_fd(grant), F_DUPFD_CLOEXEC, 3);
		if (nfd < 0)
			return apm_fail(vm->ctx, errno, "duplicating the grant's fd: %s",
					apm_strerror(errno, e, sizeof(e)));
		apmatrix_grant_get_matrix(grant, &vm->grant);
	} else {
		memset(&vm->grant, 0, sizeof(vm->grant));
	}
	if (vm->grant_fd >= 0)
		close(vm->grant_fd);
	vm->grant_fd = nfd;
	return 0;
}

int apmatrix_vm_fd(const struct apmatrix_vm *vm)
{
	return vm ? vm->fd : -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* the ioctls */

static int attr_ioctl(struct apmatrix_vm *vm, unsigned long req, __u64 attr,
		      void *payload)
{
	struct apmatrix_kvm_device_attr da = {
		.group = KVM_S390_VM_CRYPTO,
		.attr = attr,
		.addr = (__u64)(uintptr_t)payload,
	};
	int rc;

	do {
		rc = ioctl(vm->fd, req, &da);
	} while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

static const char *req_name(unsigned long req)
{
	return req == APMATRIX_KVM_SET_DEVICE_ATTR ? "KVM_SET_DEVICE_ATTR" :
	       req == APMATRIX_KVM_GET_DEVICE_ATTR ? "KVM_GET_DEVICE_ATTR" :
						     "KVM_HAS_DEVICE_ATTR";
}

/* an attribute ioctl whose failure is put in ctx */
static int vm_ioctl(struct apmatrix_vm *vm, unsigned long req, __u64 attr,
		    void *payload)
{
	char e[160];
	int rc = attr_ioctl(vm, req, attr, payload);

	if (rc)
		apm_set_msg(vm->ctx, "%s (%s): %s", req_name(req),
			    attr == KVM_S390_VM_CRYPTO_ENABLE_APIE ?
			    "KVM_S390_VM_CRYPTO_ENABLE_APIE" :
			    "KVM_S390_VM_CRYPTO_SET_AP_MATRIX",
			    apm_strerror(rc, e, sizeof(e)));
	return rc;
}

int apmatrix_vm_probe(struct apmatrix_vm *vm)
{
	if (!vm)
		return -EINVAL;
	apm_clear_error(vm->ctx);
	return vm_ioctl(vm, APMATRIX_KVM_HAS_DEVICE_ATTR,
			KVM_S390_VM_CRYPTO_SET_AP_MATRIX, NULL);
}

static int do_set(struct apmatrix_vm *vm, const struct apmatrix_matrix *m,
		  unsigned int flags, bool quiet)
{
	struct kvm_s390_ap_matrix k;

	if (vm->grant_fd >= 0)
		flags |= KVM_S390_AP_MATRIX_GRANT;
	apmatrix_matrix_to_kvm(m, flags, &k, sizeof(k));
	if (vm->grant_fd >= 0)
		k.grant_fd = vm->grant_fd;
	if (quiet)
		return attr_ioctl(vm, APMATRIX_KVM_SET_DEVICE_ATTR,
				  KVM_S390_VM_CRYPTO_SET_AP_MATRIX, &k);
	return vm_ioctl(vm, APMATRIX_KVM_SET_DEVICE_ATTR,
			KVM_S390_VM_CRYPTO_SET_AP_MATRIX, &k);
}

int apmatrix_vm_set(struct apmatrix_vm *vm, const struct apmatrix_matrix *m,
		    unsigned int flags)
{
	if (!vm || !m)
		return -EINVAL;
	apm_clear_error(vm->ctx);
	return do_set(vm, m, flags, false);
}

int apmatrix_vm_get(struct apmatrix_vm *vm, struct apmatrix_matrix *m)
{
	struct kvm_s390_ap_matrix k;
	int rc;

	if (!vm || !m)
		return -EINVAL;
	apm_clear_error(vm->ctx);
	memset(&k, 0, sizeof(k));
	rc = vm_ioctl(vm, APMATRIX_KVM_GET_DEVICE_ATTR,
		      KVM_S390_VM_CRYPTO_SET_AP_MATRIX, &k);
	if (rc)
		return rc;
	rc = apmatrix_matrix_from_kvm(m, &k, sizeof(k));
	if (rc)
		apm_set_msg(vm->ctx,
			    "KVM_GET_DEVICE_ATTR (KVM_S390_VM_CRYPTO_SET_AP_MATRIX): the kernel returned non-zero reserved words");
	return rc;
}

int apmatrix_vm_clear(struct apmatrix_vm *vm)
{
	struct apmatrix_matrix empty;

	if (!vm)
		return -EINVAL;
	apm_clear_error(vm->ctx);
	memset(&empty, 0, sizeof(empty));
	return do_set(vm, &empty, 0, false);
}

int apmatrix_vm_enable_apie(struct apmatrix_vm *vm)
{
	if (!vm)
		return -EINVAL;
	apm_clear_error(vm->ctx);
	return vm_ioctl(vm, APMATRIX_KVM_SET_DEVICE_ATTR,
			KVM_S390_VM_CRYPTO_ENABLE_APIE, NULL);
}

/* ------------------------------------------------------------------------ */
/* explain */

#define RULE_HOST	"not set aside for guests (still owned by the host's default drivers)"
#define RULE_UNBOUND	"not bound to the apmatrix driver"
#define RULE_ABSENT	"not on this host (no such queue under /sys/bus/ap)"
#define RULE_NOTAVAIL	"not available to apmatrix (not set aside for guests, or not bound to the apmatrix driver; the host's AP bus could not be read to tell which)"
#define RULE_INUSE	"held by another VM"
#define RULE_BUSY	"still being reset after leaving another VM, or its reset failed"
#define RULE_CRYCB	"beyond what this VM's CRYCB format holds"

/* one finding of explain: a rule, why, and what it refused */
struct finding {
	int err;
	char *reason;
	struct apmatrix_apqns *apqns;		/* NULL: none */
	struct apmatrix_matrix *ids;		/* NULL: none */
};

struct apmatrix_explanation {
	struct finding *v;
	unsigned int n;
};

struct explain {
	struct apmatrix_vm *vm;
	struct apmatrix_explanation *out;	/* NULL: the message only */
	int oom;
	struct apmatrix_host *host;	/* lazily read; NULL if unreadable */
	bool host_tried;
	struct apm_sbuf sb;
	char msg[APM_ERRLEN];
	bool named;
	/* refused APQNs by rule */
	struct apmatrix_apqns *absent;		/* EADDRNOTAVAIL: no such queue */
	struct apmatrix_apqns *host_held;	/* EADDRNOTAVAIL: default drivers */
	struct apmatrix_apqns *unbound;		/* EADDRNOTAVAIL: no driver / gone */
	struct apmatrix_apqns *notavail;	/* EADDRNOTAVAIL: no host view */
	struct apmatrix_apqns *inuse;		/* EADDRINUSE */
	struct apmatrix_apqns *busy;		/* EBUSY */
	struct apmatrix_apqns *unauth;		/* EPERM */
	struct apmatrix_apqns *failed;		/* EIO: reset failed */
	struct apmatrix_apqns *dropped;		/* EIO: dropped with its adapter */
	struct apmatrix_apqns *unsure;		/* probes used up: not told apart */
	int unsure_err;				/* the rule of a refused one there */
	unsigned int probes;			/* bisecting probes made */
	char eio_held[640];			/* EIO: what the VM holds now */
	/* EADDRNOTAVAIL, bound to another driver: one set per driver name */
	struct other {
		char *driver;
		struct apmatrix_apqns *s;
	} *other;
	unsigned int nother;
};

static struct apmatrix_host *ex_host(struct explain *ex)
{
	if (!ex->host_tried) {
		ex->host_tried = true;
		if (apmatrix_host_read(ex->vm->ctx, &ex->host))
			ex->host = NULL;
	}
	return ex->host;
}

/* record a finding (copies of s and ids) when the caller wants them */
static void ex_record(struct explain *ex, int err, const char *reason,
		      const struct apmatrix_apqns *s, enum apmatrix_part part,
		      const uint64_t *ids)
{
	struct apmatrix_explanation *x = ex->out;
	struct finding *f;

	if (!x)
		return;
	f = realloc(x->v, (x->n + 1) * sizeof(*f));
	if (!f) {
		ex->oom = 1;
		return;
	}
	x->v = f;
	f = &x->v[x->n];
	memset(f, 0, sizeof(*f));
	f->err = err;
	f->reason = strdup(reason);
	if (s) {
		f->apqns = apmatrix_apqns_new();
		if (f->apqns)
			memcpy(f->apqns, s, sizeof(*s));
	}
	if (ids) {
		f->ids = apmatrix_matrix_new();
		if (f->ids)
			memcpy(f->ids->part[part], ids, sizeof(apm_bits));
	}
	if (!f->reason || (s && !f->apqns) || (ids && !f->ids)) {
		free(f->reason);
		apmatrix_apqns_free(f->apqns);
		apmatrix_matrix_free(f->ids);
		ex->oom = 1;
		return;
	}
	x->n++;
}

static void ex_part(struct explain *ex, const char *what, const char *plural,
		    const apm_bits b, int width, const char *rule, const char *extra,
		    enum apmatrix_part part)
{
	char list[600], reason[256];
	int n;

	n = apm_bits_format(b, width, list, sizeof(list));
	if (n >= (int)sizeof(list))
		memcpy(list + sizeof(list) - 4, "...", 4);
	apm_sb_printf(&ex->sb, "%s%s %s: %s%s (ENODEV)", ex->named ? "; " : "",
		  apm_bits_count(b) > 1 ? plural : what, list, rule, extra);
	ex->named = true;
	snprintf(reason, sizeof(reason), "%s%s", rule, extra);
	ex_record(ex, ENODEV, reason, NULL, part, b);
}

static void ex_apqns(struct explain *ex, const struct apmatrix_apqns *s,
		     const char *rule, const char *rule2, int err,
		     struct apmatrix_apqns *refused)
{
	struct apmatrix_apqns_iter it;
	char list[600];
	unsigned int a, d;
	int n;

	if (!s || !apmatrix_apqns_count(s))
		return;
	n = apmatrix_apqns_format(s, list, sizeof(list));
	if (n >= (int)sizeof(list))
		memcpy(list + sizeof(list) - 4, "...", 4);
	apm_sb_printf(&ex->sb, "%s%s: %s%s (%s)", ex->named ? "; " : "", list, rule,
		  rule2, errname(err));
	ex->named = true;
	snprintf(list, sizeof(list), "%s%s", rule, rule2);
	ex_record(ex, err, list, s, 0, NULL);
	apmatrix_apqns_iter_init(&it);
	while (refused && apmatrix_apqns_next(s, &it, &a, &d))
		apmatrix_apqns_add(refused, a, d);
}

static int ex_enodev(struct explain *ex, const struct apmatrix_matrix *m,
		     struct apmatrix_matrix *refused_ids)
{
	struct apmatrix_host *h = ex_host(ex);
	unsigned int maxid[APM_NPARTS] = { APMATRIX_MAX_ID, APMATRIX_MAX_ID, APMATRIX_MAX_ID };
	static const unsigned int crycb[APM_NPARTS] = {
		CRYCB01_MAX_APID, CRYCB01_MAX_APQI, CRYCB01_MAX_APQI,
	};
	static const char *const what[APM_NPARTS] = { "adapter", "domain", "control domain" };
	static const char *const plural[APM_NPARTS] = { "adapters", "domains", "control domains" };
	apm_bits beyond[APM_NPARTS] = { { 0 } }, cand[APM_NPARTS] = { { 0 } };
	struct apmatrix_matrix probe;
	bool any_cand = false;
	unsigned int p, id;
	char extra[64];
	int rc;

	if (h) {
		maxid[APMATRIX_ADAPTERS] = apmatrix_host_max_adapter_id(h);
		maxid[APMATRIX_DOMAINS] = apmatrix_host_max_domain_id(h);
		maxid[APMATRIX_CONTROL_DOMAINS] = apmatrix_host_max_domain_id(h);
	}
	memset(&probe, 0, sizeof(probe));
	for (p = 0; p < APM_NPARTS; p++) {
		for (id = 0; id < APM_NIDS; id++) {
			if (!bits_test(m->part[p], id))
				continue;
			if (id > maxid[p]) {
				bits_set(beyond[p], id, true);
			} else if (id > crycb[p]) {
				bits_set(cand[p], id, true);
				any_cand = true;
			}
		}
	}
	/* the highest ID of each part that the host has but format 0/1 lacks */
	for (p = 0; p < APM_NPARTS; p++)
		for (id = APM_NIDS; id-- > 0;)
			if (bits_test(cand[p], id)) {
				bits_set(probe.part[p], id, true);
				break;
			}
	if (any_cand) {
		rc = do_set(ex->vm, &probe, KVM_S390_AP_MATRIX_VALIDATE_ONLY, true);
		if (rc != -ENODEV)	/* format 2: the CRYCB holds them all */
			memset(cand, 0, sizeof(cand));
	}
	for (p = 0; p < APM_NPARTS; p++) {
		if (!apm_bits_empty(beyond[p])) {
			snprintf(extra, sizeof(extra), " (max %s 0x%02x)", what[p],
				 maxid[p]);
			ex_part(ex, what[p], plural[p], beyond[p], p ? 4 : 2,
				"beyond the host's AP configuration", extra, p);
		}
		if (!apm_bits_empty(cand[p]))
			ex_part(ex, what[p], plural[p], cand[p], p ? 4 : 2,
				RULE_CRYCB, "", p);
		if (refused_ids)
			for (id = 0; id < APM_NIDS; id++)
				if (bits_test(beyond[p], id) || bits_test(cand[p], id))
					bits_set(refused_ids->part[p], id, true);
	}
	return 0;
}

static struct apmatrix_apqns *ex_other(struct explain *ex, const char *driver)
{
	struct other *o;
	unsigned int i;

	for (i = 0; i < ex->nother; i++)
		if (!strcmp(ex->other[i].driver, driver))
			return ex->other[i].s;
	o = realloc(ex->other, (ex->nother + 1) * sizeof(*o));
	if (!o)
		return NULL;
	ex->other = o;
	o = &ex->other[ex->nother];
	o->driver = strdup(driver);
	o->s = apmatrix_apqns_new();
	if (!o->driver || !o->s) {
		free(o->driver);
		apmatrix_apqns_free(o->s);
		return NULL;
	}
	ex->nother++;
	return o->s;
}

/* an APQN refused as not available: which part of the rule, from the host view */
static int ex_notavail(struct explain *ex, unsigned int a, unsigned int d)
{
	struct apmatrix_host *h = ex_host(ex);
	const struct apmatrix_queue *q = h ? apmatrix_host_queue(h, a, d) : NULL;
	struct apmatrix_apqns *s;
	struct apmatrix_matrix masks;

	if (!h)
		return apmatrix_apqns_add(ex->notavail, a, d);
	/* no adapter 06, or adapter 03 gone: say that, not a mask's story */
	if (!q)
		return apmatrix_apqns_add(ex->absent, a, d);
	apmatrix_host_get_masks(h, APMATRIX_HOST_MASKS, &masks);
	if (apmatrix_matrix_has_apqn(&masks, a, d))
		return apmatrix_apqns_add(ex->host_held, a, d);
	if (apmatrix_queue_holder(q) == APMATRIX_HOLDER_APMATRIX)
		return 0;	/* available: the state changed */
	if (apmatrix_queue_holder(q) == APMATRIX_HOLDER_OTHER) {
		s = ex_other(ex, apmatrix_queue_driver(q));
		return s ? apmatrix_apqns_add(s, a, d) : -ENOMEM;
	}
	return apmatrix_apqns_add(ex->unbound, a, d);
}

static int ex_addrnotavail(struct explain *ex, const struct apmatrix_matrix *m)
{
	unsigned int a, d;
	int rc;

	for (a = 0; a < APM_NIDS; a++)
		for (d = 0; d < APM_NIDS; d++)
			if (apmatrix_matrix_has_apqn(m, a, d)) {
				rc = ex_notavail(ex, a, d);
				if (rc)
					return rc;
			}
	return 0;
}

/* one APQN refused with err by a probe */
static int ex_refused(struct explain *ex, int err, unsigned int a, unsigned int d)
{
	switch (err) {
	case EADDRNOTAVAIL:
		return ex_notavail(ex, a, d);
	case EADDRINUSE:
		return apmatrix_apqns_add(ex->inuse, a, d);
	case EBUSY:
		return apmatrix_apqns_add(ex->busy, a, d);
	}
	return 0;
}

static bool per_apqn_errno(int err)
{
	return err == EADDRNOTAVAIL || err == EADDRINUSE || err == EBUSY;
}

static int ex_probe_fail(struct explain *ex, int rc, const char *what)
{
	char e[160];

	return apm_fail(ex->vm->ctx, -rc, "probing %s with VALIDATE_ONLY: %s", what,
			apm_strerror(rc, e, sizeof(e)));
}

/*
 * The most VALIDATE_ONLY probes that bisect refused rows (beyond one
 * probe per adapter row): what a fully refused 256 x 256 matrix would
 * take one APQN at a time is 65536 ioctls. What is left when they are
 * used up is named as not told apart.
 */
#define EX_BISECT_PROBES	1024

/* which rule the kernel names for a set holding APQNs refused by several */
static int err_rank(int err)
{
	return err == EADDRNOTAVAIL ? 3 : err == EADDRINUSE ? 2 : err == EBUSY ? 1 : 0;
}

/* probe adapter a x domains ds: 0, or the kernel's (positive) errno */
static int ex_probe_row(struct explain *ex, unsigned int a, const apm_bits ds)
{
	struct apmatrix_matrix probe;

	memset(&probe, 0, sizeof(probe));
	bits_set(probe.part[APMATRIX_ADAPTERS], a, true);
	memcpy(probe.part[APMATRIX_DOMAINS], ds, sizeof(apm_bits));
	return -do_set(ex->vm, &probe, KVM_S390_AP_MATRIX_VALIDATE_ONLY, true);
}

/* a bisecting probe of a x ds; -errno (message set) when the probes must stop */
static int ex_probe_part(struct explain *ex, unsigned int a, const apm_bits ds)
{
	char what[32];
	int err;

	ex->probes++;
	err = ex_probe_row(ex, a, ds);
	if (err && !per_apqn_errno(err)) {
		if (apm_bits_count(ds) == 1) {
			unsigned int d;

			for (d = 0; !bits_test(ds, d); d++)
				;
			snprintf(what, sizeof(what), "%02x.%04x", a, d);
		} else {
			snprintf(what, sizeof(what), "adapter %02x", a);
		}
		return ex_probe_fail(ex, -err, what);
	}
	return err;
}

/* a x ds, not probed one by one; err: the rule of a refused one there, or 0 */
static int ex_unsure(struct explain *ex, unsigned int a, const apm_bits ds, int err)
{
	unsigned int d;

	for (d = 0; d < APM_NIDS; d++)
		if (bits_test(ds, d) && apmatrix_apqns_add(ex->unsure, a, d))
			return -ENOMEM;
	if (err_rank(err) > err_rank(ex->unsure_err))
		ex->unsure_err = err;
	return 0;
}

/*
 * Adapter a x domains ds (n of them) holds at least one APQN the kernel
 * refuses, and err is the rule it names for them all: find each by
 * halving ds. A half the kernel takes leaves the refusal to the other
 * half, with err, and so does a half refused by a lower rule than err.
 * r refused APQNs of n cost about 2 r log2(n) probes.
 */
static int ex_bisect(struct explain *ex, unsigned int a, const apm_bits ds,
		     unsigned int n, int err)
{
	apm_bits lo, hi;
	unsigned int d, k = 0;
	int elo, ehi, rc;

	if (n == 1) {
		for (d = 0; !bits_test(ds, d); d++)
			;
		return ex_refused(ex, err, a, d) ? -ENOMEM : 0;
	}
	if (ex->probes >= EX_BISECT_PROBES)
		return ex_unsure(ex, a, ds, err);
	memset(lo, 0, sizeof(lo));
	memcpy(hi, ds, sizeof(hi));
	for (d = 0; k < n / 2; d++)
		if (bits_test(ds, d)) {
			bits_set(lo, d, true);
			bits_set(hi, d, false);
			k++;
		}
	elo = ex_probe_part(ex, a, lo);
	if (elo < 0)
		return elo;
	if (!elo)
		return ex_bisect(ex, a, hi, n - k, err);
	rc = ex_bisect(ex, a, lo, k, elo);
	if (rc)
		return rc;
	if (err_rank(elo) < err_rank(err))
		return ex_bisect(ex, a, hi, n - k, err);
	if (ex->probes >= EX_BISECT_PROBES)
		return ex_unsure(ex, a, hi, 0);
	ehi = ex_probe_part(ex, a, hi);
	if (ehi < 0)
		return ehi;
	return ehi ? ex_bisect(ex, a, hi, n - k, ehi) : 0;
}

/*
 * VALIDATE_ONLY probes: one per adapter row (its adapter x all wanted
 * domains), then a bisection of each refused row, at most
 * EX_BISECT_PROBES of those in all.
 */
static int ex_probe(struct explain *ex, const struct apmatrix_matrix *m)
{
	const uint64_t *ds = m->part[APMATRIX_DOMAINS];
	unsigned int a, nd = apm_bits_count(ds);
	int rowerr[APM_NIDS] = { 0 }, rc;
	char what[32];

	if (!nd)
		return 0;
	for (a = 0; a < APM_NIDS; a++) {
		if (!bits_test(m->part[APMATRIX_ADAPTERS], a))
			continue;
		rowerr[a] = ex_probe_row(ex, a, ds);
		if (rowerr[a] && !per_apqn_errno(rowerr[a])) {
			snprintf(what, sizeof(what), "adapter %02x", a);
			return ex_probe_fail(ex, -rowerr[a], what);
		}
	}
	for (a = 0; a < APM_NIDS; a++)
		if (rowerr[a]) {
			rc = ex_bisect(ex, a, ds, nd, rowerr[a]);
			if (rc == -ENOMEM)
				return apm_fail(ex->vm->ctx, ENOMEM, "out of memory");
			if (rc)
				return rc;
		}
	return 0;
}

/* the VM's matrix now, without a message on failure */
static int ex_get(struct explain *ex, struct apmatrix_matrix *cur)
{
	struct kvm_s390_ap_matrix k;
	int rc;

	memset(&k, 0, sizeof(k));
	rc = attr_ioctl(ex->vm, APMATRIX_KVM_GET_DEVICE_ATTR,
			KVM_S390_VM_CRYPTO_SET_AP_MATRIX, &k);
	if (!rc)
		rc = apmatrix_matrix_from_kvm(cur, &k, sizeof(k));
	if (rc)
		return ex_probe_fail(ex, rc, "the VM's matrix (KVM_GET_DEVICE_ATTR)");
	return 0;
}

/*
 * EPERM: what the request adds that the VM does not hold and its grant
 * does not cover (the kernel's authority rule, computed the same way).
 */
static int ex_eperm(struct explain *ex, const struct apmatrix_matrix *m,
		    struct apmatrix_matrix *refused_ids)
{
	const struct apmatrix_matrix *g = &ex->vm->grant;
	bool have_grant = ex->vm->grant_fd >= 0;
	struct apmatrix_matrix cur;
	apm_bits ctl = { 0 };
	unsigned int a, d, w;
	char list[600];
	int rc;

	rc = ex_get(ex, &cur);
	if (rc)
		return rc;
	for (a = 0; a < APM_NIDS; a++)
		for (d = 0; d < APM_NIDS; d++)
			if (apmatrix_matrix_has_apqn(m, a, d) &&
			    !apmatrix_matrix_has_apqn(&cur, a, d) &&
			    !apmatrix_matrix_has_apqn(g, a, d) &&
			    apmatrix_apqns_add(ex->unauth, a, d))
				return -ENOMEM;
	for (w = 0; w < APM_WORDS; w++)
		ctl[w] = m->part[APMATRIX_CONTROL_DOMAINS][w] &
			 ~cur.part[APMATRIX_CONTROL_DOMAINS][w] &
			 ~g->part[APMATRIX_CONTROL_DOMAINS][w];
	if (!apm_bits_empty(ctl)) {
		apm_bits_format(ctl, 4, list, sizeof(list));
		apm_sb_printf(&ex->sb, "%s%s %s: %s (EPERM)", ex->named ? "; " : "",
			      apm_bits_count(ctl) > 1 ? "control domains" : "control domain",
			      list, have_grant ?
			      "not held by this VM and not covered by its grant" :
			      "not held by this VM: adding it needs a grant or CAP_SYS_ADMIN");
		ex->named = true;
		ex_record(ex, EPERM, have_grant ?
			  "not held by this VM and not covered by its grant" :
			  "not held by this VM: adding it needs a grant or CAP_SYS_ADMIN",
			  NULL, APMATRIX_CONTROL_DOMAINS, ctl);
		if (refused_ids)
			for (w = 0; w < APM_WORDS; w++)
				refused_ids->part[APMATRIX_CONTROL_DOMAINS][w] |= ctl[w];
	}
	return 0;
}

/*
 * EIO after RESET: the VM holds the new matrix minus every adapter with a
 * queue whose reset failed. What it lacks of the request was dropped;
 * the host's apmatrix_state tells which of those failed their reset.
 */
static int ex_eio(struct explain *ex, const struct apmatrix_matrix *m)
{
	struct apmatrix_host *h = ex_host(ex);
	struct apmatrix_matrix cur;
	unsigned int a, d;
	char held[600];
	int rc;

	rc = ex_get(ex, &cur);
	if (rc)
		return rc;
	for (a = 0; a < APM_NIDS; a++)
		for (d = 0; d < APM_NIDS; d++) {
			const struct apmatrix_queue *q;

			if (!apmatrix_matrix_has_apqn(m, a, d) ||
			    apmatrix_matrix_has_apqn(&cur, a, d))
				continue;
			q = h ? apmatrix_host_queue(h, a, d) : NULL;
			rc = apmatrix_apqns_add(q && apmatrix_queue_state(q, NULL) ==
						APMATRIX_QSTATE_RESET_FAILED ?
						ex->failed : ex->dropped, a, d);
			if (rc)
				return rc;
		}
	rc = apmatrix_matrix_format_apqns(&cur, held, sizeof(held));
	if (rc >= (int)sizeof(held))
		memcpy(held + sizeof(held) - 4, "...", 4);
	snprintf(ex->eio_held, sizeof(ex->eio_held), "%s", rc > 0 ? held : "no queue");
	return 0;
}

static void ex_free(struct explain *ex)
{
	unsigned int i;

	apmatrix_host_free(ex->host);
	apmatrix_apqns_free(ex->absent);
	apmatrix_apqns_free(ex->host_held);
	apmatrix_apqns_free(ex->unbound);
	apmatrix_apqns_free(ex->notavail);
	apmatrix_apqns_free(ex->inuse);
	apmatrix_apqns_free(ex->busy);
	apmatrix_apqns_free(ex->unauth);
	apmatrix_apqns_free(ex->failed);
	apmatrix_apqns_free(ex->dropped);
	apmatrix_apqns_free(ex->unsure);
	for (i = 0; i < ex->nother; i++) {
		free(ex->other[i].driver);
		apmatrix_apqns_free(ex->other[i].s);
	}
	free(ex->other);
}

/*
 * "and N more": the APQNs of refused rows the probes did not tell apart.
 * They go to refused as well, so that the request without refused is
 * one the kernel takes (some of them may have been fine).
 */
static void ex_unsure_report(struct explain *ex, struct apmatrix_apqns *refused)
{
	struct apmatrix_apqns_iter it;
	unsigned int n = apmatrix_apqns_count(ex->unsure), a, d;
	char list[200], reason[160];
	int len;

	if (!n)
		return;
	len = apmatrix_apqns_format(ex->unsure, list, sizeof(list));
	if (len >= (int)sizeof(list))
		memcpy(list + sizeof(list) - 4, "...", 4);
	snprintf(reason, sizeof(reason),
		 "not probed one by one (explain stops after %u probes of refused rows): some of them are refused",
		 EX_BISECT_PROBES);
	apm_sb_printf(&ex->sb, "%sand %u more APQN%s %s (%s): %s", ex->named ? "; " : "",
		      n, n > 1 ? "s" : "", reason, errname(ex->unsure_err), list);
	ex->named = true;
	ex_record(ex, ex->unsure_err, reason, ex->unsure, 0, NULL);
	apmatrix_apqns_iter_init(&it);
	while (refused && apmatrix_apqns_next(ex->unsure, &it, &a, &d))
		apmatrix_apqns_add(refused, a, d);
}

static int explain(struct apmatrix_vm *vm, const struct apmatrix_matrix *m,
		   int err, struct apmatrix_apqns *refused,
		   struct apmatrix_matrix *refused_ids,
		   struct apmatrix_explanation *out)
{
	struct explain ex = { .vm = vm, .out = out };
	char e[160], rule[128];
	unsigned int i;
	int rc = 0;

	if (!vm || !m)
		return -EINVAL;
	apm_clear_error(vm->ctx);
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return apm_fail(vm->ctx, EINVAL, "nothing was refused: there is nothing to explain");
	case EINVAL:
	case EBADF:
	case EOPNOTSUPP:
	case EEXIST:
	case EINTR:
	case ENXIO:
		/* rules that name no APQN: what the rule means */
		ex_record(&ex, err, apmatrix_rule_meaning(err), NULL, 0, NULL);
		if (ex.oom)
			return apm_fail(vm->ctx, ENOMEM, "out of memory");
		return apm_fail(vm->ctx, 0, "%s (%s)", apmatrix_rule_meaning(err),
				apmatrix_rule_name(err));
	case ENODEV:
	case EPERM:
	case EADDRNOTAVAIL:
	case EADDRINUSE:
	case EBUSY:
	case EIO:
		break;
	default:
		apm_strerror(err, e, sizeof(e));
		ex_record(&ex, err, e, NULL, 0, NULL);
		if (ex.oom)
			return apm_fail(vm->ctx, ENOMEM, "out of memory");
		return apm_fail(vm->ctx, 0, "KVM_SET_DEVICE_ATTR failed: %s", e);
	}

	apm_sb_init(&ex.sb, ex.msg, sizeof(ex.msg));
	ex.absent = apmatrix_apqns_new();
	ex.host_held = apmatrix_apqns_new();
	ex.unbound = apmatrix_apqns_new();
	ex.notavail = apmatrix_apqns_new();
	ex.inuse = apmatrix_apqns_new();
	ex.busy = apmatrix_apqns_new();
	ex.unauth = apmatrix_apqns_new();
	ex.failed = apmatrix_apqns_new();
	ex.dropped = apmatrix_apqns_new();
	ex.unsure = apmatrix_apqns_new();
	if (!ex.unauth || !ex.failed || !ex.dropped || !ex.absent || !ex.host_held ||
	    !ex.unbound || !ex.notavail || !ex.inuse || !ex.busy || !ex.unsure) {
		rc = apm_fail(vm->ctx, ENOMEM, "out of memory");
		goto out;
	}

	if (err == ENODEV)
		rc = ex_enodev(&ex, m, refused_ids);
	else if (err == EPERM)
		rc = ex_eperm(&ex, m, refused_ids);
	else if (err == EIO)
		rc = ex_eio(&ex, m);
	else if (err == EADDRNOTAVAIL)
		rc = ex_addrnotavail(&ex, m);
	else
		rc = ex_probe(&ex, m);
	if (rc) {
		if (rc == -ENOMEM)
			apm_fail(vm->ctx, ENOMEM, "out of memory");
		goto out;
	}

	/* in the order the kernel checks the rules */
	ex_apqns(&ex, ex.unauth, vm->grant_fd >= 0 ?
		 "not held by this VM and not covered by its grant" :
		 "not held by this VM: adding them needs a grant or CAP_SYS_ADMIN",
		 "", EPERM, refused);
	if (err == EIO) {
		char held[700];

		apm_sb_printf(&ex.sb, "the reset of a queue did not complete (EIO): the VM now holds %s",
			      ex.eio_held);
		ex.named = true;
		snprintf(held, sizeof(held),
			 "the reset of a queue did not complete: the VM now holds %s", ex.eio_held);
		ex_record(&ex, EIO, held, NULL, 0, NULL);
		ex_apqns(&ex, ex.failed, "reset failed, dropped with its adapter", "", EIO, refused);
		ex_apqns(&ex, ex.dropped, "dropped with the adapter of a failed reset", "", EIO, refused);
	}
	ex_apqns(&ex, ex.absent, RULE_ABSENT, "", EADDRNOTAVAIL, refused);
	ex_apqns(&ex, ex.host_held, RULE_HOST, "", EADDRNOTAVAIL, refused);
	for (i = 0; i < ex.nother; i++) {
		snprintf(rule, sizeof(rule), "bound to %s, not to apmatrix",
			 ex.other[i].driver);
		ex_apqns(&ex, ex.other[i].s, rule, "", EADDRNOTAVAIL, refused);
	}
	ex_apqns(&ex, ex.unbound, RULE_UNBOUND, "", EADDRNOTAVAIL, refused);
	ex_apqns(&ex, ex.notavail, RULE_NOTAVAIL, "", EADDRNOTAVAIL, refused);
	ex_apqns(&ex, ex.inuse, RULE_INUSE, "", EADDRINUSE, refused);
	ex_apqns(&ex, ex.busy, RULE_BUSY, "", EBUSY, refused);
	ex_unsure_report(&ex, refused);

	if (ex.oom) {
		rc = apm_fail(vm->ctx, ENOMEM, "out of memory");
		goto out;
	}
	if (!ex.named) {
		rc = apm_fail(vm->ctx, EAGAIN,
			      "the kernel refused the matrix (%s), but the probes find nothing refused now: the AP configuration changed meanwhile; try again",
			      errname(err));
		goto out;
	}
	if (ex.sb.pos >= sizeof(ex.msg))
		memcpy(ex.msg + sizeof(ex.msg) - 4, "...", 4);
	apm_set_msg(vm->ctx, "%s", ex.msg);
out:
	ex_free(&ex);
	return rc;
}

int apmatrix_vm_explain(struct apmatrix_vm *vm, const struct apmatrix_matrix *m,
			int err, struct apmatrix_apqns *refused,
			struct apmatrix_matrix *refused_ids)
{
	return explain(vm, m, err, refused, refused_ids, NULL);
}

int apmatrix_vm_explain_all(struct apmatrix_vm *vm,
			    const struct apmatrix_matrix *m, int err,
			    struct apmatrix_explanation **out)
{
	struct apmatrix_explanation *x;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return vm ? apm_fail(vm->ctx, ENOMEM, "out of memory") : -ENOMEM;
	rc = explain(vm, m, err, NULL, NULL, x);
	if (rc && rc != -EAGAIN) {
		apmatrix_explanation_free(x);
		return rc;
	}
	*out = x;
	return rc;
}

unsigned int apmatrix_explanation_count(const struct apmatrix_explanation *x)
{
	return x ? x->n : 0;
}

int apmatrix_explanation_get(const struct apmatrix_explanation *x,
			     unsigned int idx, int *err, const char **reason,
			     const struct apmatrix_apqns **apqns,
			     const struct apmatrix_matrix **ids)
{
	if (!x)
		return -EINVAL;
	if (idx >= x->n)
		return -ENOENT;
	if (err)
		*err = x->v[idx].err;
	if (reason)
		*reason = x->v[idx].reason;
	if (apqns)
		*apqns = x->v[idx].apqns;
	if (ids)
		*ids = x->v[idx].ids;
	return 0;
}

void apmatrix_explanation_free(struct apmatrix_explanation *x)
{
	unsigned int i;

	if (!x)
		return;
	for (i = 0; i < x->n; i++) {
		free(x->v[i].reason);
		apmatrix_apqns_free(x->v[i].apqns);
		apmatrix_matrix_free(x->v[i].ids);
	}
	free(x->v);
	free(x);
}
