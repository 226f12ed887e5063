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

/* Exit codes, as main.c's table (enum rc in ctl.h) has them. */
#define RC_EXT_DRIFT	8	/* diff: the host differs from the configuration */
#define RC_EXT_CONFIG	9	/* the configuration is invalid: nothing changed */

#endif /* APMATRIX_CTL_EXT_H */
