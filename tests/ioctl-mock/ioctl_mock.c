// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ioctl-mock: an LD_PRELOAD shim that plays a KVM VM for libapmatrix's
 * tests (the way libnvme's test/ioctl mocks the kernel).
 *
 * The fake VM is any memfd named "apmatrix-fake-vm" (memfd_create()),
 * however it reached the process (created there, inherited, or taken
 * with pidfd_getfd()). For such an fd:
 *   - readlink()/readlinkat() of /proc/PID/fd/N answer "anon_inode:kvm-vm",
 *     as for a real VM fd, so apmatrix_vm_open_pid() finds it;
 *   - ioctl() checks each call against a script and answers as scripted.
 * Every other fd and path goes to the real functions.
 * APMATRIX_MOCK_REPLACE_FD (see maybe_replace()) plays a VMM racing a look
 * at its fds; APMATRIX_MOCK_PID_REUSE (see reuse_path()) a VMM that exits
 * during that look, its PID given to another process.
 *
 * Grants: any file named "apmatrix-fake-dev" (point APMATRIX_GRANT_DEVICE
 * at one) is /dev/apmatrix. APMATRIX_CREATE_GRANT on it is checked against
 * the script's "grant" line and, on 0, returns a new fd: a memfd named
 * "apmatrix-fake-grant" holding the lines the kernel shows in fdinfo
 * ("apm:\t0x...", "aqm:", "adm:"). An open() of /proc/self/fdinfo/N (or
 * /proc/<own pid>/fdinfo/N) of such an fd gives fdinfo text with those
 * lines. A SET with the GRANT flag must carry such an fd in grant_fd (and
 * one without it grant_fd 0); anything else is a mismatch.
 *
 * The script is the file named by APMATRIX_IOCTL_SCRIPT, one expected call
 * per line, in order (blank lines and lines starting with # are skipped);
 * it is read again from its first line when it is rewritten:
 *
 *   set <flags> <matrix> -> <result>     KVM_SET_DEVICE_ATTR, SET_AP_MATRIX
 *   get -> <result> [<matrix>]           KVM_GET_DEVICE_ATTR; matrix returned on 0
 *   has -> <result>                      KVM_HAS_DEVICE_ATTR, SET_AP_MATRIX
 *   apie -> <result>                     KVM_SET_DEVICE_ATTR, ENABLE_APIE
 *   grant <matrix> -> <result>           APMATRIX_CREATE_GRANT on the fake
 *                                        /dev/apmatrix (below)
 *   model <matrix> -> <errno>            the kernel as a model, not a call:
 *                                        a run of these lines answers any
 *                                        number of VALIDATE_ONLY sets (none
 *                                        too), each with the errno of the
 *                                        first line whose usage APQNs it
 *                                        asks for any of, else 0 (order them
 *                                        as the kernel's rules: EADDRNOTAVAIL,
 *                                        EADDRINUSE, EBUSY); any other call
 *                                        goes on past the run
 *
 *   <flags>   a number (decimal or 0x), or words joined by ',':
 *             validate, reset, grant; * matches any
 *   <matrix>  - (empty), or fields joined by '/': lszcrypt APQN text
 *             (05-06.0004,05-06.0007) for the usage part, a=<ids>,
 *             d=<ids>, c=<ids> for adapters, usage domains, control
 *             domains alone (05,07-09, hex); * matches any
 *   <result>  0, an errno name (EBUSY, EADDRINUSE, ...) or number
 *
 * A call that does not match the next line (or comes after the last one)
 * is reported on stderr, "ioctl-mock: SCRIPT:LINE: expected '...', got
 * '...'", and fails with EPROTO. A process that made fake-VM calls exits
 * with status 99 if any call mismatched or a scripted call was not made.
 * When APMATRIX_IOCTL_LOG names a file, every fake-VM call is appended to
 * it as "<op> <flags> <matrix> -> <result>" in the script's own syntax.
 * Without APMATRIX_IOCTL_SCRIPT the fake VM answers ENOTTY, like a
 * non-KVM file.
 */
/* define open and open64 both, not one redirected onto the other */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apmatrix.h"
#include "interpose.h"
#include "kvm-abi.h"

#define FAKE_LINK	"/memfd:apmatrix-fake-vm"
#define KVM_VM_LINK	"anon_inode:kvm-vm"
#define ANY_FLAGS	(~0U)

struct expect {
	char op[8];
	unsigned int flags;		/* ANY_FLAGS: any */
	bool any_matrix;
	struct apmatrix_matrix *m;
	int result;			/* errno, 0 */
	struct apmatrix_matrix *out;	/* get: returned */
	char *text;
	int line;
};

static struct {
	char *path;
	struct stat st;		/* of the script when loaded */
	struct expect *v;
	unsigned int n, pos;
	bool used;
	unsigned int failures;
} S;

typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef ssize_t (*readlink_fn)(const char *, char *, size_t);
typedef ssize_t (*readlinkat_fn)(int, const char *, char *, size_t);

#define real(type, name) INTERPOSE_NEXT("ioctl-mock", type, name)

static ssize_t real_readlink(const char *path, char *buf, size_t len)
{
	return real(readlink_fn, "readlink")(path, buf, len);
}

static ssize_t real_readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	return real(readlinkat_fn, "readlinkat")(dirfd, path, buf, len);
}

static bool is_fake_target(const char *buf, ssize_t n)
{
	size_t l = strlen(FAKE_LINK);

	return n >= (ssize_t)l && !memcmp(buf, FAKE_LINK, l);
}

static ssize_t as_vm(char *buf, size_t len, ssize_t n)
{
	size_t l = strlen(KVM_VM_LINK);

	if (!is_fake_target(buf, n))
		return n;
	if (l > len)
		l = len;
	memcpy(buf, KVM_VM_LINK, l);
	return l;
}

/*
 * APMATRIX_MOCK_REPLACE_FD=N: right after /proc/<own pid>/fd/N was looked
 * at (once), put another file at fd N (a memfd named apmatrix-not-a-vm): the race of a VMM that closes its VM
 * fd and opens another file there between a look and pidfd_getfd().
 */
static void maybe_replace(const char *path)
{
	const char *spec = getenv("APMATRIX_MOCK_REPLACE_FD");
	static bool done;
	char want[64];
	int nul;

	if (!spec || done)
		return;
	snprintf(want, sizeof(want), "/proc/%d/fd/%s", (int)getpid(), spec);
	if (strcmp(path, want))
		return;
	done = true;
	/* a memfd, not /dev/null: qemu-user would show its sysroot's path */
	nul = memfd_create("apmatrix-not-a-vm", MFD_CLOEXEC);
	if (nul < 0 || dup2(nul, atoi(spec)) < 0)
		abort();
	close(nul);
}

/*
 * APMATRIX_MOCK_PID_REUSE=OLD:NEW plays a PID reused under a look at
 * /proc: at the first open() or readlink() of a path under /proc/OLD/,
 * the process OLD (a child of the caller) is killed and reaped, and from
 * then on OLD names the process NEW, as if NEW had been given OLD's PID:
 * /proc/OLD/... paths read /proc/NEW/..., and pidfd_open(OLD) opens NEW.
 */
static struct {
	bool reused;		/* old was reaped */
	int old, new;
} R;

/* read the variable at each call: a test sets it after the first open() */
static void reuse_parse(void)
{
	const char *spec = getenv("APMATRIX_MOCK_PID_REUSE");
	int old = 0, new = 0;

	if (spec && sscanf(spec, "%d:%d", &old, &new) != 2)
		abort();
	if (old != R.old || new != R.new)
		R.reused = false;
	R.old = old;
	R.new = new;
}

/* path, or its /proc/NEW twin in buf once OLD was "reused" */
static const char *reuse_path(const char *path, char *buf, size_t len)
{
	char pre[32];
	size_t n;

	reuse_parse();
	if (!R.old)
		return path;
	n = snprintf(pre, sizeof(pre), "/proc/%d", R.old);
	if (strncmp(path, pre, n) || (path[n] && path[n] != '/'))
		return path;
	if (!R.reused) {
		R.reused = true;
		if (kill(R.old, SIGKILL) || waitpid(R.old, NULL, 0) != R.old)
			abort();
	}
	snprintf(buf, len, "/proc/%d%s", R.new, path + n);
	return buf;
}

long syscall(long nr, ...)
{
	typedef long (*syscall_fn)(long, ...);
	long a[6];
	va_list ap;
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	reuse_parse();
	if (nr == SYS_pidfd_open && R.reused && a[0] == R.old)
		a[0] = R.new;
	return real(syscall_fn, "syscall")(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

ssize_t readlink(const char *path, char *buf, size_t len)
{
	char twin[PATH_MAX];
	ssize_t n;

	path = reuse_path(path, twin, sizeof(twin));
	n = as_vm(buf, len, real_readlink(path, buf, len));

	maybe_replace(path);
	return n;
}

ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	char twin[PATH_MAX];
	ssize_t n;

	if (dirfd == AT_FDCWD)
		path = reuse_path(path, twin, sizeof(twin));
	n = as_vm(buf, len, real_readlinkat(dirfd, path, buf, len));

	if (dirfd == AT_FDCWD)
		maybe_replace(path);
	return n;
}

/* what _FORTIFY_SOURCE builds call instead */
ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		abort();
	return readlink(path, buf, len);
}

ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len,
			 size_t buflen)
{
	if (len > buflen)
		abort();
	return readlinkat(dirfd, path, buf, len);
}

static bool is_fake_fd(int fd)
{
	char path[64], buf[256];
	ssize_t n;

	if (fd < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = real_readlink(path, buf, sizeof(buf));
	return is_fake_target(buf, n);
}

/* ------------------------------------------------------------------------ */
/* the script */

static __attribute__((noreturn, format(printf, 2, 3)))
void script_error(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ioctl-mock: %s:%d: ", S.path ? S.path : "?", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(98);
}

static bool parse_result(const char *tok, int *err)
{
	char *end;
	long v;

	*err = interpose_errno(tok);
	if (*err)
		return true;
	v = strtol(tok, &end, 0);
	if (*end || v < 0 || v > 4095)
		return false;
	*err = v;
	return true;
}

static bool parse_flags(const char *tok, unsigned int *flags)
{
	char *copy, *w, *save = NULL, *end;
	bool ok = true;

	if (!strcmp(tok, "*")) {
		*flags = ANY_FLAGS;
		return true;
	}
	if (*tok >= '0' && *tok <= '9') {
		*flags = strtoul(tok, &end, 0);
		return !*end && *flags != ANY_FLAGS;
	}
	*flags = 0;
	copy = strdup(tok);
	for (w = strtok_r(copy, ",", &save); w && ok; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "validate"))
			*flags |= KVM_S390_AP_MATRIX_VALIDATE_ONLY;
		else if (!strcmp(w, "reset"))
			*flags |= KVM_S390_AP_MATRIX_RESET;
		else if (!strcmp(w, "grant"))
			*flags |= KVM_S390_AP_MATRIX_GRANT;
		else
			ok = false;
	}
	free(copy);
	return ok;
}

static void or_into(struct apmatrix_matrix *m, const struct apmatrix_matrix *f)
{
	unsigned int p, id;

	for (p = APMATRIX_ADAPTERS; p <= APMATRIX_CONTROL_DOMAINS; p++)
		for (id = 0; id <= APMATRIX_MAX_ID; id++)
			if (apmatrix_matrix_test(f, p, id))
				apmatrix_matrix_set(m, p, id, true);
}

static struct apmatrix_matrix *parse_matrix(int line, const char *tok)
{
	struct apmatrix_matrix *m = apmatrix_matrix_new();
	struct apmatrix_matrix *f = apmatrix_matrix_new();
	struct apmatrix_ctx *ctx = apmatrix_ctx_new();
	char *copy = strdup(tok), *field, *save = NULL;
	int rc = 0;

	if (!m || !f || !ctx || !copy)
		script_error(line, "out of memory");
	if (strcmp(tok, "-")) {
		for (field = strtok_r(copy, "/", &save); field && !rc;
		     field = strtok_r(NULL, "/", &save)) {
			apmatrix_matrix_clear(f);
			if (field[0] && field[1] == '=') {
				enum apmatrix_part part =
					field[0] == 'a' ? APMATRIX_ADAPTERS :
					field[0] == 'd' ? APMATRIX_DOMAINS :
					field[0] == 'c' ? APMATRIX_CONTROL_DOMAINS : 99;

				if (part == 99)
					script_error(line, "bad matrix field '%s' (a=, d=, c=)", field);
				rc = apmatrix_matrix_parse_ids(ctx, f, part, field + 2);
			} else {
				rc = apmatrix_matrix_parse_apqns(ctx, f, field, NULL);
			}
			or_into(m, f);
		}
	}
	if (rc)
		script_error(line, "bad matrix '%s': %s", tok, apmatrix_ctx_last_error(ctx));
	free(copy);
	apmatrix_matrix_free(f);
	apmatrix_ctx_free(ctx);
	return m;
}

static void free_script(void)
{
	unsigned int i;

	for (i = 0; i < S.n; i++) {
		apmatrix_matrix_free(S.v[i].m);
		apmatrix_matrix_free(S.v[i].out);
		free(S.v[i].text);
	}
	free(S.v);
	free(S.path);
	memset(&S, 0, sizeof(S));
}

static void parse_line(struct expect *e, char *text, int line)
{
	char *tok[8], *save = NULL, *p;
	unsigned int n = 0, arrow;

	e->text = strdup(text);
	e->line = line;
	for (p = strtok_r(text, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		if (n == 8)
			script_error(line, "too many words");
		tok[n++] = p;
	}
	for (arrow = 0; arrow < n && strcmp(tok[arrow], "->"); arrow++)
		;
	if (arrow == n || arrow + 1 == n)
		script_error(line, "no '-> <result>'");
	if (strlen(tok[0]) >= sizeof(e->op))
		script_error(line, "unknown call '%s' (set, get, has, apie, grant, model)", tok[0]);
	strcpy(e->op, tok[0]);
	if (!parse_result(tok[arrow + 1], &e->result))
		script_error(line, "bad result '%s' (0, an errno name or number)",
			     tok[arrow + 1]);
	if (!strcmp(e->op, "set")) {
		if (arrow != 3 || n != 5)
			script_error(line, "want: set <flags> <matrix> -> <result>");
		if (!parse_flags(tok[1], &e->flags))
			script_error(line, "bad flags '%s'", tok[1]);
		e->any_matrix = !strcmp(tok[2], "*");
		if (!e->any_matrix)
			e->m = parse_matrix(line, tok[2]);
	} else if (!strcmp(e->op, "get")) {
		if (arrow != 1 || n > 4 || (n == 4 && e->result))
			script_error(line, "want: get -> 0 <matrix>, or get -> <errno>");
		e->out = parse_matrix(line, n == 4 ? tok[3] : "-");
	} else if (!strcmp(e->op, "grant")) {
		if (arrow != 2 || n != 4)
			script_error(line, "want: grant <matrix> -> <result>");
		e->any_matrix = !strcmp(tok[1], "*");
		if (!e->any_matrix)
			e->m = parse_matrix(line, tok[1]);
	} else if (!strcmp(e->op, "model")) {
		if (arrow != 2 || n != 4 || !e->result)
			script_error(line, "want: model <matrix> -> <errno>");
		e->m = parse_matrix(line, tok[1]);
	} else if (!strcmp(e->op, "has") || !strcmp(e->op, "apie")) {
		if (arrow != 1 || n != 3)
			script_error(line, "want: %s -> <result>", e->op);
	} else {
		script_error(line, "unknown call '%s' (set, get, has, apie, grant, model)", e->op);
	}
}

static void load_script(const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	FILE *f;

	free_script();
	S.path = strdup(path);
	f = fopen(path, "re");
	if (!f || fstat(fileno(f), &S.st))
		script_error(0, "cannot open: %s", strerror(errno));
	while (getline(&line, &cap, f) >= 0) {
		char *p = line;
		struct expect *v;

		lineno++;
		p[strcspn(p, "\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		v = realloc(S.v, (S.n + 1) * sizeof(*v));
		if (!v)
			script_error(lineno, "out of memory");
		S.v = v;
		memset(&S.v[S.n], 0, sizeof(S.v[S.n]));
		parse_line(&S.v[S.n], p, lineno);
		S.n++;
	}
	free(line);
	fclose(f);
}

/* the matrix in the script's syntax */
static void matrix_text(const struct apmatrix_matrix *m, char *buf, size_t len)
{
	size_t n = 0;
	int na = apmatrix_matrix_count(m, APMATRIX_ADAPTERS);
	int nd = apmatrix_matrix_count(m, APMATRIX_DOMAINS);

	buf[0] = '\0';
	if (na && nd) {
		apmatrix_matrix_format_apqns(m, buf, len);
	} else {
		if (na) {
			n = strlen(buf);
			snprintf(buf + n, len - n, "a=");
			n = strlen(buf);
			apmatrix_matrix_format_ids(m, APMATRIX_ADAPTERS, buf + n, len - n);
		}
		if (nd) {
			n = strlen(buf);
			snprintf(buf + n, len - n, "%sd=", n ? "/" : "");
			n = strlen(buf);
			apmatrix_matrix_format_ids(m, APMATRIX_DOMAINS, buf + n, len - n);
		}
	}
	if (apmatrix_matrix_count(m, APMATRIX_CONTROL_DOMAINS)) {
		n = strlen(buf);
		snprintf(buf + n, len - n, "%sc=", n ? "/" : "");
		n = strlen(buf);
		apmatrix_matrix_format_ids(m, APMATRIX_CONTROL_DOMAINS, buf + n, len - n);
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

static void log_call(const char *desc, int result)
{
	const char *path = getenv("APMATRIX_IOCTL_LOG");
	const char *name = interpose_errno_name(result);
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "ae");
	if (!f)
		return;
	if (!result)
		fprintf(f, "%s -> 0\n", desc);
	else if (name)
		fprintf(f, "%s -> %s\n", desc, name);
	else
		fprintf(f, "%s -> %d\n", desc, result);
	fclose(f);
}

static int mismatch(const struct expect *e, const char *got)
{
	if (e)
		fprintf(stderr, "ioctl-mock: %s:%d: expected '%s', got '%s'\n", S.path,
			e->line, e->text, got);
	else
		fprintf(stderr, "ioctl-mock: %s: unexpected call '%s' after the last line\n",
			S.path, got);
	S.failures++;
	log_call(got, EPROTO);
	errno = EPROTO;
	return -1;
}

/* the script file was rewritten since it was loaded: start it afresh */
static bool changed(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return true;
	return st.st_ino != S.st.st_ino || st.st_dev != S.st.st_dev ||
	       st.st_size != S.st.st_size ||
	       st.st_mtim.tv_sec != S.st.st_mtim.tv_sec ||
	       st.st_mtim.tv_nsec != S.st.st_mtim.tv_nsec;
}

static bool is_model(unsigned int pos)
{
	return pos < S.n && !strcmp(S.v[pos].op, "model");
}

/* whether m and f share an ID of part p */
static bool share(const struct apmatrix_matrix *m, const struct apmatrix_matrix *f,
		  enum apmatrix_part p)
{
	unsigned int id;

	for (id = 0; id <= APMATRIX_MAX_ID; id++)
		if (apmatrix_matrix_test(f, p, id) && apmatrix_matrix_test(m, p, id))
			return true;
	return false;
}

/* the answer of the run of model lines at S.pos to a probe of m */
static int model_answer(const struct apmatrix_matrix *m)
{
	unsigned int i;

	for (i = S.pos; is_model(i); i++)
		if (share(m, S.v[i].m, APMATRIX_ADAPTERS) && share(m, S.v[i].m, APMATRIX_DOMAINS))
			return S.v[i].result;
	return 0;
}

static bool is_fake_grant(int fd);

/*
 * The script for a fake-VM call, read again when it is a new one or was
 * rewritten. false (errno ENOTTY, as from a file that is no VM) without
 * APMATRIX_IOCTL_SCRIPT.
 */
static bool use_script(void)
{
	const char *path = getenv("APMATRIX_IOCTL_SCRIPT");

	if (!path || !*path) {
		errno = ENOTTY;
		return false;
	}
	if (!S.path || strcmp(S.path, path) || changed(path))
		load_script(path);
	S.used = true;
	return true;
}

static int fake_ioctl(unsigned long req, void *arg)
{
	struct apmatrix_kvm_device_attr *da = arg;
	struct apmatrix_matrix *m = NULL;
	unsigned int flags = 0, i;
	struct kvm_s390_ap_matrix k;
	char desc[1200], mt[1100];
	const char *op = NULL;
	struct expect *e;
	int rc;

	if (!use_script())
		return -1;

	if (!da || da->group != KVM_S390_VM_CRYPTO) {
		snprintf(desc, sizeof(desc), "ioctl 0x%lx group %u", req,
			 da ? da->group : 0);
	} else if (req == APMATRIX_KVM_SET_DEVICE_ATTR &&
		   da->attr == KVM_S390_VM_CRYPTO_ENABLE_APIE) {
		op = "apie";
	} else if (da->attr != KVM_S390_VM_CRYPTO_SET_AP_MATRIX) {
		snprintf(desc, sizeof(desc), "ioctl 0x%lx attr %llu", req,
			 (unsigned long long)da->attr);
	} else if (req == APMATRIX_KVM_HAS_DEVICE_ATTR) {
		op = "has";
	} else if (req == APMATRIX_KVM_GET_DEVICE_ATTR) {
		op = "get";
	} else if (req == APMATRIX_KVM_SET_DEVICE_ATTR) {
		op = "set";
		memcpy(&k, (void *)(uintptr_t)da->addr, sizeof(k));
		flags = k.flags;
		m = apmatrix_matrix_new();
		for (i = 0; i < sizeof(k.reserved) / sizeof(k.reserved[0]); i++)
			if (k.reserved[i])
				break;
		if (!m || i < sizeof(k.reserved) / sizeof(k.reserved[0]) ||
		    apmatrix_matrix_from_kvm(m, &k, sizeof(k))) {
			apmatrix_matrix_free(m);
			return mismatch(S.pos < S.n ? &S.v[S.pos++] : NULL,
					"set with non-zero reserved words");
		}
		if ((flags & KVM_S390_AP_MATRIX_GRANT) ? !is_fake_grant(k.grant_fd) :
		    k.grant_fd != 0) {
			snprintf(desc, sizeof(desc), "set with flags %u and grant_fd %d (%s)",
				 flags, k.grant_fd,
				 (flags & KVM_S390_AP_MATRIX_GRANT) ? "no grant" :
				 "grant_fd without the GRANT flag");
			apmatrix_matrix_free(m);
			return mismatch(S.pos < S.n ? &S.v[S.pos++] : NULL, desc);
		}
		matrix_text(m, mt, sizeof(mt));
		snprintf(desc, sizeof(desc), "set %u %s", flags, mt);
	} else {
		snprintf(desc, sizeof(desc), "ioctl 0x%lx", req);
	}
	if (op && strcmp(op, "set"))
		snprintf(desc, sizeof(desc), "%s", op);
	if (!op)
		return mismatch(S.pos < S.n ? &S.v[S.pos++] : NULL, desc);
	if (is_model(S.pos)) {
		if (m && (flags & KVM_S390_AP_MATRIX_VALIDATE_ONLY)) {
			rc = model_answer(m);
			apmatrix_matrix_free(m);
			log_call(desc, rc);
			if (!rc)
				return 0;
			errno = rc;
			return -1;
		}
		while (is_model(S.pos))
			S.pos++;
	}
	if (S.pos >= S.n) {
		apmatrix_matrix_free(m);
		return mismatch(NULL, desc);
	}
	e = &S.v[S.pos++];
	rc = strcmp(e->op, op) ||
	     (m && e->flags != ANY_FLAGS && e->flags != flags) ||
	     (m && !e->any_matrix && !apmatrix_matrix_equal(e->m, m));
	apmatrix_matrix_free(m);
	if (rc)
		return mismatch(e, desc);
	if (e->result) {
		log_call(desc, e->result);
		errno = e->result;
		return -1;
	}
	if (!strcmp(op, "get"))
		apmatrix_matrix_to_kvm(e->out, 0, (void *)(uintptr_t)da->addr,
				       sizeof(struct kvm_s390_ap_matrix));
	log_call(desc, 0);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* the fake /dev/apmatrix and its grants */

#define FAKE_DEV_NAME	"/apmatrix-fake-dev"
#define FAKE_GRANT_NAME	"apmatrix-fake-grant"
#define FAKE_GRANT_LINK	"/memfd:" FAKE_GRANT_NAME

static bool link_of(int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	if (fd < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = real_readlink(path, buf, len - 1);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

static bool is_fake_dev(int fd)
{
	char buf[4096];
	size_t l = strlen(FAKE_DEV_NAME), n;

	if (!link_of(fd, buf, sizeof(buf)))
		return false;
	n = strlen(buf);
	return n >= l && !strcmp(buf + n - l, FAKE_DEV_NAME);
}

static bool is_fake_grant(int fd)
{
	char buf[256];

	return link_of(fd, buf, sizeof(buf)) &&
	       !strncmp(buf, FAKE_GRANT_LINK, strlen(FAKE_GRANT_LINK));
}

static int fake_create_grant(struct apmatrix_grant_abi *req)
{
	struct kvm_s390_ap_matrix k;
	struct apmatrix_matrix *m;
	char desc[1200], mt[1100], text[256], mask[68];
	struct expect *e;
	unsigned int p, w;
	int fd, rc, len = 0;

	if (!use_script())
		return -1;
	memset(&k, 0, sizeof(k));
	for (w = 0; w < 4; w++) {
		k.apm[w] = req->mask[0][w];
		k.aqm[w] = req->mask[1][w];
		k.adm[w] = req->mask[2][w];
	}
	m = apmatrix_matrix_new();
	if (!m || apmatrix_matrix_from_kvm(m, &k, sizeof(k)))
		abort();
	matrix_text(m, mt, sizeof(mt));
	snprintf(desc, sizeof(desc), "grant %s", mt);
	if (req->flags) {
		apmatrix_matrix_free(m);
		return mismatch(S.pos < S.n ? &S.v[S.pos++] : NULL, "grant with flags");
	}
	if (S.pos >= S.n) {
		apmatrix_matrix_free(m);
		return mismatch(NULL, desc);
	}
	e = &S.v[S.pos++];
	rc = strcmp(e->op, "grant") || (!e->any_matrix && !apmatrix_matrix_equal(e->m, m));
	if (rc) {
		apmatrix_matrix_free(m);
		return mismatch(e, desc);
	}
	log_call(desc, e->result);
	if (e->result) {
		apmatrix_matrix_free(m);
		errno = e->result;
		return -1;
	}
	for (p = 0; p < 3; p++) {
		apmatrix_matrix_format_mask(m, p, mask, sizeof(mask));
		len += snprintf(text + len, sizeof(text) - len, "%s:\t%s\n",
				p == 0 ? "apm" : p == 1 ? "aqm" : "adm", mask);
	}
	apmatrix_matrix_free(m);
	fd = memfd_create(FAKE_GRANT_NAME, MFD_CLOEXEC);
	if (fd < 0 || write(fd, text, len) != len)
		abort();
	return fd;
}

/* "/proc/self/fdinfo/N" or "/proc/<own pid>/fdinfo/N": N, else -1 */
static int fdinfo_fd(const char *path)
{
	char self[32];
	const char *rest;
	char *end;
	long n;

	snprintf(self, sizeof(self), "/proc/%d/fdinfo/", (int)getpid());
	if (!strncmp(path, "/proc/self/fdinfo/", 18))
		rest = path + 18;
	else if (!strncmp(path, self, strlen(self)))
		rest = path + strlen(self);
	else
		return -1;
	n = strtol(rest, &end, 10);
	return *rest && !*end && n >= 0 && n < 1 << 20 ? (int)n : -1;
}

typedef int (*open_fn)(const char *, int, ...);

/* fdinfo of a fake grant: what the kernel shows, grant lines included */
static int open_fdinfo(open_fn fn, const char *path, int flags, mode_t mode)
{
	static const char head[] = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1\n";
	char body[512], twin[PATH_MAX];
	ssize_t len;
	int n, fd;

	path = reuse_path(path, twin, sizeof(twin));
	n = fdinfo_fd(path);

	if (n >= 0 && is_fake_grant(n)) {
		len = pread(n, body, sizeof(body), 0);
		fd = memfd_create("apmatrix-fake-fdinfo", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
		if (len < 0 || fd < 0 || write(fd, head, sizeof(head) - 1) != sizeof(head) - 1 ||
		    write(fd, body, len) != len || lseek(fd, 0, SEEK_SET))
			abort();
		return fd;
	}
	return fn(path, flags, mode);
}

INTERPOSE_OPEN(open, open_fdinfo(real(open_fn, "open"), path, flags, mode))
INTERPOSE_OPEN(open64, open_fdinfo(real(open_fn, "open64"), path, flags, mode))

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (is_fake_fd(fd))
		return fake_ioctl(req, arg);
	if (req == APMATRIX_ABI_CREATE_GRANT && is_fake_dev(fd))
		return fake_create_grant(arg);
	return real(ioctl_fn, "ioctl")(fd, req, arg);
}

static __attribute__((destructor)) void check_done(void)
{
	unsigned int i;
	bool bad;

	if (!S.used)
		return;
	/* a run of model lines at the end need not answer anything */
	i = S.pos;
	while (is_model(i))
		i++;
	if (i == S.n)
		S.pos = i;
	bad = S.failures || S.pos < S.n;
	if (S.pos < S.n)
		fprintf(stderr,
			"ioctl-mock: %s: %u scripted call(s) not made, first: line %d '%s'\n",
			S.path, S.n - S.pos, S.v[S.pos].line, S.v[S.pos].text);
	free_script();
	if (bad)
		_exit(99);
}
