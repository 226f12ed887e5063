/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * apmatrix-ctl: what its files share.
 *
 *   main.c       the dispatcher: the command table (commands.def), option
 *                parsing and help, both made from each command's option
 *                table; exit codes
 *   util.c       messages, numbers, the matrix from the command line, the
 *                VM and the grant the options name
 *   print.c      the printers (tables and JSON)
 *   cmd-host.c   list, reserve, release
 *   cmd-vm.c     set, get, clear, probe, enable-apie
 *   cmd-grant.c  grant, grant-info
 *   cmd-admin.c  the table entries of apply, diff, sets, udev-env, monitor
 *   ctl-config.c apply, diff, sets, udev-env and 'grant --set' (conf.c
 *                reads apmatrix.conf(5); ctl-ext.h)
 *   ctl-monitor.c monitor
 *
 * A command is a 'const struct command NAME_command' in its file (its
 * name, function, usage, summary and option table), one line in
 * commands.def, and its file in tools/meson.build.
 *
 * Rules kept throughout: every argument is checked before anything is
 * written; every error is one line on stderr, "apmatrix-ctl: " + what and
 * why, and one of the exit codes of enum rc (main.c's table, which --help
 * prints and the man page's EXIT STATUS mirrors).
 */
#ifndef APMATRIX_CTL_H
#define APMATRIX_CTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <json.h>

#include "apmatrix.h"
#include "ctl-ext.h"	/* PROG, enum rc, enum opt_id, errmsg() ... */

/* The invocation */
struct cli {
	const char *cmd;		/* subcommand name, for messages */
	const char *sysfs_root;		/* --sysfs-root, NULL: environment */
	struct apmatrix_ctx *ctx;
	/* an environment value the library cannot use (its message), "" if none */
	char env_err[160];
};

/* What the options and arguments said */
struct args {
	bool json;
	bool dry_run;
	bool no_rebind;		/* reserve --no-rebind */
	bool validate_only;
	bool reset;
	const char *adapters;
	const char *domains;
	const char *control;
	bool have_pid;
	pid_t pid;
	bool have_fd;
	int vm_fd;
	bool have_grant_fd;
	int grant_fd;		/* --grant-fd */
	bool have_target_fd;
	int target_fd;		/* grant --fd */
	char **command;		/* grant: what follows "--" */
	int ncommand;
	char *apqns;		/* positional APQN text joined with ',', or NULL */
	const char *set;	/* grant --set NAME */
	const char *config_dir;	/* --config-dir */
	int argc;		/* the command's own argv (argv[0] its name), */
	char **argv;		/* for the commands that take it (run_argv) */
};

/*
 * One option: getopt takes it, --help prints it, from this one entry.
 * help may have several lines ("\n" between them).
 */
struct ctl_opt {
	const char *name;		/* long name */
	int has_arg;			/* no_argument, required_argument */
	enum opt_id id;			/* < 0x100: also the short option */
	const char *arg;		/* the argument's name in --help */
	const char *help;
};

#define O_END		{ NULL, 0, 0, NULL, NULL }
#define O_HELP		{ "help", no_argument, OPT_HELP, NULL, "show this help" }
#define O_SYSFS		{ "sysfs-root", required_argument, OPT_SYSFS_ROOT, "DIR", \
			  "the directory that stands for /sys\n(default: $APMATRIX_SYSFS_ROOT, else /sys)" }
#define O_COMMON	O_HELP, O_SYSFS
#define O_VM		{ "vm-fd", required_argument, OPT_VM_FD, "N", \
			  "the KVM VM is this process's open fd N" }, \
			{ "pid", required_argument, OPT_PID, "PID", \
			  "the KVM VM of process PID (its only VM fd,\nor fd N of it with --vm-fd N)" }
#define O_MATRIX	{ "adapters", required_argument, OPT_ADAPTERS, "IDS", \
			  "adapter IDs (\"05,07-09\", hex) or a mask" }, \
			{ "domains", required_argument, OPT_DOMAINS, "IDS", \
			  "usage domain IDs (\"0004,0006\", hex) or a mask" }
#define O_CONTROL	{ "control-domains", required_argument, OPT_CONTROL, "IDS", \
			  "control domain IDs or a mask" }
#define O_JSON(text)	{ "json", no_argument, OPT_JSON, NULL, text }
#define O_CONFIG_DIR	{ "config-dir", required_argument, OPT_CONFIG_DIR, "DIR", \
			  "read DIR/apmatrix.conf and DIR/conf.d/*.conf\n(default: $APMATRIX_CONFIG_DIR, else /etc/apmatrix)" }
#define O_GRANT_FD	{ "grant-fd", required_argument, OPT_GRANT_FD, "N", \
			  "the grant is fd N (default: $APMATRIX_GRANT_FD\nwhen set)" }

struct command {
	const char *name;
	int (*run)(struct cli *cli, struct args *a);
	const char *usage;
	const char *summary;
	const struct ctl_opt *opts;	/* ends with O_END */
	int max_args;			/* positional arguments allowed (-1: any) */
	bool takes_command;		/* "-- COMMAND [ARG...]" follows */
	/*
	 * Instead of run: the command reads its own argv (ctl-ext.h) after
	 * main.c has checked it against opts; --help still comes from opts.
	 */
	int (*run_argv)(int argc, char **argv);
};

/* the commands, from commands.def */
#define COMMAND(name) extern const struct command name##_command;
#include "commands.def"
#undef COMMAND

/* util.c (and ctl-ext.h's) */
/* "EBUSY" (the library's vocabulary), or "errno 123" (buf is the space) */
const char *errname(int err, char *buf, size_t len);
#define ERRNAME(err) errname((err), (char[24]){ 0 }, 24)
/* the context's last message, or one made from err */
const char *ctx_msg(struct cli *cli, int err, char *buf, size_t len);
#define CTX_MSG(cli, err) ctx_msg((cli), (err), (char[160]){ 0 }, 160)
bool parse_int(const char *s, long min, long max, long *out);
bool blank(const char *s);
char *printable(const char *s);
void json_add(struct json_object *obj, const char *key, struct json_object *val);
int print_json(struct json_object *root);
int args_matrix(struct cli *cli, const struct args *a, struct apmatrix_matrix *m,
		bool *usage_given);
int vm_exit_code(int err);
void vm_errmsg(const char *what, int err);
int open_vm(struct cli *cli, const struct args *a, struct apmatrix_vm **vm);
int grant_fd_arg(const struct args *a, int *fd, char *what, size_t len);
int use_grant(struct cli *cli, const struct args *a, struct apmatrix_vm *vm);

/* Run a snprintf-like formatter into a fresh heap string. */
#define FORMAT_ALLOC(fn, obj, ...)					\
	({								\
		char _small[128], *_s = NULL;				\
		int _n = fn((obj), ##__VA_ARGS__, _small, sizeof(_small)); \
		if (_n >= 0 && (size_t)_n < sizeof(_small)) {		\
			_s = strdup(_small);				\
		} else if (_n >= 0) {					\
			_s = malloc((size_t)_n + 1);			\
			if (_s && fn((obj), ##__VA_ARGS__, _s,		\
				     (size_t)_n + 1) < 0) {		\
				free(_s);				\
				_s = NULL;				\
			}						\
		}							\
		_s;							\
	})

/* print.c */
bool queue_selected(const struct apmatrix_apqns *filter, const struct apmatrix_queue *q);
bool card_selected(const struct apmatrix_apqns *filter, const struct apmatrix_card *card);
int list_human(const struct apmatrix_host *host, const struct apmatrix_apqns *filter,
	       const char *apmask, const char *aqmask);
int list_json(const struct apmatrix_host *host, const struct apmatrix_apqns *filter,
	      const char *apmask, const char *aqmask);
int print_mask_change(const char *name, const struct apmatrix_matrix *before,
		      const struct apmatrix_matrix *after, enum apmatrix_part part);
struct json_object *json_apqns(const struct apmatrix_apqns *s);
struct json_object *json_ids(const struct apmatrix_matrix *m, enum apmatrix_part part,
			     const char *fmt);
int plan_json(const struct apmatrix_plan *plan, const struct apmatrix_apqns *absent,
	      bool applied, const struct apmatrix_claim *claim);
const char *claim_action_name(enum apmatrix_claim_action action);
int get_json(const struct apmatrix_matrix *m);
int get_human(const struct apmatrix_matrix *m);
int set_json(const struct args *a, int err, const struct apmatrix_explanation *x);

#endif /* APMATRIX_CTL_H */
