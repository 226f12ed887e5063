// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * apmatrix-ctl: the printers - list's table and JSON, reserve/release's
 * plan, a matrix (get, grant-info), set's JSON. Each prints one document
 * or table on stdout and returns RC_OK, or RC_HOST with a message.
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

/*
 * A cell's text as printable() would write it, into buf (len bytes, room
 * for 4 per byte of s); s itself when nothing needs escaping, which is
 * every name a kernel gives.
 */
static const char *cell(const char *s, char *buf, size_t len)
{
	const char *p;
	char *o = buf;

	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '\\')
			break;
	if (!*p)
		return s;
	for (p = s; *p && (size_t)(o - buf) + 5 < len; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			o += snprintf(o, 5, "\\x%02x", c);
		else
			*o++ = (char)c;
	}
	*o = '\0';
	return buf;
}

static const char *holder_name(const struct apmatrix_queue *q)
{
	const char *drv;

	switch (apmatrix_queue_holder(q)) {
	case APMATRIX_HOLDER_HOST:
		return "host";
	case APMATRIX_HOLDER_FREE:
		return "free";
	case APMATRIX_HOLDER_APMATRIX:
		return "apmatrix";
	case APMATRIX_HOLDER_OTHER:
		drv = apmatrix_queue_driver(q);
		return drv ? drv : "other";
	}
	return "other";
}

/* The HOLDER cell: apmatrix queues with their apmatrix_state. */
static const char *holder_text(const struct apmatrix_queue *q, char *buf, size_t len)
{
	const char *h = holder_name(q);
	pid_t pid;

	if (apmatrix_queue_holder(q) != APMATRIX_HOLDER_APMATRIX)
		return h;
	switch (apmatrix_queue_state(q, &pid)) {
	case APMATRIX_QSTATE_NONE:
		return h;
	case APMATRIX_QSTATE_IN_USE:
		snprintf(buf, len, "apmatrix (in use by pid %d)", (int)pid);
		return buf;
	default:
		snprintf(buf, len, "apmatrix (%s)", apmatrix_queue_state_text(q));
		return buf;
	}
}

/*
 * lszcrypt's STATUS of a card or a queue, from its own attributes:
 * deconfig wins, then checkstop, then online/offline, "-" if unknown.
 */
static const char *status_name(int config, int chkstop, int online)
{
	if (config == 0)
		return "deconfig";
	if (chkstop > 0)
		return "checkstop";
	if (online > 0)
		return "online";
	if (online == 0)
		return "offline";
	return "-";
}

static struct json_object *json_tristate(int v)
{
	return v < 0 ? NULL : json_object_new_boolean(v > 0);
}

bool queue_selected(const struct apmatrix_apqns *filter,
			   const struct apmatrix_queue *q)
{
	return !filter || apmatrix_apqns_contains(filter,
						  apmatrix_queue_apid(q),
						  apmatrix_queue_apqi(q));
}

bool card_selected(const struct apmatrix_apqns *filter,
			  const struct apmatrix_card *card)
{
	unsigned int i, n = apmatrix_card_num_queues(card);

	if (!filter)
		return true;
	for (i = 0; i < n; i++)
		if (queue_selected(filter, apmatrix_card_queue(card, i)))
			return true;
	return false;
}

/*
 * The table, in two passes over the host view: the column widths, then
 * the rows (nothing is copied: a row's cells are the view's own strings,
 * escaped only where they need it).
 */
int list_human(const struct apmatrix_host *host,
	       const struct apmatrix_apqns *filter, const char *apmask,
	       const char *aqmask)
{
	static const char *const hdr[5] = { "CARD.DOM", "TYPE", "STATUS",
					    "DRIVER", "HOLDER" };
	unsigned int ncards = apmatrix_host_num_cards(host), i, j;
	int w[5], k, total, pass;

	for (k = 0; k < 5; k++)
		w[k] = (int)strlen(hdr[k]);
	for (pass = 0; pass < 2; pass++) {
		if (pass) {
			printf("ap_max_adapter_id=0x%02x\n", apmatrix_host_max_adapter_id(host));
			printf("ap_max_domain_id=0x%02x\n", apmatrix_host_max_domain_id(host));
			printf("apmask=%s\n", apmask);
			printf("aqmask=%s\n", aqmask);
			putchar('\n');
			printf("%-*s %-*s %-*s %-*s %s\n", w[0], hdr[0], w[1], hdr[1],
			       w[2], hdr[2], w[3], hdr[3], hdr[4]);
			total = w[0] + w[1] + w[2] + w[3] + w[4] + 4;
			for (k = 0; k < total; k++)
				putchar('-');
			putchar('\n');
		}
		for (i = 0; i < ncards; i++) {
			const struct apmatrix_card *c = apmatrix_host_card(host, i);
			const char *type = apmatrix_card_type(c);
			const char *cdrv = apmatrix_card_driver(c);
			char tbuf[512], dbuf[1024], hbuf[512], hb[96], id[8];
			const char *cells[5];

			if (!card_selected(filter, c))
				continue;
			type = cell(type ? type : "-", tbuf, sizeof(tbuf));
			for (j = 0; j <= apmatrix_card_num_queues(c); j++) {
				const struct apmatrix_queue *q =
					j ? apmatrix_card_queue(c, j - 1) : NULL;
				const char *drv;

				if (q && !queue_selected(filter, q))
					continue;
				if (!q) {
					snprintf(id, sizeof(id), "%02x", apmatrix_card_id(c));
					cells[2] = status_name(apmatrix_card_config(c),
							       apmatrix_card_chkstop(c),
							       apmatrix_card_online(c));
					drv = cdrv;
					cells[4] = "-";
				} else {
					snprintf(id, sizeof(id), "%02x.%04x",
						 apmatrix_queue_apid(q),
						 apmatrix_queue_apqi(q));
					cells[2] = status_name(apmatrix_queue_config(q),
							       apmatrix_queue_chkstop(q),
							       apmatrix_queue_online(q));
					drv = apmatrix_queue_driver(q);
					cells[4] = cell(holder_text(q, hb, sizeof(hb)),
							hbuf, sizeof(hbuf));
				}
				cells[0] = id;
				cells[1] = type;
				cells[3] = cell(drv ? drv : "-no-driver-", dbuf, sizeof(dbuf));
				if (pass) {
					printf("%-*s %-*s %-*s %-*s %s\n", w[0], cells[0],
					       w[1], cells[1], w[2], cells[2], w[3],
					       cells[3], cells[4]);
					continue;
				}
				for (k = 0; k < 5; k++)
					if ((int)strlen(cells[k]) > w[k])
						w[k] = (int)strlen(cells[k]);
			}
		}
	}
	return RC_OK;
}

int list_json(const struct apmatrix_host *host,
		     const struct apmatrix_apqns *filter, const char *apmask,
		     const char *aqmask)
{
	struct json_object *root, *cards;
	unsigned int i, j, ncards = apmatrix_host_num_cards(host);
	char buf[16];
	int rc;

	root = json_object_new_object();
	cards = json_object_new_array();
	if (!root || !cards) {
		json_object_put(root);
		json_object_put(cards);
		errmsg("out of memory");
		return RC_HOST;
	}
	json_add(root, "format_version", json_object_new_int(1));
	json_add(root, "max_adapter_id",
		 json_object_new_int((int)apmatrix_host_max_adapter_id(host)));
	json_add(root, "max_domain_id",
		 json_object_new_int((int)apmatrix_host_max_domain_id(host)));
	json_add(root, "apmask", json_object_new_string(apmask));
	json_add(root, "aqmask", json_object_new_string(aqmask));
	for (i = 0; i < ncards; i++) {
		const struct apmatrix_card *c = apmatrix_host_card(host, i);
		const char *type = apmatrix_card_type(c);
		const char *cdrv = apmatrix_card_driver(c);
		struct json_object *jc, *qs;

		if (!card_selected(filter, c))
			continue;
		jc = json_object_new_object();
		qs = json_object_new_array();
		snprintf(buf, sizeof(buf), "%02x", apmatrix_card_id(c));
		json_add(jc, "id", json_object_new_string(buf));
		json_add(jc, "type", type ? json_object_new_string(type) : NULL);
		json_add(jc, "driver",
			 cdrv ? json_object_new_string(cdrv) : NULL);
		json_add(jc, "online", json_tristate(apmatrix_card_online(c)));
		json_add(jc, "config", json_tristate(apmatrix_card_config(c)));
		json_add(jc, "chkstop", json_tristate(apmatrix_card_chkstop(c)));
		for (j = 0; j < apmatrix_card_num_queues(c); j++) {
			const struct apmatrix_queue *q = apmatrix_card_queue(c, j);
			const char *drv = apmatrix_queue_driver(q);
			struct json_object *jq;

			if (!queue_selected(filter, q))
				continue;
			jq = json_object_new_object();
			snprintf(buf, sizeof(buf), "%02x.%04x",
				 apmatrix_queue_apid(q), apmatrix_queue_apqi(q));
			json_add(jq, "apqn", json_object_new_string(buf));
			json_add(jq, "online",
				 json_tristate(apmatrix_queue_online(q)));
			json_add(jq, "config",
				 json_tristate(apmatrix_queue_config(q)));
			json_add(jq, "chkstop",
				 json_tristate(apmatrix_queue_chkstop(q)));
			json_add(jq, "driver",
				 drv ? json_object_new_string(drv) : NULL);
			json_add(jq, "holder",
				 json_object_new_string(holder_name(q)));
			{
				const char *st = apmatrix_queue_state_text(q);
				pid_t pid;
				enum apmatrix_queue_state qs_ = apmatrix_queue_state(q, &pid);

				json_add(jq, "apmatrix_state",
					 qs_ == APMATRIX_QSTATE_NONE ? NULL :
					 json_object_new_string(qs_ == APMATRIX_QSTATE_IN_USE ?
								"in use" : st));
				json_add(jq, "apmatrix_pid",
					 qs_ == APMATRIX_QSTATE_IN_USE ?
					 json_object_new_int((int)pid) : NULL);
			}
			json_object_array_add(qs, jq);
		}
		json_add(jc, "queues", qs);
		json_object_array_add(cards, jc);
	}
	json_add(root, "adapters", cards);
	rc = print_json(root);
	json_object_put(root);
	return rc;
}

int print_mask_change(const char *name, const struct apmatrix_matrix *before,
			     const struct apmatrix_matrix *after,
			     enum apmatrix_part part)
{
	char b[80], n[80];

	if (apmatrix_matrix_format_mask(before, part, b, sizeof(b)) < 0 ||
	    apmatrix_matrix_format_mask(after, part, n, sizeof(n)) < 0)
		return -EINVAL;
	if (strcmp(b, n))
		printf("%s: %s -> %s\n", name, b, n);
	else
		printf("%s: %s (unchanged)\n", name, b);
	return 0;
}

/* {"before": "0x...", "after": "0x..."} of one mask, NULL on error. */
static struct json_object *json_mask_change(const struct apmatrix_matrix *before,
					    const struct apmatrix_matrix *after,
					    enum apmatrix_part part)
{
	struct json_object *o;
	char b[80], n[80];

	if (apmatrix_matrix_format_mask(before, part, b, sizeof(b)) < 0 ||
	    apmatrix_matrix_format_mask(after, part, n, sizeof(n)) < 0)
		return NULL;
	o = json_object_new_object();
	if (!o)
		return NULL;
	json_add(o, "before", json_object_new_string(b));
	json_add(o, "after", json_object_new_string(n));
	return o;
}

/* A JSON array of the APQNs of s, ascending. */
struct json_object *json_apqns(const struct apmatrix_apqns *s)
{
	struct json_object *arr = json_object_new_array();
	struct apmatrix_apqns_iter it;
	unsigned int apid, apqi;
	char buf[16];

	apmatrix_apqns_iter_init(&it);
	while (arr && apmatrix_apqns_next(s, &it, &apid, &apqi)) {
		snprintf(buf, sizeof(buf), "%02x.%04x", apid, apqi);
		json_object_array_add(arr, json_object_new_string(buf));
	}
	return arr;
}

const char *claim_action_name(enum apmatrix_claim_action action)
{
	switch (action) {
	case APMATRIX_CLAIM_KEPT: return "kept";
	case APMATRIX_CLAIM_MOVED: return "moved";
	case APMATRIX_CLAIM_BOUND: return "bound";
	case APMATRIX_CLAIM_LEFT: return "left";
	case APMATRIX_CLAIM_REFUSED: return "refused";
	case APMATRIX_CLAIM_REPROBE: return "reprobe";
	}
	return "?";
}

/* reserve's queues: [{"apqn", "driver", "action", "reason"}] */
static struct json_object *json_claim(const struct apmatrix_claim *claim)
{
	struct json_object *arr = json_object_new_array();
	enum apmatrix_claim_action act;
	const char *drv, *why;
	unsigned int i, a, d;
	char name[16];

	for (i = 0; arr && i < apmatrix_claim_count(claim); i++) {
		struct json_object *o = json_object_new_object();

		if (!o || apmatrix_claim_get(claim, i, &a, &d, &act, &drv, &why) < 0) {
			json_object_put(o);
			continue;
		}
		snprintf(name, sizeof(name), "%02x.%04x", a, d);
		json_add(o, "apqn", json_object_new_string(name));
		json_add(o, "driver", drv ? json_object_new_string(drv) : NULL);
		json_add(o, "action", json_object_new_string(claim_action_name(act)));
		json_add(o, "reason", why ? json_object_new_string(why) : NULL);
		json_object_array_add(arr, o);
	}
	return arr;
}

int plan_json(const struct apmatrix_plan *plan,
		     const struct apmatrix_apqns *absent, bool applied,
		     const struct apmatrix_claim *claim)
{
	struct json_object *root, *ap = NULL, *aq = NULL, *coll;
	struct apmatrix_matrix *before, *after;
	const struct apmatrix_apqns *c = apmatrix_plan_collateral(plan);
	int rc = RC_HOST;

	before = apmatrix_matrix_new();
	after = apmatrix_matrix_new();
	root = json_object_new_object();
	coll = json_apqns(c);
	if (!before || !after || !root || !coll ||
	    apmatrix_plan_get_masks(plan, false, before) < 0 ||
	    apmatrix_plan_get_masks(plan, true, after) < 0 ||
	    !(ap = json_mask_change(before, after, APMATRIX_ADAPTERS)) ||
	    !(aq = json_mask_change(before, after, APMATRIX_DOMAINS))) {
		errmsg("cannot read the plan's masks");
		json_object_put(ap);
		json_object_put(coll);
		goto out;
	}
	json_add(root, "format_version", json_object_new_int(1));
	json_add(root, "apmask", ap);
	json_add(root, "aqmask", aq);
	json_add(root, "collateral", coll);
	json_add(root, "absent", json_apqns(absent));
	json_add(root, "applied", json_object_new_boolean(applied));
	json_add(root, "queues", json_claim(claim));
	rc = print_json(root);
out:
	json_object_put(root);
	apmatrix_matrix_free(after);
	apmatrix_matrix_free(before);
	return rc;
}

struct json_object *json_ids(const struct apmatrix_matrix *m,
				    enum apmatrix_part part, const char *fmt)
{
	struct json_object *arr = json_object_new_array();
	char buf[8];
	unsigned int id;

	for (id = 0; id <= APMATRIX_MAX_ID; id++) {
		if (!apmatrix_matrix_test(m, part, id))
			continue;
		snprintf(buf, sizeof(buf), fmt, id);
		json_object_array_add(arr, json_object_new_string(buf));
	}
	return arr;
}

int get_json(const struct apmatrix_matrix *m)
{
	static const struct {
		const char *ids, *mask, *fmt;
		enum apmatrix_part part;
	} parts[] = {
		{ "adapters", "apm", "%02x", APMATRIX_ADAPTERS },
		{ "domains", "aqm", "%04x", APMATRIX_DOMAINS },
		{ "control_domains", "adm", "%04x", APMATRIX_CONTROL_DOMAINS },
	};
	struct json_object *root = json_object_new_object(), *apqns;
	unsigned int a, d, i;
	char buf[80];
	int rc;

	if (!root) {
		errmsg("out of memory");
		return RC_HOST;
	}
	json_add(root, "format_version", json_object_new_int(1));
	apqns = json_object_new_array();
	for (a = 0; a <= APMATRIX_MAX_ID; a++) {
		if (!apmatrix_matrix_test(m, APMATRIX_ADAPTERS, a))
			continue;
		for (d = 0; d <= APMATRIX_MAX_ID; d++) {
			if (!apmatrix_matrix_test(m, APMATRIX_DOMAINS, d))
				continue;
			snprintf(buf, sizeof(buf), "%02x.%04x", a, d);
			json_object_array_add(apqns,
					      json_object_new_string(buf));
		}
	}
	json_add(root, "apqns", apqns);
	for (i = 0; i < 3; i++)
		json_add(root, parts[i].ids,
			 json_ids(m, parts[i].part, parts[i].fmt));
	for (i = 0; i < 3; i++) {
		if (apmatrix_matrix_format_mask(m, parts[i].part, buf,
						sizeof(buf)) < 0)
			buf[0] = '\0';
		json_add(root, parts[i].mask, json_object_new_string(buf));
	}
	rc = print_json(root);
	json_object_put(root);
	return rc;
}

int get_human(const struct apmatrix_matrix *m)
{
	static const struct {
		const char *label;
		enum apmatrix_part part;
	} parts[] = {
		{ "adapters", APMATRIX_ADAPTERS },
		{ "domains", APMATRIX_DOMAINS },
		{ "control domains", APMATRIX_CONTROL_DOMAINS },
	};
	char *s;
	unsigned int i;

	s = FORMAT_ALLOC(apmatrix_matrix_format_apqns, m);
	if (!s)
		goto nomem;
	printf("apqns: %s\n", *s ? s : "none");
	free(s);
	for (i = 0; i < 3; i++) {
		s = FORMAT_ALLOC(apmatrix_matrix_format_ids, m, parts[i].part);
		if (!s)
			goto nomem;
		printf("%s: %s\n", parts[i].label, *s ? s : "none");
		free(s);
	}
	return RC_OK;
nomem:
	errmsg("cannot format the matrix: out of memory");
	return RC_HOST;
}

/*
 * set --json: whether the matrix was taken, and each finding of explain
 * (rule, reason, APQNs, IDs) when it was refused. RC_OK or RC_HOST.
 */
int set_json(const struct args *a, int err,
		    const struct apmatrix_explanation *x)
{
	static const struct {
		const char *key, *fmt;
		enum apmatrix_part part;
	} parts[] = {
		{ "adapters", "%02x", APMATRIX_ADAPTERS },
		{ "domains", "%04x", APMATRIX_DOMAINS },
		{ "control_domains", "%04x", APMATRIX_CONTROL_DOMAINS },
	};
	struct json_object *root = json_object_new_object(), *arr;
	unsigned int i, k, n = apmatrix_explanation_count(x);
	struct apmatrix_matrix *none = apmatrix_matrix_new();
	int rc;

	arr = json_object_new_array();
	if (!root || !arr || !none) {
		json_object_put(root);
		json_object_put(arr);
		apmatrix_matrix_free(none);
		errmsg("out of memory");
		return RC_HOST;
	}
	json_add(root, "format_version", json_object_new_int(1));
	json_add(root, "accepted", json_object_new_boolean(err == 0));
	json_add(root, "applied", json_object_new_boolean(err == 0 && !a->validate_only));
	json_add(root, "errno", err ? json_object_new_string(ERRNAME(err)) : NULL);
	for (i = 0; i < n; i++) {
		const struct apmatrix_apqns *s;
		const struct apmatrix_matrix *ids;
		struct json_object *f = json_object_new_object();
		const char *reason;
		int ferr;

		if (apmatrix_explanation_get(x, i, &ferr, &reason, &s, &ids) < 0)
			break;
		json_add(f, "rule", json_object_new_string(ERRNAME(ferr)));
		json_add(f, "reason", json_object_new_string(reason));
		json_add(f, "apqns", json_apqns(s));
		for (k = 0; k < 3; k++)
			json_add(f, parts[k].key,
				 json_ids(ids ? ids : none, parts[k].part, parts[k].fmt));
		json_object_array_add(arr, f);
	}
	json_add(root, "refused", arr);
	rc = print_json(root);
	json_object_put(root);
	apmatrix_matrix_free(none);
	return rc;
}

