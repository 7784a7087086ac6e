/*
 * cmd_retention.c: applying a server's retention policy: cron's step 4
 * (Barman 3.4's BackupManager.cron_retention_policy()) and barrel's own
 * `retention SERVER_NAME [--dry-run]`, which does the same on demand and
 * says why each backup stays or goes.
 *
 * Recipe (spec 7.7): finish deletes a crash interrupted; label every backup
 * once (retention_evaluate); delete the OBSOLETE ones in ascending ID order
 * with the retention flavour of the delete algorithm (KEEP:STANDALONE
 * predecessors keep only their own WAL range). OBSOLETE*, kept and non-DONE
 * backups are never touched. A dry run simulates the same sequence on the
 * engine alone (each planned delete sees the earlier ones as gone) and lists
 * the WAL each one would remove; it changes nothing.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

#include <getopt.h>

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/retention.h"
#include "barrel/timestamp.h"

/* Barman's enforce_retention_policies and retention_policy_mode == "auto" */
static int
policy_enforced(const struct server_config *srv)
{
    return srv->retention_policy.kind != RETENTION_NONE
           && (srv->retention_policy_mode == NULL || strcmp(srv->retention_policy_mode, "auto") == 0);
}

/*
 * What a crash interrupted: a WAL removal (its journal), a half-removed
 * backup directory, deletes (Barman >= 3.12 finishes them in cron too).
 */
static int
resume_interrupted(const struct cmd_context *ctx, const struct server_config *srv, struct br_error *err)
{
    const char *lock_dir = ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
    struct catalog *cat;

    if (catalog_wal_remove_recover(srv, lock_dir, err) != 0 || catalog_delete_recover(srv, err) != 0)
        return -1;
    cat = catalog_open(srv, err);
    if (cat == NULL)
        return -1;
    for (size_t i = 0; i < cat->n_backups; i++) {
        if (!catalog_delete_marker_exists(srv, cat->backups[i]->backup_id))
            continue;
        if (cmd_delete_backup(ctx, srv, cat->backups[i]->backup_id, RETENTION_DELETE_MANUAL, 0, err) < 0) {
            catalog_free(cat);
            return -1;
        }
    }
    catalog_free(cat);
    return 0;
}

/* The labels of the catalog now, with the view they were computed on (caller frees both). */
static void
label(const struct catalog *cat, struct retention_backup **view, enum retention_status **labels,
      enum retention_reason **why)
{
    const struct server_config *srv = cat->srv;
    struct br_timestamp now;

    *view = cmd_retention_view(cat);
    *labels = br_calloc(cat->n_backups + 1, sizeof(**labels));
    *why = br_calloc(cat->n_backups + 1, sizeof(**why));
    br_timestamp_now(&now);
    retention_evaluate_explained(*view, cat->n_backups, &srv->retention_policy, srv->minimum_redundancy,
                                 now.epoch_usec, *labels, *why);
}

/* Delete the OBSOLETE backups in ascending ID order (the labels are computed once, as Barman does). */
static int
enforce(const struct cmd_context *ctx, const struct catalog *cat, const enum retention_status *labels,
        struct br_error *err)
{
    const struct server_config *srv = cat->srv;

    for (size_t i = 0; i < cat->n_backups; i++) {
        if (labels[i] != RETENTION_STATUS_OBSOLETE)
            continue;
        output_info("Enforcing retention policy: removing backup %s for server %s", cat->backups[i]->backup_id,
                    srv->name);
        if (cmd_delete_backup(ctx, srv, cat->backups[i]->backup_id, RETENTION_DELETE_POLICY, 0, err) < 0)
            return -1;
    }
    return 0;
}

/* The same sequence, planned only: what would go, and which WAL with it. */
static int
simulate(const struct cmd_context *ctx, const struct catalog *cat, struct retention_backup *view,
         const enum retention_status *labels, struct br_error *err)
{
    const struct server_config *srv = cat->srv;
    struct retention_delete_plan *plans = br_calloc(cat->n_backups + 1, sizeof(*plans));
    const struct retention_delete_plan **done = br_calloc(cat->n_backups + 1, sizeof(*done));
    size_t n_plans = 0, n_done = 0;
    int rc = 0, any = 0;

    for (size_t i = 0; i < cat->n_backups && rc == 0; i++) {
        struct retention_delete_plan *plan = &plans[n_plans++];

        if (labels[i] != RETENTION_STATUS_OBSOLETE)
            continue;
        any = 1;
        retention_plan_delete(view, cat->n_backups, i, srv->minimum_redundancy,
                              (srv->backup_options & BACKUP_OPT_CONCURRENT) != 0, RETENTION_DELETE_POLICY, plan);
        if (plan->refusal == RETENTION_REFUSE_KEEP) {
            output_info("Dry run: backup %s would be skipped: it has a keep request", view[i].backup_id);
            continue;
        }
        if (plan->refusal == RETENTION_REFUSE_MINIMUM_REDUNDANCY) {
            output_info("Dry run: backup %s would be skipped: minimum redundancy = %d, current redundancy = %d",
                        view[i].backup_id, srv->minimum_redundancy, plan->done_count);
            continue;
        }
        output_info("Dry run: would remove backup %s for server %s", view[i].backup_id, srv->name);
        if (plan->remove_wals) {
            output_info("Dry run: would delete associated WAL segments:");
            rc = cmd_retention_list_wal(ctx, srv, plan, done, n_done, err);
            done[n_done++] = plan;
        } else {
            cmd_retention_explain_no_wal(plan, view);
        }
        view[i].gone = 1;
    }
    if (!any)
        output_info("Dry run: nothing to remove for server %s", srv->name);
    for (size_t i = 0; i < n_plans; i++)
        retention_delete_plan_reset(&plans[i]);
    free(plans);
    free(done);
    return rc;
}

/* One line per backup: its label and why (the `retention` command). */
static void
explain(const struct catalog *cat, const enum retention_status *labels, const enum retention_reason *why)
{
    const struct server_config *srv = cat->srv;
    char policy[64], reason[256];

    retention_policy_format(&srv->retention_policy, policy, sizeof(policy));
    output_info("Retention policy for server %s: %s (minimum redundancy %d)", srv->name, policy,
                srv->minimum_redundancy);
    for (size_t i = cat->n_backups; i-- > 0;) {
        const struct backup_info *bi = cat->backups[i];

        retention_reason_text(why[i], &srv->retention_policy, srv->minimum_redundancy, reason, sizeof(reason));
        output_info("  %s %-16s %-15s %s", bi->backup_id, backup_status_name(bi->status),
                    retention_status_name(labels[i]), reason);
    }
}

static int
apply(const struct cmd_context *ctx, const struct server_config *srv, int verbose, int dry_run, struct br_error *err)
{
    struct catalog *cat = NULL;
    struct retention_backup *view = NULL;
    enum retention_status *labels = NULL;
    enum retention_reason *why = NULL;
    int rc = -1;

    if (!dry_run && resume_interrupted(ctx, srv, err) != 0)
        return -1;
    if (!policy_enforced(srv)) {
        if (verbose)
            output_info("Retention policies are not enforced for server %s", srv->name);
        return 0;
    }
    cat = catalog_open(srv, err);
    if (cat == NULL)
        return -1;
    label(cat, &view, &labels, &why);
    if (verbose)
        explain(cat, labels, why);
    rc = dry_run ? simulate(ctx, cat, view, labels, err) : enforce(ctx, cat, labels, err);
    free(why);
    free(labels);
    free(view);
    catalog_free(cat);
    return rc;
}

void
cmd_retention_enforce(const struct cmd_context *ctx, const struct server_config *srv)
{
    struct br_error err;

    br_error_clear(&err);
    if (apply(ctx, srv, 0, 0, &err) != 0)
        output_error("%s", err.msg);
}

int
cmd_retention(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"dry-run", no_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    const struct server_config *srv;
    int dry_run = 0, c;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_help(cmd_find("retention"),
                           "  --dry-run             Print each backup's retention status and why, what would\n"
                           "                        be removed (backups and WAL segments), and change nothing\n");
            return 0;
        }
        if (c == 'n') {
            dry_run = 1;
            continue;
        }
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
    }
    if (argc - optind < 1)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: server_name");
    if (argc - optind > 1)
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind + 1]);
    srv = cmd_single_server(ctx, &argv[optind]);
    if (srv == NULL)
        return 0;
    return apply(ctx, srv, 1, dry_run, err);
}
