/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The declarative configuration of apmatrix-ctl: /etc/apmatrix/apmatrix.conf
 * and /etc/apmatrix/conf.d/ *.conf (INI, read with libinih). The format is
 * apmatrix.conf(5).
 */
#ifndef APMATRIX_CONF_H
#define APMATRIX_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "apmatrix.h"

#define APM_CONF_DIR "/etc/apmatrix"

/* Where a value was written. */
struct apm_conf_loc {
	const char *file;	/* points into apm_conf.files */
	int line;		/* 0: not given */
};

struct apm_conf_set {
	char *name;
	struct apmatrix_matrix *m;	/* usage APQNs and control domains */
	struct apm_conf_loc where;	/* the [set NAME] line */
	struct apm_conf_loc apqns, control;
};

struct apm_conf {
	char *dir;
	char **files;			/* every file read, in order */
	size_t nfiles;

	bool guests;			/* a [guests] section exists: apply owns the masks */
	struct apmatrix_matrix *take;	/* adapters: cleared in apmask; domains: in aqmask */
	struct apm_conf_loc guests_where;
	/* where each adapter / domain of take was named (line 0: not named) */
	struct apm_conf_loc adapter_at[256], domain_at[256];

	bool device;			/* a [device] section exists */
	char *group;			/* NULL: not given (root) */
	gid_t gid;
	mode_t mode;			/* default 0600 */
	struct apm_conf_loc group_at, mode_at;

	struct apm_conf_set *sets;
	size_t nsets;
};

/*
 * Errors: one line each, "FILE:LINE: problem" (or "FILE: problem"), kept
 * in order.
 */
struct apm_conf_errors {
	char **msg;
	size_t n;
};

/*
 * Read the configuration in dir (NULL: $APMATRIX_CONFIG_DIR, else
 * /etc/apmatrix). Returns 0 and *conf, or -EINVAL with errs filled (every
 * problem found, each naming file and line), or another -errno (message in
 * errs). A directory without apmatrix.conf and conf.d is an error
 * (-ENOENT): there is nothing to apply.
 */
int apm_conf_load(const char *dir, struct apm_conf **conf,
		  struct apm_conf_errors *errs);
void apm_conf_free(struct apm_conf *conf);
void apm_conf_errors_free(struct apm_conf_errors *errs);
const struct apm_conf_set *apm_conf_find_set(const struct apm_conf *conf,
					     const char *name);
/* The directory that is read when none is given. */
const char *apm_conf_default_dir(void);

#endif /* APMATRIX_CONF_H */
