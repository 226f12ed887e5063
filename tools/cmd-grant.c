// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * apmatrix-ctl: grants - make one on /dev/apmatrix and hand it to a
 * command (grant), or say what one allows (grant-info).
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
#include "ctl-ext.h"

/*
 * grant: make a grant and run a command with it, its fd number in
 * APMATRIX_GRANT_FD (as systemd-socket-activate hands sockets on).
 */
static int cmd_grant(struct cli *cli, struct args *a)
{
	struct apmatrix_grant_fd *g = NULL;
	struct apmatrix_matrix *m;
	bool usage_given;
	char num[16];
	int err, fd, rc;

	if (!a->command || !a->ncommand) {
		errmsg("grant: no command given: grant MATRIX -- COMMAND [ARG...]");
		return RC_USAGE;
	}
	if (a->set && (a->apqns || a->adapters || a->domains || a->control)) {
		errmsg("grant: --set '%s' names the whole matrix: no APQNS, --adapters, --domains or --control-domains with it",
		       a->set);
		return RC_USAGE;
	}
	if (a->config_dir && !a->set) {
		errmsg("grant: --config-dir is for --set NAME");
		return RC_USAGE;
	}
	if (!a->set && !a->apqns && !a->adapters && !a->domains && !a->control) {
		errmsg("grant: no matrix given: APQNS, --adapters/--domains, --control-domains or --set NAME");
		return RC_USAGE;
	}
	m = apmatrix_matrix_new();
	if (!m) {
		errmsg("out of memory");
		return RC_HOST;
	}
	if (a->set)	/* a named set of the configuration (apmatrix.conf(5)) */
		rc = ctl_config_set(a->config_dir, a->set, m);
	else
		rc = args_matrix(cli, a, m, &usage_given);
	if (rc)
		goto out;
	err = apmatrix_grant_create(cli->ctx, m, &g);
	if (err < 0) {
		errmsg("grant: %s", CTX_MSG(cli, err));
		rc = err == -ENODEV || err == -EINVAL ? RC_REFUSED :
		     err == -EACCES || err == -EPERM ? RC_NO_VM : RC_HOST;
		goto out;
	}
	fd = apmatrix_grant_get_fd(g);
	if (a->have_target_fd && a->target_fd != fd) {
		if (dup2(fd, a->target_fd) < 0) {
			errmsg("grant: --fd %d: %s", a->target_fd, strerror(errno));
			rc = RC_HOST;
			goto out;
		}
		fd = a->target_fd;	/* dup2() leaves FD_CLOEXEC off */
	} else if (fcntl(fd, F_SETFD, 0) < 0) {
		errmsg("grant: keeping fd %d open across exec: %s", fd, strerror(errno));
		rc = RC_HOST;
		goto out;
	}
	snprintf(num, sizeof(num), "%d", fd);
	if (setenv("APMATRIX_GRANT_FD", num, 1)) {
		errmsg("out of memory");
		rc = RC_HOST;
		goto out;
	}
	fflush(stdout);
	execvp(a->command[0], a->command);
	err = errno;
	errmsg("grant: cannot run '%s': %s", a->command[0], strerror(err));
	rc = err == ENOENT ? 127 : 126;	/* as env(1) */
out:
	apmatrix_grant_free(g);
	apmatrix_matrix_free(m);
	return rc;
}

/* grant-info: what a grant allows, read from its fdinfo */
static int cmd_grant_info(struct cli *cli, struct args *a)
{
	struct apmatrix_grant_fd *g = NULL;
	struct apmatrix_matrix *m;
	char what[64];
	int fd, err, rc;

	rc = grant_fd_arg(a, &fd, what, sizeof(what));
	if (rc)
		return rc;
	if (fd < 0) {
		errmsg("grant-info: no grant given: --grant-fd N, or APMATRIX_GRANT_FD");
		return RC_USAGE;
	}
	m = apmatrix_matrix_new();
	if (!m) {
		errmsg("out of memory");
		return RC_HOST;
	}
	err = apmatrix_grant_open_fd(cli->ctx, fd, &g);
	if (!err)
		err = apmatrix_grant_get_matrix(g, m);
	if (err < 0) {
		errmsg("%s: %s", what, CTX_MSG(cli, err));
		rc = err == -ENOMEM ? RC_HOST : RC_USAGE;
	} else {
		rc = a->json ? get_json(m) : get_human(m);
	}
	apmatrix_grant_free(g);
	apmatrix_matrix_free(m);
	return rc;
}

static const struct ctl_opt grant_opts[] = {
	O_MATRIX,
	O_CONTROL,
	{ "fd", required_argument, OPT_FD, "N", "give COMMAND the grant as fd N (3 or more)" },
	{ "set", required_argument, OPT_SET, "NAME",
	  "the matrix is set NAME of the configuration\n(apmatrix.conf(5); see 'sets')" },
	O_CONFIG_DIR,
	O_COMMON,
	O_END
};

const struct command grant_command = {
	.name = "grant", .run = cmd_grant,
	.usage = "grant (APQNS... | --adapters IDS --domains IDS) [--control-domains IDS] [--fd N] -- COMMAND [ARG...]\n"
		 "       " PROG " grant --set NAME [--config-dir DIR] [--fd N] -- COMMAND [ARG...]",
	.summary = "make a grant (/dev/apmatrix) and run COMMAND with it, its fd in $APMATRIX_GRANT_FD",
	.opts = grant_opts, .max_args = -1, .takes_command = true,
};

static const struct ctl_opt grant_info_opts[] = {
	O_GRANT_FD,
	O_JSON("print JSON (as get --json)"),
	O_COMMON,
	O_END
};

const struct command grant_info_command = {
	.name = "grant-info", .run = cmd_grant_info,
	.usage = "grant-info [--grant-fd N] [--json]",
	.summary = "show what a grant allows (default: the fd in $APMATRIX_GRANT_FD)",
	.opts = grant_info_opts, .max_args = 0,
};
