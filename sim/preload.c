// SPDX-License-Identifier: GPL-2.0
/*
 * libapsim-preload.so - makes an unmodified program talk to the simulated
 * host (apsimd) as if it ran on an s390 host with KVM:
 *
 *   open("/dev/kvm")                 a marker fd (a memfd named apsim-kvm),
 *                                    also when the machine has no /dev/kvm
 *   ioctl(kvm, KVM_CREATE_VM)        a new connection to apsimd: the VM fd
 *   ioctl(vm, KVM_{HAS,SET,GET}_DEVICE_ATTR)
 *                                    sent to apsimd, its errno returned; the
 *                                    payload is copied in (SET, never back)
 *                                    or out (GET)
 *   readlink[at]() of /proc/PID/fd/N "anon_inode:kvm-vm" for VM sockets (of
 *                                    any process: apsimd knows their inodes),
 *                                    "/dev/kvm" for the marker
 *   open+write of <root>/bus/ap/apmask|aqmask
 *                                    the write goes to apsimd, which runs the
 *                                    in_use() veto and rebinds queues
 *   open("/dev/apmatrix")            <root>/dev/apmatrix, opened with the
 *                                    caller's own permissions (the node is
 *                                    root's, 0600, unless changed)
 *   ioctl(apmatrix, APMATRIX_CREATE_GRANT)
 *                                    run by apsimd's kernel; the new grant is
 *                                    a real fd (one end of a socketpair, close-
 *                                    on-exec) that apsimd maps to its file
 *   ioctl(vm, KVM_SET_DEVICE_ATTR) with KVM_S390_AP_MATRIX_GRANT
 *                                    the fd named by grant_fd goes along
 *   open/fopen of /proc/PID/fdinfo/N of a grant
 *                                    the kernel's fdinfo (show_fdinfo lines)
 *   open/fopen of <root>/.../XX.YYYY/apmatrix_state
 *                                    the attribute's text now
 *   open+write of <root>/bus/ap/drivers/DRIVER/bind|unbind
 *                                    the queue named is bound or unbound by
 *                                    apsimd's AP bus (DRIVER cex4queue,
 *                                    apmatrix or vfio_ap), its errno returned
 *
 * Only active when APMATRIX_SIM_SOCKET is set. No state is shared between
 * processes other than through apsimd.
 */
/* define open and open64 both, under their own names */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "apsim-proto.h"
#include "interpose.h"

/* the KVM ABI (include/uapi/linux/kvm.h), stable since 3.10 */
struct apsim_kvm_device_attr {
	uint32_t flags;
	uint32_t group;
	uint64_t attr;
	uint64_t addr;
};
#define APSIM_KVMIO 0xAE
#define APSIM_KVM_GET_API_VERSION _IO(APSIM_KVMIO, 0x00)
#define APSIM_KVM_CREATE_VM _IO(APSIM_KVMIO, 0x01)
#define APSIM_KVM_CHECK_EXTENSION _IO(APSIM_KVMIO, 0x03)
#define APSIM_KVM_SET_DEVICE_ATTR _IOW(APSIM_KVMIO, 0xe1, struct apsim_kvm_device_attr)
#define APSIM_KVM_GET_DEVICE_ATTR _IOW(APSIM_KVMIO, 0xe2, struct apsim_kvm_device_attr)
#define APSIM_KVM_HAS_DEVICE_ATTR _IOW(APSIM_KVMIO, 0xe3, struct apsim_kvm_device_attr)
#define APSIM_KVM_CAP_VM_ATTRIBUTES 101
#define APSIM_MATRIX_SIZE 136
#define APSIM_GROUP_CRYPTO 2
#define APSIM_ATTR_SET_AP_MATRIX 6
#define APSIM_MATRIX_FLAGS_OFF 96
#define APSIM_MATRIX_GRANT_FD_OFF 100
#define APSIM_MATRIX_F_GRANT 0x4u
/* uapi asm/apmatrix.h: _IOW(0xB9, 0x01, struct apmatrix_grant) (136 bytes) */
#define APSIM_APMATRIX_MAGIC 0xB9
#define APSIM_GRANT_SIZE 136

#define KVM_MARKER_NAME "apsim-kvm"
#define KVM_MARKER_LINK "/memfd:" KVM_MARKER_NAME " (deleted)"
#define MAX_TRACKED 4096

#define EXPORT INTERPOSE_EXPORT
#define SHIM "apsim-preload"

static int (*real_open)(const char *, int, ...);
static FILE *(*real_fopen)(const char *, const char *);
static FILE *(*real_fopen64)(const char *, const char *);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_close)(int);
static ssize_t (*real_readlink)(const char *, char *, size_t);
static ssize_t (*real_readlinkat)(int, const char *, char *, size_t);

/* fds of this process opened on apmask (1) / aqmask (2), or on a queue
 * driver's bind (DRV_FD + 2 * driver) / unbind (DRV_FD + 2 * driver + 1) */
#define DRV_FD 3
static const char *const drv_names[] = { "cex4queue", "apmatrix", "vfio_ap" };
static int mask_fd[MAX_TRACKED];

static void init_real(void)
{
	if (real_open)
		return;
	real_openat = interpose_real(SHIM, "openat");
	real_ioctl = interpose_real(SHIM, "ioctl");
	real_write = interpose_real(SHIM, "write");
	real_close = interpose_real(SHIM, "close");
	real_readlink = interpose_real(SHIM, "readlink");
	real_readlinkat = interpose_real(SHIM, "readlinkat");
	real_fopen = interpose_real(SHIM, "fopen");
	real_fopen64 = interpose_real(SHIM, "fopen64");
	__atomic_store_n(&real_open, interpose_real(SHIM, "open"), __ATOMIC_RELEASE);
}

static const char *sock_path(void)
{
	const char *s = getenv(APSIM_SOCKET_ENV);

	return s && *s ? s : NULL;
}

static int sim_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *p = sock_path();
	int fd, e;

	if (!p || strlen(p) >= sizeof(sa.sun_path)) {
		errno = ENODEV;
		return -1;
	}
	strcpy(sa.sun_path, p);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		real_close(fd);
		errno = e == ENOENT || e == ECONNREFUSED ? ENODEV : e;
		return -1;
	}
	return fd;
}

static int xfer2(int fd, const struct apsim_req *q, int pass_fd, int pass_fd2)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = { (void *)q, offsetof(struct apsim_req, data) + q->len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	int rfd = fd, fds[2] = { pass_fd, pass_fd2 }, nfd = pass_fd2 >= 0 ? 2 : 1;
	ssize_t n;

	if (pass_fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfd * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfd * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfd * sizeof(int));
	}
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EBADF ? -EBADF : -EIO;
	return rfd;
}

static int xfer(int fd, const struct apsim_req *q, int pass_fd)
{
	return xfer2(fd, q, pass_fd, -1);
}

/* a reply that may carry an fd (close-on-exec, as the kernel's new fds) */
static int recv_reply_fd(int fd, struct apsim_reply *r, int *got)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { r, sizeof(*r) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	ssize_t n;

	*got = -1;
	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	for (c = CMSG_FIRSTHDR(&mh); n > 0 && c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(got, CMSG_DATA(c), sizeof(int));
	if (n < (ssize_t)offsetof(struct apsim_reply, data) || r->magic != APSIM_MAGIC) {
		if (*got >= 0)
			real_close(*got);
		*got = -1;
		return -EIO;
	}
	return 0;
}

static int recv_reply(int fd, struct apsim_reply *r)
{
	ssize_t n;

	do {
		n = recv(fd, r, sizeof(*r), 0);
	} while (n < 0 && errno == EINTR);
	if (n < (ssize_t)offsetof(struct apsim_reply, data) || r->magic != APSIM_MAGIC)
		return -EIO;
	return 0;
}

/* a request on a connection of its own */
static int sim_call(struct apsim_req *q, struct apsim_reply *r)
{
	int fd = sim_connect(), rc;

	if (fd < 0)
		return -errno;
	q->magic = APSIM_MAGIC;
	rc = xfer(fd, q, -1);
	if (rc >= 0)
		rc = recv_reply(fd, r);
	real_close(fd);
	return rc < 0 ? rc : 0;
}

/*
 * sim_call() with a reply of its own: the reply (free() it; NULL without
 * memory) and in *err the transport's or apsimd's error (0, or -errno).
 */
static struct apsim_reply *sim_ask(struct apsim_req *q, int *err)
{
	struct apsim_reply *r = malloc(sizeof(*r));

	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = sim_call(q, r);
	if (!*err)
		*err = r->err;
	return r;
}

/* a request on a VM connection, the reply through a socketpair of ours;
 * extra_fd (or -1) goes along */
static int vm_call(int vmfd, struct apsim_req *q, struct apsim_reply *r, int extra_fd)
{
	int sp[2], rc;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp))
		return -errno;
	q->magic = APSIM_MAGIC;
	rc = xfer2(vmfd, q, sp[1], extra_fd);
	real_close(sp[1]);
	if (rc >= 0)
		rc = recv_reply(sp[0], r);
	real_close(sp[0]);
	return rc < 0 ? rc : 0;
}

/* is fd a connection to apsimd? */
static bool is_sim_socket(int fd)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	struct stat st;
	const char *p = sock_path();

	if (!p || fstat(fd, &st) || !S_ISSOCK(st.st_mode))
		return false;
	memset(&sa, 0, sizeof(sa));
	if (getpeername(fd, (struct sockaddr *)&sa, &len) || sa.sun_family != AF_UNIX)
		return false;
	return !strncmp(sa.sun_path, p, sizeof(sa.sun_path));
}

static bool is_kvm_marker(int fd)
{
	char p[64], link[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = real_readlink(p, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	return !strcmp(link, KVM_MARKER_LINK);
}

static int create_vm(unsigned long type)
{
	struct apsim_req q;
	struct apsim_reply *r;
	struct stat st;
	const char *f = getenv("APMATRIX_SIM_CRYCB_FORMAT");
	int fd, rc;

	if (type != 0) {
		errno = EINVAL;	/* no user-controlled VMs in the simulation */
		return -1;
	}
	fd = sim_connect();
	if (fd < 0)
		return -1;
	r = malloc(sizeof(*r));
	if (!r || fstat(fd, &st)) {
		free(r);
		real_close(fd);
		errno = ENOMEM;
		return -1;
	}
	memset(&q, 0, sizeof(q));
	q.magic = APSIM_MAGIC;
	q.op = APSIM_HELLO_VM;
	q.arg0 = f && *f ? atoi(f) : 2;
	q.arg1 = (int64_t)st.st_ino;
	rc = xfer(fd, &q, -1);
	if (rc >= 0)
		rc = recv_reply(fd, r);
	if (!rc && r->err)
		rc = r->err;
	free(r);
	if (rc) {
		real_close(fd);
		errno = -rc;
		return -1;
	}
	return fd;
}

static int attr_ioctl(int fd, unsigned long req, struct apsim_kvm_device_attr *a)
{
	struct apsim_req q;
	struct apsim_reply *r;
	struct iovec local, remote;
	int rc, gfd = -1;
	uint32_t mflags;
	bool matrix;

	memset(&q, 0, offsetof(struct apsim_req, data));
	q.group = a->group;
	q.attr = a->attr;
	matrix = a->group == APSIM_GROUP_CRYPTO && a->attr == APSIM_ATTR_SET_AP_MATRIX;
	if (req == APSIM_KVM_HAS_DEVICE_ATTR) {
		q.op = APSIM_HAS_ATTR;
	} else if (req == APSIM_KVM_SET_DEVICE_ATTR) {
		q.op = APSIM_SET_ATTR;
		if (matrix) {
			q.len = APSIM_MATRIX_SIZE;
			local.iov_base = q.data;
			local.iov_len = APSIM_MATRIX_SIZE;
			remote.iov_base = (void *)(uintptr_t)a->addr;
			remote.iov_len = APSIM_MATRIX_SIZE;
			/* copy_from_user: a bad address is EFAULT, not a crash */
			if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != APSIM_MATRIX_SIZE)
				q.flags |= APSIM_F_BADADDR;
			/* a grant: the fd goes along, so the kernel's fget() finds it */
			memcpy(&mflags, q.data + APSIM_MATRIX_FLAGS_OFF, sizeof(mflags));
			memcpy(&gfd, q.data + APSIM_MATRIX_GRANT_FD_OFF, sizeof(gfd));
			if (q.flags & APSIM_F_BADADDR || !(mflags & APSIM_MATRIX_F_GRANT))
				gfd = -1;
			else if (gfd < 0 || fcntl(gfd, F_GETFD) < 0) {
				q.flags |= APSIM_F_GRANT_BADF;
				gfd = -1;
			} else {
				q.flags |= APSIM_F_GRANT_FD;
			}
		}
	} else {
		q.op = APSIM_GET_ATTR;
		q.len = matrix ? APSIM_MATRIX_SIZE : 0;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return -1;
	}
	rc = vm_call(fd, &q, r, gfd);
	if (!rc)
		rc = r->err;
	if (!rc && q.op == APSIM_GET_ATTR && q.len) {
		local.iov_base = r->data;
		local.iov_len = q.len;
		remote.iov_base = (void *)(uintptr_t)a->addr;
		remote.iov_len = q.len;
		if (process_vm_writev(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)q.len)
			rc = -EFAULT;
	}
	free(r);
	if (rc) {
		errno = -rc;
		return -1;
	}
	return 0;
}

static int sim_root(char *buf, size_t len);

/* is fd the simulated /dev/apmatrix (<root>/dev/apmatrix)? */
static bool is_dev_apmatrix(int fd)
{
	char root[PATH_MAX], p[PATH_MAX + 16];
	struct stat a, b;

	if (fstat(fd, &a) || !S_ISREG(a.st_mode) || sim_root(root, sizeof(root)))
		return false;
	snprintf(p, sizeof(p), "%s/dev/apmatrix", root);
	return !stat(p, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* /dev/apmatrix's ioctl, run by apsimd's kernel; a new fd comes back */
static int apmatrix_ioctl(unsigned long req, void *arg)
{
	struct apsim_req q;
	struct apsim_reply *r;
	struct iovec local, remote;
	size_t size = _IOC_SIZE(req);
	int fd, rc, got = -1;

	memset(&q, 0, offsetof(struct apsim_req, data));
	q.op = APSIM_GRANT_CREATE;
	q.group = req;
	if (size > APSIM_DATA_MAX) {
		errno = ENOTTY;
		return -1;
	}
	q.len = (uint32_t)size;
	if (size) {
		local.iov_base = q.data;
		local.iov_len = size;
		remote.iov_base = arg;
		remote.iov_len = size;
		if (!arg || process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)size)
			q.flags |= APSIM_F_BADADDR;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return -1;
	}
	fd = sim_connect();
	if (fd < 0) {
		free(r);
		return -1;
	}
	q.magic = APSIM_MAGIC;
	rc = xfer(fd, &q, -1);
	if (rc >= 0)
		rc = recv_reply_fd(fd, r, &got);
	real_close(fd);
	if (!rc)
		rc = r->err;
	free(r);
	if (rc) {
		if (got >= 0)
			real_close(got);
		errno = -rc;
		return -1;
	}
	if (got < 0) {
		errno = EIO;
		return -1;
	}
	return got;
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	init_real();
	if (_IOC_TYPE(req) == APSIM_APMATRIX_MAGIC && sock_path() && is_dev_apmatrix(fd))
		return apmatrix_ioctl(req, arg);
	if (_IOC_TYPE(req) != APSIM_KVMIO || !sock_path())
		return real_ioctl(fd, req, arg);
	if (req == APSIM_KVM_HAS_DEVICE_ATTR || req == APSIM_KVM_SET_DEVICE_ATTR ||
	    req == APSIM_KVM_GET_DEVICE_ATTR) {
		if (!is_sim_socket(fd))
			return real_ioctl(fd, req, arg);
		if (!arg) {
			errno = EFAULT;
			return -1;
		}
		return attr_ioctl(fd, req, arg);
	}
	if (!is_kvm_marker(fd)) {
		if (is_sim_socket(fd)) {
			errno = ENOTTY;	/* a VM ioctl the simulation does not have */
			return -1;
		}
		return real_ioctl(fd, req, arg);
	}
	switch (req) {
	case APSIM_KVM_GET_API_VERSION:
		return 12;
	case APSIM_KVM_CHECK_EXTENSION:
		return (unsigned long)arg == APSIM_KVM_CAP_VM_ATTRIBUTES ? 1 : 0;
	case APSIM_KVM_CREATE_VM:
		return create_vm((unsigned long)arg);
	default:
		errno = ENOTTY;
		return -1;
	}
}

/* ---- /dev/kvm and the mask files ------------------------------------------- */

static int sim_root(char *buf, size_t len)
{
	static char root[PATH_MAX];
	struct apsim_req q;
	struct apsim_reply *r;
	int rc;

	if (!root[0]) {
		memset(&q, 0, offsetof(struct apsim_req, data));
		q.op = APSIM_ROOT;
		r = sim_ask(&q, &rc);
		if (!rc)
			snprintf(root, sizeof(root), "%s", r->data);
		free(r);
		if (!root[0])
			return -ENODEV;
	}
	snprintf(buf, len, "%s", root);
	return 0;
}

/* DRV_FD + ... for bus/ap/drivers/DRIVER/bind|unbind of the tree, else 0 */
static int drv_file(int dirfd, const char *path)
{
	char dir[PATH_MAX], real[PATH_MAX], root[PATH_MAX], want[PATH_MAX + 64];
	const char *base = strrchr(path, '/');
	unsigned int i;
	int unbind;

	if (!base || (path[0] != '/' && dirfd != AT_FDCWD))
		return 0;
	if (!strcmp(base + 1, "bind"))
		unbind = 0;
	else if (!strcmp(base + 1, "unbind"))
		unbind = 1;
	else
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(base - path), path);
	if (!realpath(dir[0] ? dir : "/", real) || sim_root(root, sizeof(root)))
		return 0;
	for (i = 0; i < sizeof(drv_names) / sizeof(drv_names[0]); i++) {
		snprintf(want, sizeof(want), "%s/bus/ap/drivers/%s", root, drv_names[i]);
		if (!strcmp(real, want))
			return DRV_FD + 2 * (int)i + unbind;
	}
	return 0;
}

/* 1 apmask, 2 aqmask of the simulated tree, else 0 */
static int mask_file(int dirfd, const char *path)
{
	char dir[PATH_MAX], real[PATH_MAX], root[PATH_MAX], want[PATH_MAX + 16];
	const char *base = strrchr(path, '/');
	int which;

	base = base ? base + 1 : path;
	if (!strcmp(base, "apmask"))
		which = 1;
	else if (!strcmp(base, "aqmask"))
		which = 2;
	else
		return 0;
	if (path[0] != '/' && dirfd != AT_FDCWD) {
		char p[64];
		ssize_t n;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", dirfd);
		n = real_readlink(p, dir, sizeof(dir) - 1);
		if (n <= 0)
			return 0;
		dir[n] = '\0';
		snprintf(dir + n, sizeof(dir) - (size_t)n, "/%.*s", (int)(base - path), path);
	} else {
		snprintf(dir, sizeof(dir), "%.*s", (int)(base - path), path);
		if (!dir[0])
			strcpy(dir, ".");
	}
	if (!realpath(dir, real) || sim_root(root, sizeof(root)))
		return 0;
	snprintf(want, sizeof(want), "%s/bus/ap", root);
	return strcmp(real, want) ? 0 : which;
}

/* a read-only file with this text, as sysfs and procfs hand one out */
static int text_fd(const char *name, const char *text, size_t len, int flags)
{
	int fd = memfd_create(name, (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);

	if (fd < 0)
		return -1;
	if (real_write(fd, text, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET)) {
		real_close(fd);
		errno = EIO;
		return -1;
	}
	return fd;
}

/* what apsimd knows about a socket inode: 1 a VM, 2 a kernel file (info:
 * "NAME\0INO\0FDINFO"), 0 neither */
static int file_info(unsigned long long ino, char *info, size_t len)
{
	struct apsim_req q;
	struct apsim_reply *r;
	int rc, kind = 0;

	memset(&q, 0, offsetof(struct apsim_req, data));
	q.op = APSIM_FILE_INFO;
	q.arg1 = (int64_t)ino;
	r = sim_ask(&q, &rc);
	if (!rc) {
		kind = (int)r->val;
		if (info && len) {
			size_t n = r->len < len ? r->len : len;

			memcpy(info, r->data, n);
			info[len - 1] = '\0';
		}
	}
	free(r);
	return kind;
}

/*
 * /proc/PID/fdinfo/N of a grant: the kernel's lines. pos, flags and
 * mnt_id are the real ones of the fd, ino is the anon inode's, then
 * show_fdinfo()'s lines. -2: not such a file.
 */
static int fdinfo_open(const char *path, int flags)
{
	char who[32], fdp[96], info[4096], real[1024], out[6144], *name, *ino, *lines, *l, *e;
	unsigned int n;
	struct stat st;
	ssize_t len;
	size_t off = 0;
	int fd, c;

	if (sscanf(path, "/proc/%31[^/]/fdinfo/%u%n", who, &n, &c) != 2 || path[c])
		return -2;
	snprintf(fdp, sizeof(fdp), "/proc/%s/fd/%u", who, n);
	if (stat(fdp, &st) || !S_ISSOCK(st.st_mode) ||
	    file_info((unsigned long long)st.st_ino, info, sizeof(info)) != 2)
		return -2;
	name = info;
	ino = name + strlen(name) + 1;
	lines = ino + strlen(ino) + 1;
	fd = real_open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = read(fd, real, sizeof(real) - 1);
	real_close(fd);
	real[len > 0 ? len : 0] = '\0';
	for (l = real; *l; l = e) {
		e = strchr(l, '\n');
		e = e ? e + 1 : l + strlen(l);
		if (!strncmp(l, "pos:", 4) || !strncmp(l, "flags:", 6) || !strncmp(l, "mnt_id:", 7))
			off += (size_t)snprintf(out + off, sizeof(out) - off, "%.*s", (int)(e - l), l);
	}
	off += (size_t)snprintf(out + off, sizeof(out) - off, "ino:\t%s\n%s", ino, lines);
	if (off >= sizeof(out))
		off = sizeof(out) - 1;
	return text_fd("apsim-fdinfo", out, off, flags);
}

/* <root>/.../XX.YYYY/ATTR of a queue device: the driver's attribute now;
 * -2: not such a file */
static int queue_attr_open(int dirfd, const char *path, int flags)
{
	char dir[PATH_MAX], real[PATH_MAX], root[PATH_MAX];
	const char *base = strrchr(path, '/'), *q;
	struct apsim_req q_;
	struct apsim_reply *r;
	unsigned int a, d;
	int rc, fd, c;

	if (!base || strcmp(base + 1, "apmatrix_state") || (path[0] != '/' && dirfd != AT_FDCWD))
		return -2;
	snprintf(dir, sizeof(dir), "%.*s", (int)(base - path), path);
	if (!realpath(dir, real) || sim_root(root, sizeof(root)) ||
	    strncmp(real, root, strlen(root)) || real[strlen(root)] != '/')
		return -2;
	q = strrchr(real, '/') + 1;
	if (sscanf(q, "%2x.%4x%n", &a, &d, &c) != 2 || q[c] || a > 255 || d > 255)
		return -2;
	memset(&q_, 0, offsetof(struct apsim_req, data));
	q_.op = APSIM_QUEUE_ATTR;
	q_.arg0 = (int64_t)(a << 8 | d);
	q_.len = (uint32_t)strlen(base + 1) + 1;
	memcpy(q_.data, base + 1, q_.len);
	r = sim_ask(&q_, &rc);
	if (rc) {
		free(r);
		errno = rc == -ENOENT ? ENOENT : -rc;
		return -1;
	}
	if ((flags & O_ACCMODE) != O_RDONLY) {
		free(r);
		errno = EACCES;		/* a read-only attribute */
		return -1;
	}
	fd = text_fd("apsim-attr", r->data, strlen(r->data), flags);
	free(r);
	return fd;
}

static int open_common(int dirfd, const char *path, int flags, mode_t mode, bool at)
{
	char root[PATH_MAX], p[PATH_MAX + 16];
	int fd, which;

	init_real();
	if (path && sock_path()) {
		if (!strcmp(path, "/dev/kvm"))
			return memfd_create(KVM_MARKER_NAME, (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
		if (!strcmp(path, "/dev/apmatrix")) {
			/* the node's own mode and owner decide, as on a host */
			if (sim_root(root, sizeof(root))) {
				errno = ENOENT;
				return -1;
			}
			snprintf(p, sizeof(p), "%s/dev/apmatrix", root);
			return real_open(p, (flags & ~(O_CREAT | O_TRUNC)), 0);
		}
		if (!strncmp(path, "/proc/", 6) && strstr(path, "/fdinfo/")) {
			fd = fdinfo_open(path, flags);
			if (fd != -2)
				return fd;
		}
		fd = queue_attr_open(dirfd, path, flags);
		if (fd != -2)
			return fd;
		if ((flags & O_ACCMODE) != O_RDONLY &&
		    ((which = mask_file(dirfd, path)) || (which = drv_file(dirfd, path)))) {
			fd = memfd_create(which == 1 ? "apsim-apmask" : which == 2 ? "apsim-aqmask" :
					  "apsim-bind",
					  (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
			if (fd >= 0 && fd < MAX_TRACKED)
				__atomic_store_n(&mask_fd[fd], which, __ATOMIC_SEQ_CST);
			return fd;
		}
	}
	return at ? real_openat(dirfd, path, flags, mode) : real_open(path, flags, mode);
}

INTERPOSE_OPEN(open, open_common(AT_FDCWD, path, flags, mode, false))
INTERPOSE_OPEN(open64, open_common(AT_FDCWD, path, flags, mode, false))
INTERPOSE_OPENAT(openat, open_common(dirfd, path, flags, mode, true))
INTERPOSE_OPENAT(openat64, open_common(dirfd, path, flags, mode, true))

/* _FORTIFY_SOURCE entry points */
EXPORT int __open_2(const char *path, int flags)
{
	return open_common(AT_FDCWD, path, flags, 0, false);
}

EXPORT int __open64_2(const char *path, int flags)
{
	return open_common(AT_FDCWD, path, flags, 0, false);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return open_common(dirfd, path, flags, 0, true);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return open_common(dirfd, path, flags, 0, true);
}

/* glibc's fopen() opens without going through open(): the same files */
static FILE *fopen_common(const char *path, const char *mode, bool is64)
{
	int flags = O_RDONLY, fd;
	FILE *f;

	init_real();
	if (path && sock_path() && mode && mode[0] == 'r' && !strchr(mode, '+') &&
	    (!strcmp(path, "/dev/apmatrix") || !strncmp(path, "/proc/", 6) ||
	     strstr(path, "apmatrix_state"))) {
		if (strchr(mode, 'e'))
			flags |= O_CLOEXEC;
		fd = open_common(AT_FDCWD, path, flags, 0, false);
		if (fd < 0)
			return NULL;
		f = fdopen(fd, mode);
		if (!f)
			real_close(fd);
		return f;
	}
	return is64 ? real_fopen64(path, mode) : real_fopen(path, mode);
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
	return fopen_common(path, mode, false);
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return fopen_common(path, mode, true);
}

EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
	struct apsim_req q;
	struct apsim_reply *r;
	int which, rc;

	init_real();
	which = fd >= 0 && fd < MAX_TRACKED ? __atomic_load_n(&mask_fd[fd], __ATOMIC_SEQ_CST) : 0;
	if (!which)
		return real_write(fd, buf, count);
	/* one write is one sysfs store */
	if (count >= APSIM_DATA_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&q, 0, offsetof(struct apsim_req, data));
	if (which >= DRV_FD) {
		/* "XX.YYYY\n" to DRIVER/bind or unbind: a control command */
		const char *d = drv_names[(which - DRV_FD) / 2];
		int n = (int)count;

		while (n && (((const char *)buf)[n - 1] == '\n'))
			n--;
		if (n <= 0 || n > 16 || memchr(buf, ' ', (size_t)n)) {
			errno = ENODEV;
			return -1;
		}
		q.op = APSIM_CTL;
		if ((which - DRV_FD) % 2)
			snprintf(q.data, sizeof(q.data), "unbind %.*s %s", n, (const char *)buf, d);
		else
			snprintf(q.data, sizeof(q.data), "bind %.*s %s", n, (const char *)buf, d);
		q.len = (uint32_t)strlen(q.data) + 1;
	} else {
		q.op = APSIM_MASK_WRITE;
		q.arg0 = which - 1;
		q.len = (uint32_t)count;
		memcpy(q.data, buf, count);
		q.data[count] = '\0';
	}
	r = sim_ask(&q, &rc);
	free(r);
	if (rc) {
		errno = -rc;
		return -1;
	}
	return (ssize_t)count;
}

EXPORT int close(int fd)
{
	init_real();
	if (fd >= 0 && fd < MAX_TRACKED)
		__atomic_store_n(&mask_fd[fd], 0, __ATOMIC_SEQ_CST);
	return real_close(fd);
}

/* "socket:[INODE]" of a VM -> "anon_inode:kvm-vm"; the marker -> "/dev/kvm" */
static ssize_t fix_link(char *buf, size_t len, ssize_t n)
{
	char tmp[PATH_MAX], info[256], anon[300], root[PATH_MAX], dev[PATH_MAX + 16];
	unsigned long long ino;
	const char *repl = NULL;
	size_t l;
	int kind;

	if (n <= 0 || !sock_path() || (size_t)n >= sizeof(tmp))
		return n;
	memcpy(tmp, buf, (size_t)n);
	tmp[n] = '\0';
	if (!strcmp(tmp, KVM_MARKER_LINK)) {
		repl = "/dev/kvm";
	} else if (sscanf(tmp, "socket:[%llu]", &ino) == 1) {
		kind = file_info(ino, info, sizeof(info));
		if (kind == 1) {
			repl = "anon_inode:kvm-vm";
		} else if (kind == 2) {
			snprintf(anon, sizeof(anon), "anon_inode:%s", info);
			repl = anon;
		}
	} else if (!sim_root(root, sizeof(root))) {
		snprintf(dev, sizeof(dev), "%s/dev/apmatrix", root);
		if (!strcmp(tmp, dev))
			repl = "/dev/apmatrix";
	}
	if (!repl)
		return n;
	l = strlen(repl);
	if (l > len)
		l = len;
	memcpy(buf, repl, l);
	return (ssize_t)l;
}

EXPORT ssize_t readlink(const char *path, char *buf, size_t len)
{
	init_real();
	return fix_link(buf, len, real_readlink(path, buf, len));
}

EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	init_real();
	return fix_link(buf, len, real_readlinkat(dirfd, path, buf, len));
}
