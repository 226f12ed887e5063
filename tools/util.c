// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * apmatrix-ctl: helpers every command uses - messages, numbers, the
 * matrix from the command line, the VM and grant the options name.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "ctl.h"

void errmsg(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "EBUSY" (the library's vocabulary), or "errno 123" (buf is the space). */
const char *errname(int err, char *buf, size_t len)
{
	const char *n = apmatrix_rule_name(err);

	if (n)
		return n;
	snprintf(buf, len, "errno %d", err < 0 ? -err : err);
	return buf;
}

/* The context's last message, or a fallback built from err. */
const char *ctx_msg(struct cli *cli, int err, char *buf, size_t len)
{
	const char *m = cli->ctx ? apmatrix_ctx_last_error(cli->ctx) : "";

	if (m && *m)
		return m;
	snprintf(buf, len, "%s (%s)", strerror(-err), ERRNAME(err));
	return buf;
}

/* Report a getopt error: ret is ':' (missing argument) or '?'. */
void option_error(const char *cmd, int ret, char **argv)
{
	const char *where = cmd ? cmd : "";
	const char *sep = cmd ? ": " : "";
	const char *opt = argv[optind - 1];
	char shortopt[3] = { '-', (char)optopt, 0 };

	/*
	 * An unknown short option (optopt set) is that letter, wherever it
	 * was: getopt has not moved past its argv element yet, so
	 * argv[optind - 1] may be the option before ("-x05.0004" after
	 * "--json"). A missing argument ends its element: that element
	 * names it, unless it is a short one in a cluster.
	 */
	if (ret == '?' && optopt)
		opt = shortopt;
	else if (ret == ':' && optopt && optopt < 0x100 && strncmp(opt, "--", 2) != 0)
		opt = shortopt;
	if (ret == ':')
		errmsg("%s%soption '%s' needs an argument", where, sep, opt);
	else
		errmsg("%s%sunknown option '%s' (see '" PROG "%s%s --help')",
		       where, sep, opt, cmd ? " " : "", where);
}

bool parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!*s || *s == '+' || *s == '-' || *s == ' ')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

void queue_attr_line(const char *sysfs_root, unsigned int apid, unsigned int apqi,
		     const char *attr, char *buf, size_t len)
{
	char *path = NULL;
	FILE *f;

	buf[0] = '\0';
	if (asprintf(&path, "%s/bus/ap/devices/%02x.%04x/%s", sysfs_root, apid, apqi,
		     attr) < 0)
		return;
	f = fopen(path, "re");
	free(path);
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/* Only blanks (or nothing): text that names no APQN at all. */
bool blank(const char *s)
{
	return !s[strspn(s, " \t\n")];
}

/*
 * Text from sysfs (a card type, a driver's name) for a terminal: bytes
 * outside printable ASCII are written as \xNN, so a hostile value cannot
 * move the cursor or rewrite the screen. Returns a heap string (NULL: no
 * memory).
 */
char *printable(const char *s)
{
	char *out = malloc(strlen(s) * 4 + 1), *p = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			p += sprintf(p, "\\x%02x", c);
		else
			*p++ = (char)c;
	}
	*p = '\0';
	return out;
}

void json_add(struct json_object *obj, const char *key,
		     struct json_object *val)
{
	json_object_object_add(obj, key, val);
}

int print_json(struct json_object *root)
{
	const char *s;

	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
					   JSON_C_TO_STRING_SPACED |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s) {
		errmsg("cannot format JSON: out of memory");
		return RC_HOST;
	}
	puts(s);
	return RC_OK;
}

/*
 * Build the matrix the arguments describe: APQN text or --adapters and
 * --domains for the usage part, --control-domains for the control part.
 * Returns RC_OK or RC_USAGE (message printed). *usage_given says whether a
 * usage part was named at all.
 */
int args_matrix(struct cli *cli, const struct args *a,
		       struct apmatrix_matrix *m, bool *usage_given)
{
	struct apmatrix_ctx *ctx = cli->ctx;
	struct apmatrix_apqns *missing;
	int err;

	*usage_given = false;
	if (a->apqns && (a->adapters || a->domains)) {
		errmsg("%s: give APQNS or --adapters/--domains, not both",
		       cli->cmd);
		return RC_USAGE;
	}
	if (a->adapters && !a->domains) {
		errmsg("%s: --adapters needs --domains", cli->cmd);
		return RC_USAGE;
	}
	if (a->domains && !a->adapters) {
		errmsg("%s: --domains needs --adapters", cli->cmd);
		return RC_USAGE;
	}
	if (a->apqns) {
		missing = apmatrix_apqns_new();
		if (!missing) {
			errmsg("out of memory");
			return RC_HOST;
		}
		err = apmatrix_matrix_parse_apqns(ctx, m, a->apqns, missing);
		apmatrix_apqns_free(missing);
		if (err < 0) {
			errmsg("%s", CTX_MSG(cli, err));
			return RC_USAGE;
		}
		*usage_given = true;
	} else if (a->adapters) {
		if (blank(a->adapters) || blank(a->domains)) {
			errmsg("%s: empty %s '%s'%s", cli->cmd,
			       blank(a->adapters) ? "--adapters" : "--domains",
			       blank(a->adapters) ? a->adapters : a->domains,
			       !strcmp(cli->cmd, "set") ?
			       " (to take every queue from the VM, use clear)" : "");
			return RC_USAGE;
		}
		err = apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS,
						a->adapters);
		if (err < 0) {
			errmsg("--adapters: %s", CTX_MSG(cli, err));
			return RC_USAGE;
		}
		err = apmatrix_matrix_parse_ids(ctx, m, APMATRIX_DOMAINS,
						a->domains);
		if (err < 0) {
			errmsg("--domains: %s", CTX_MSG(cli, err));
			return RC_USAGE;
		}
		*usage_given = true;
	}
	if (a->control) {
		err = apmatrix_matrix_parse_ids(ctx, m,
						APMATRIX_CONTROL_DOMAINS,
						a->control);
		if (err < 0) {
			errmsg("--control-domains: %s", CTX_MSG(cli, err));
			return RC_USAGE;
		}
	}
	return RC_OK;
}

int vm_exit_code(int err)
{
	switch (-err) {
	case ENXIO:
	case EOPNOTSUPP:
	case ENOSYS:
		return RC_UNSUPPORTED;
	case ENODEV:
	case EADDRNOTAVAIL:
	case EADDRINUSE:
	case EBUSY:
	case EINVAL:
		return RC_REFUSED;
	case ESRCH:
	case ENOENT:
	case EPERM:
	case EACCES:
	case EEXIST:
	case EBADF:
	case ENOTTY:		/* the fd is not a KVM VM */
		return RC_NO_VM;
	case EAGAIN:
		return RC_RETRY;
	default:
		return RC_HOST;
	}
}

/* One line for an error of a VM ioctl (what names the operation). */
void vm_errmsg(const char *what, int err)
{
	bool set = !strcmp(what, "set");
	const char *why = NULL;

	/* the SET rules mean what the library says; other ioctls, fewer */
	if (set || err == -ENXIO || err == -EOPNOTSUPP || err == -ENOTTY)
		why = apmatrix_rule_meaning(err);
	if (!set && (err == -EPERM || err == -EACCES))
		why = "not permitted";
	if (!why)
		why = strerror(-err);
	errmsg("%s: %s (%s)", what, why, ERRNAME(err));
}

int open_vm(struct cli *cli, const struct args *a,
		   struct apmatrix_vm **vm)
{
	char what[64];
	int err;

	if (a->have_pid) {
		err = apmatrix_vm_open_pid(cli->ctx, a->pid,
					   a->have_fd ? a->vm_fd : -1, vm);
		snprintf(what, sizeof(what), "--pid %ld", (long)a->pid);
	} else if (a->have_fd) {
		err = apmatrix_vm_open_fd(cli->ctx, a->vm_fd, vm);
		snprintf(what, sizeof(what), "--vm-fd %d", a->vm_fd);
	} else {
		errmsg("%s: no VM given: use --vm-fd N or --pid PID", cli->cmd);
		return RC_USAGE;
	}
	if (err < 0) {
		const char *m = apmatrix_ctx_last_error(cli->ctx);

		if (m && *m && err == -EEXIST && a->have_pid)
			errmsg("%s with --vm-fd", m);	/* "...: say which one" */
		else if (m && *m)
			errmsg("%s", m);
		else
			errmsg("%s: %s (%s)", what, strerror(-err), ERRNAME(err));
		return err == -ENOMEM ? RC_HOST : RC_NO_VM;
	}
	return RC_OK;
}

/*
 * The grant fd to use: --grant-fd N, else $APMATRIX_GRANT_FD (as
 * 'apmatrix-ctl grant' or a manager hands it on), else none (-1). RC_OK
 * or RC_USAGE (message printed); *what names where it came from.
 */
int grant_fd_arg(const struct args *a, int *fd, char *what, size_t len)
{
	const char *env = getenv("APMATRIX_GRANT_FD");
	long v;

	*fd = -1;
	if (a->have_grant_fd) {
		*fd = a->grant_fd;
		snprintf(what, len, "--grant-fd %d", *fd);
	} else if (env && *env) {
		if (!parse_int(env, 0, INT_MAX, &v)) {
			errmsg("APMATRIX_GRANT_FD='%s': not a file descriptor number", env);
			return RC_USAGE;
		}
		*fd = (int)v;
		snprintf(what, len, "APMATRIX_GRANT_FD=%d", *fd);
	}
	return RC_OK;
}

/* Pass the grant given (if any) with the VM's SETs. */
int use_grant(struct cli *cli, const struct args *a, struct apmatrix_vm *vm)
{
	struct apmatrix_grant_fd *g = NULL;
	char what[64];
	int fd, err, rc;

	rc = grant_fd_arg(a, &fd, what, sizeof(what));
	if (rc || fd < 0)
		return rc;
	err = apmatrix_grant_open_fd(cli->ctx, fd, &g);
	if (!err)
		err = apmatrix_vm_set_grant(vm, g);
	apmatrix_grant_free(g);
	if (err < 0) {
		errmsg("%s: %s", what, CTX_MSG(cli, err));
		return err == -ENOMEM ? RC_HOST : RC_USAGE;
	}
	return RC_OK;
}

