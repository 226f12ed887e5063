/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * apmatrix-ctl commands that live in their own files. Each takes the
 * command's own argv (argv[0] is the command name) and returns an exit
 * code of apmatrix-ctl(8). cmd-admin.c has their entries of the command
 * table (commands.def): main.c checks their options against it, prints
 * their --help from it and then calls them with their argv.
 */
#ifndef APMATRIX_CTL_EXT_H
#define APMATRIX_CTL_EXT_H

#include <getopt.h>
#include <stddef.h>

int cmd_apply(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_udev_env(int argc, char **argv);
int cmd_sets(int argc, char **argv);

struct apmatrix_matrix;
/*
 * For 'grant --set NAME': fill m with set NAME of the configuration in
 * config_dir (NULL: $APMATRIX_CONFIG_DIR, else /etc/apmatrix). Returns 0,
 * or an exit code with the reason printed (9: the configuration is
 * invalid; 1: no such set, the sets there named).
 */
int ctl_config_set(const char *config_dir, const char *name,
		   struct apmatrix_matrix *m);
int cmd_monitor(int argc, char **argv);

#define PROG "apmatrix-ctl"

/* Every option of every subcommand; a letter is also its short option. */
enum opt_id {
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_JSON = 'j',
	OPT_DRY_RUN = 'n',
	OPT_ADAPTERS = 'a',
	OPT_DOMAINS = 'd',
	OPT_CONTROL = 'c',
	OPT_PID = 'p',
	OPT_SYSFS_ROOT = 0x100,
	OPT_VM_FD,
	OPT_VALIDATE_ONLY,
	OPT_RESET,
	OPT_GRANT_FD,
	OPT_FD,
	OPT_QUIET = 'q',
	OPT_CONFIG_DIR = 0x200,
	OPT_KERNEL_CMDLINE,
	OPT_WAIT_BUS,
	OPT_KERNEL,
	OPT_INTERVAL,
	OPT_SET,
	OPT_NO_REBIND,
};

/*
 * getopt_long()'s tables for the options of command name: made from its
 * entry of commands.def (cmd-admin.c's tables for these commands), the
 * one main.c checked argv against and --help prints. In main.c.
 */
#define MAX_OPTS 16
struct cmd_getopt {
	char optstring[2 * MAX_OPTS + 2];	/* ':' first: ':' for a missing argument */
	struct option longopts[MAX_OPTS + 1];
};
void command_getopt(const char *name, struct cmd_getopt *g);

/*
 * util.c's helpers that these commands use too (ctl.h, which has the
 * rest, is main.c's and the cmd-*.c files'; its option names clash).
 */
/* "apmatrix-ctl: " + the message, one line on stderr */
void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* a getopt error (ret ':', a missing argument, or '?') of command cmd */
void option_error(const char *cmd, int ret, char **argv);
/* the first line of queue apid.apqi's sysfs attribute attr under
 * sysfs_root, without its newline; "" when there is none */
void queue_attr_line(const char *sysfs_root, unsigned int apid, unsigned int apqi,
		     const char *attr, char *buf, size_t len);

/* Exit codes (main.c says what each means, in --help) */
enum rc {
	RC_OK = 0,
	RC_USAGE = 1,
	RC_HOST = 2,
	RC_REFUSED = 3,
	RC_UNSUPPORTED = 4,
	RC_NO_VM = 5,
	RC_RETRY = 6,
	RC_RESET = 7,
	RC_DRIFT = 8,		/* diff: the host differs from the configuration */
	RC_CONFIG = 9,		/* the configuration is invalid: nothing changed */
};

#endif /* APMATRIX_CTL_EXT_H */
