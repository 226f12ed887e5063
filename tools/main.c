// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * apmatrix-ctl - give s390 AP crypto queues to KVM guests.
 *
 * The command line front end of libapmatrix for administrators and VMMs:
 * show the host's AP queues and who holds them (list), take queues away
 * from the host's default zcrypt drivers or give them back (reserve,
 * release), read or replace the AP matrix of a KVM VM through the
 * KVM_S390_VM_CRYPTO_SET_AP_MATRIX attribute (set, get, clear, probe,
 * enable-apie), and make or read grants (grant, grant-info).
 *
 * This file is the dispatcher: the command table (commands.def), option
 * parsing and --help, both made from each command's option table, and the
 * exit codes. See ctl.h for the other files.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#ifndef APMATRIX_CTL_VERSION
#define APMATRIX_CTL_VERSION "unknown"
#endif

/* the most options one command has */
/* Exit codes: the one table (--help prints it; the man page mirrors it). */
static const struct {
	enum rc code;
	const char *meaning;
} exit_codes[] = {
	{ RC_OK, "success" },
	{ RC_USAGE, "usage error: bad option, argument or APQN text" },
	{ RC_HOST, "host error: /sys/bus/ap unreadable or malformed, a mask write failed, lock or system error" },
	{ RC_REFUSED, "the kernel's rules refused the matrix (ENODEV, EPERM, EADDRNOTAVAIL, EADDRINUSE, EBUSY, EINVAL)" },
	{ RC_UNSUPPORTED, "not supported: the kernel or host does not offer the interface (ENXIO, EOPNOTSUPP)" },
	{ RC_NO_VM, "VM not found or not allowed: no such process, no or several VM fds, a --vm-fd that is not open or not a VM (EBADF, ENOTTY), EPERM/EACCES" },
	{ RC_RETRY, "the host said no for now: a mask write vetoed (EBUSY: a queue is in use by a guest) or the state changed (EAGAIN): retry" },
	{ RC_RESET, "set --reset: a queue's reset did not complete (EIO); the VM holds the new matrix minus that queue's adapter" },
	{ RC_DRIFT, "diff: the host differs from the configuration" },
	{ RC_CONFIG, "the configuration (apmatrix.conf(5)) is invalid or has no such set: nothing changed" },
};

/* The commands: one line each in commands.def. */
static const struct command *const commands[] = {
#define COMMAND(name) &name##_command,
#include "commands.def"
#undef COMMAND
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* getopt's short option string (":" first) and long options from a table */
static void getopt_tables(const struct ctl_opt *opts, char *optstring,
			  struct option *longopts)
{
	size_t n = 0, k = 0;

	optstring[k++] = ':';
	for (; opts[n].name && n < MAX_OPTS; n++) {
		longopts[n] = (struct option){ opts[n].name, opts[n].has_arg, NULL,
					       (int)opts[n].id };
		if (opts[n].id < 0x100) {
			optstring[k++] = (char)opts[n].id;
			if (opts[n].has_arg == required_argument)
				optstring[k++] = ':';
		}
	}
	optstring[k] = '\0';
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };
}

void command_getopt(const char *name, struct cmd_getopt *g)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i]->name, name)) {
			getopt_tables(commands[i]->opts, g->optstring, g->longopts);
			return;
		}
	abort();	/* called only by the commands of commands.def */
}

/* "  -j, --json               print JSON", continuation lines indented */
static void print_opts(const struct ctl_opt *opts)
{
	char left[64];
	const char *h, *nl;

	for (; opts->name; opts++) {
		if (opts->id < 0x100)
			snprintf(left, sizeof(left), "  -%c, --%s%s%s", (char)opts->id,
				 opts->name, opts->arg ? " " : "", opts->arg ? opts->arg : "");
		else
			snprintf(left, sizeof(left), "      --%s%s%s", opts->name,
				 opts->arg ? " " : "", opts->arg ? opts->arg : "");
		h = opts->help;
		nl = strchr(h, '\n');
		if (strlen(left) >= 27)
			printf("%s\n%27s%.*s\n", left, "", (int)(nl ? nl - h : (long)strlen(h)), h);
		else
			printf("%-27s%.*s\n", left, (int)(nl ? nl - h : (long)strlen(h)), h);
		while (nl) {
			h = nl + 1;
			nl = strchr(h, '\n');
			printf("%27s%.*s\n", "", (int)(nl ? nl - h : (long)strlen(h)), h);
		}
	}
}

/* Said once when the AP configuration lock is held by someone else. */
static void lock_wait(struct apmatrix_ctx *ctx, const char *lock_file,
		      pid_t holder, unsigned int timeout_ms, void *data)
{
	(void)ctx;
	(void)data;
	if (holder)
		errmsg("waiting for the AP configuration lock %s, held by process %d (at most %u.%u s)",
		       lock_file, (int)holder, timeout_ms / 1000, timeout_ms % 1000 / 100);
	else
		errmsg("waiting for the AP configuration lock %s, being taken by someone (at most %u.%u s)",
		       lock_file, timeout_ms / 1000, timeout_ms % 1000 / 100);
	fflush(stderr);
}

/* Make the library context; RC_OK or an exit code (message printed). */
static int cli_ctx(struct cli *cli)
{
	int err;

	cli->ctx = apmatrix_ctx_new();
	if (!cli->ctx) {
		errmsg("cannot make a libapmatrix context: %s", strerror(errno));
		return RC_HOST;
	}
	/* a bad APMATRIX_*_TIMEOUT: the library's one reading of it, kept
	 * for the commands that take the lock to refuse before anything */
	snprintf(cli->env_err, sizeof(cli->env_err), "%s",
		 apmatrix_ctx_last_error(cli->ctx));
	apmatrix_ctx_set_lock_wait_fn(cli->ctx, lock_wait, NULL);
	if (cli->sysfs_root) {
		err = apmatrix_ctx_set_sysfs_root(cli->ctx, cli->sysfs_root);
		if (err < 0) {
			const char *m = apmatrix_ctx_last_error(cli->ctx);

			errmsg("--sysfs-root '%s': %s", cli->sysfs_root,
			       m && *m ? m : strerror(-err));
			return err == -ENOMEM ? RC_HOST : RC_USAGE;
		}
	}
	return RC_OK;
}

static void print_exit_codes(void)
{
	size_t i;

	printf("\nExit codes:\n");
	for (i = 0; i < sizeof(exit_codes) / sizeof(exit_codes[0]); i++)
		printf("  %d  %s\n", exit_codes[i].code, exit_codes[i].meaning);
}

static const struct ctl_opt global_opts[] = {
	O_HELP,
	{ "version", no_argument, OPT_VERSION, NULL, "show the version" },
	O_SYSFS,
	O_END
};

static void global_help(void)
{
	size_t i;

	printf("Usage: " PROG " [--sysfs-root DIR] COMMAND [OPTIONS] [ARGS]\n"
	       "       " PROG " COMMAND --help\n\n"
	       "Give s390 AP crypto queues to KVM guests.\n\nCommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		printf("  %-12s %s\n", commands[i]->name, commands[i]->summary);
	printf("\nOptions:\n");
	print_opts(global_opts);
	printf("\nAPQNs are written as lszcrypt does, AA.DDDD in hex: 05.0004,\n"
	       "05.0004,05.0005, 05-07.0004-0007. ID lists: 05,07-09.\n");
	print_exit_codes();
}

static void command_help(const struct command *c)
{
	printf("Usage: " PROG " %s\n\n%c%s.\n\nOptions:\n", c->usage,
	       c->summary[0] - 'a' + 'A', c->summary + 1);
	print_opts(c->opts);
	print_exit_codes();
}

static int set_once(const char **slot, const char *cmd, const char *name)
{
	if (*slot) {
		errmsg("%s: %s given twice", cmd, name);
		return -1;
	}
	*slot = optarg;
	return 0;
}

static int parse_command(struct cli *cli, const struct command *c, int argc,
			 char **argv, struct args *a)
{
	struct option longopts[MAX_OPTS + 1];
	char optstring[2 * MAX_OPTS + 2];
	size_t len = 0;
	long v;
	int opt, i;

	/* "grant ... -- COMMAND [ARG...]": options end at the "--" */
	if (c->takes_command) {
		for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
			;
		if (i < argc) {
			a->command = argv + i + 1;
			a->ncommand = argc - i - 1;
			argc = i;
		}
	}
	/* Options may follow the APQNs: "set --pid 7 05.0004 --reset". */
	getopt_tables(c->opts, optstring, longopts);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts,
				  NULL)) != -1) {
		switch (opt) {
		case OPT_HELP:
			command_help(c);
			return -1 - RC_OK;
		case OPT_SYSFS_ROOT:
			cli->sysfs_root = optarg;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_DRY_RUN:
			a->dry_run = true;
			break;
		case OPT_NO_REBIND:
			a->no_rebind = true;
			break;
		case OPT_SET:
			if (set_once(&a->set, c->name, "--set"))
				return -1 - RC_USAGE;
			break;
		case OPT_CONFIG_DIR:
			if (set_once(&a->config_dir, c->name, "--config-dir"))
				return -1 - RC_USAGE;
			break;
		case OPT_QUIET:
		case OPT_KERNEL_CMDLINE:
		case OPT_WAIT_BUS:
		case OPT_KERNEL:
		case OPT_INTERVAL:
			/* the command's own parser (run_argv) reads these */
			break;
		case OPT_VALIDATE_ONLY:
			a->validate_only = true;
			break;
		case OPT_RESET:
			a->reset = true;
			break;
		case OPT_ADAPTERS:
			if (set_once(&a->adapters, c->name, "--adapters"))
				return -1 - RC_USAGE;
			break;
		case OPT_DOMAINS:
			if (set_once(&a->domains, c->name, "--domains"))
				return -1 - RC_USAGE;
			break;
		case OPT_CONTROL:
			if (set_once(&a->control, c->name, "--control-domains"))
				return -1 - RC_USAGE;
			break;
		case OPT_PID:
			if (a->have_pid) {
				errmsg("%s: --pid given twice", c->name);
				return -1 - RC_USAGE;
			}
			if (!parse_int(optarg, 1, INT_MAX, &v)) {
				errmsg("%s: --pid '%s': not a process ID",
				       c->name, optarg);
				return -1 - RC_USAGE;
			}
			a->have_pid = true;
			a->pid = (pid_t)v;
			break;
		case OPT_GRANT_FD:
		case OPT_FD: {
			bool *have = opt == OPT_FD ? &a->have_target_fd : &a->have_grant_fd;
			int *slot = opt == OPT_FD ? &a->target_fd : &a->grant_fd;
			const char *name = opt == OPT_FD ? "--fd" : "--grant-fd";

			if (*have) {
				errmsg("%s: %s given twice", c->name, name);
				return -1 - RC_USAGE;
			}
			if (!parse_int(optarg, opt == OPT_FD ? 3 : 0, INT_MAX, &v)) {
				errmsg("%s: %s '%s': not a file descriptor number%s", c->name,
				       name, optarg, opt == OPT_FD ? " (3 or more)" : "");
				return -1 - RC_USAGE;
			}
			*have = true;
			*slot = (int)v;
			break;
		}
		case OPT_VM_FD:
			if (a->have_fd) {
				errmsg("%s: --vm-fd given twice", c->name);
				return -1 - RC_USAGE;
			}
			if (!parse_int(optarg, 0, INT_MAX, &v)) {
				errmsg("%s: --vm-fd '%s': not a file descriptor number",
				       c->name, optarg);
				return -1 - RC_USAGE;
			}
			a->have_fd = true;
			a->vm_fd = (int)v;
			break;
		default:
			option_error(c->name, opt, argv);
			return -1 - RC_USAGE;
		}
	}
	if (c->max_args >= 0 && argc - optind > c->max_args) {
		errmsg("%s: unexpected argument '%s'", c->name, argv[optind]);
		return -1 - RC_USAGE;
	}
	for (i = optind; i < argc && !c->run_argv; i++) {
		if (blank(argv[i])) {
			errmsg("%s: empty APQN argument '%s'%s", c->name, argv[i],
			       !strcmp(c->name, "set") ?
			       " (to take every queue from the VM, use clear)" : "");
			return -1 - RC_USAGE;
		}
	}
	if (optind < argc) {
		for (i = optind; i < argc; i++)
			len += strlen(argv[i]) + 1;
		a->apqns = malloc(len);
		if (!a->apqns) {
			errmsg("out of memory");
			return -1 - RC_HOST;
		}
		a->apqns[0] = '\0';
		for (i = optind; i < argc; i++) {
			if (i > optind)
				strcat(a->apqns, ",");
			strcat(a->apqns, argv[i]);
		}
	}
	return 0;
}

static int finish_stdout(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		errmsg("cannot write to standard output: %s", strerror(errno));
		return rc ? rc : RC_HOST;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct option lopts[MAX_OPTS + 1];
	char optstring[2 * MAX_OPTS + 2];
	struct cli cli = { 0 };
	struct args a = { 0 };
	const struct command *c = NULL;
	size_t i;
	int opt, rc;

	/* "+": the global options end at the command */
	getopt_tables(global_opts, optstring + 1, lopts);
	optstring[0] = '+';
	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, lopts, NULL)) != -1) {
		switch (opt) {
		case OPT_HELP:
			global_help();
			return finish_stdout(RC_OK);
		case OPT_VERSION:
			printf(PROG " %s (libapmatrix %s)\n", APMATRIX_CTL_VERSION,
			       apmatrix_version());
			return finish_stdout(RC_OK);
		case OPT_SYSFS_ROOT:
			cli.sysfs_root = optarg;
			break;
		default:
			option_error(NULL, opt, argv);
			return RC_USAGE;
		}
	}
	if (optind >= argc) {
		errmsg("no command given (see '" PROG " --help')");
		return RC_USAGE;
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(argv[optind], commands[i]->name))
			c = commands[i];
	if (!c) {
		errmsg("'%s': unknown command (see '" PROG " --help')",
		       argv[optind]);
		return RC_USAGE;
	}
	cli.cmd = c->name;
	a.argc = argc - optind;
	a.argv = argv + optind;
	rc = parse_command(&cli, c, argc - optind, argv + optind, &a);
	if (rc < 0) {
		free(a.apqns);
		return finish_stdout(-1 - rc);
	}
	if (c->run_argv) {
		/* checked against c->opts above; the command reads its argv */
		free(a.apqns);
		if (cli.sysfs_root &&
		    setenv("APMATRIX_SYSFS_ROOT", cli.sysfs_root, 1)) {
			errmsg("out of memory");
			return RC_HOST;
		}
		return finish_stdout(c->run_argv(a.argc, a.argv));
	}
	rc = cli_ctx(&cli);
	if (rc == RC_OK)
		rc = c->run(&cli, &a);
	apmatrix_ctx_free(cli.ctx);
	free(a.apqns);
	return finish_stdout(rc);
}
