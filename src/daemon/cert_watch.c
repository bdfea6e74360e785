/* cert_watch: certificates renewed on disk are served without a signal.
 * certbot, dehydrated and acme.sh replace a certificate and its key by
 * renaming new files over the old names; the supervisor looks at every
 * TLS file the configuration names (stat, every few seconds: cheap, and
 * it sees a rename, a rewrite in place and a symlink moved alike) and
 * reloads when one changed. The session ticket key file is one of them:
 * configuration management rolls keys over by rewriting it. A reload builds everything again and swaps
 * generations only when all of it is good: a broken new pair is refused
 * with its reason, and the old pair stays in service. Sessions are not
 * cut either way: old workers finish theirs. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/config_build.h"
#include "tlsrelay/util.h"
#include "daemon.h"

struct watched {
	char *path;
	int present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static struct watched *files;
static size_t n_files;

/* The TLS files one view of the configuration names. */
static const enum conf_str_param smtpd_files[] = {
	P_smtpd_tls_cert_file, P_smtpd_tls_key_file, P_smtpd_tls_eccert_file,
	P_smtpd_tls_eckey_file, P_smtpd_tls_chain_files, P_smtpd_tls_CAfile,
	P_smtpd_tls_dh1024_param_file, P_tlsrelay_smtpd_tls_ticket_key_file,
};
static const enum conf_str_param smtp_files[] = {
	P_smtp_tls_cert_file, P_smtp_tls_key_file, P_smtp_tls_eccert_file,
	P_smtp_tls_eckey_file, P_smtp_tls_chain_files, P_smtp_tls_CAfile,
	P_smtp_tls_trust_anchor_file,
};

static void
look(struct watched *w)
{
	struct stat st;

	w->present = stat(w->path, &st) == 0;
	if (!w->present)
		return;
	w->dev = st.st_dev;
	w->ino = st.st_ino;
	w->size = st.st_size;
	w->mtime = st.st_mtim;
}

static void
add(const char *path)
{
	for (size_t i = 0; i < n_files; i++)
		if (strcmp(files[i].path, path) == 0)
			return;
	files = xrealloc(files, (n_files + 1) * sizeof(*files));
	memset(&files[n_files], 0, sizeof(*files));
	files[n_files].path = xstrdup(path);
	look(&files[n_files++]);
}

static void
add_params(const struct conf *conf, const enum conf_str_param *params,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char **words = strlist_split(conf_str(conf, params[i]),
		    LIST_SEPARATORS, NULL);

		for (char **w = words; *w != NULL; w++)
			if (**w == '/')
				add(*w);
		strlist_free(words);
	}
}

void
cert_watch_reset(const struct generation *gen)
{
	for (size_t i = 0; i < n_files; i++)
		free(files[i].path);
	free(files);
	files = NULL;
	n_files = 0;
	for (size_t i = 0; i < gen->n_services; i++)
		add_params(gen->services[i].conf, smtpd_files,
		    sizeof(smtpd_files) / sizeof(smtpd_files[0]));
	if (gen->run_qmgr)
		add_params(gen->conf, smtp_files,
		    sizeof(smtp_files) / sizeof(smtp_files[0]));
}

char *
cert_watch_changed(void)
{
	struct strbuf changed;

	strbuf_init(&changed);
	for (size_t i = 0; i < n_files; i++) {
		struct watched before = files[i];

		look(&files[i]);
		if (before.present == files[i].present &&
		    (!before.present || (before.dev == files[i].dev &&
		    before.ino == files[i].ino &&
		    before.size == files[i].size &&
		    before.mtime.tv_sec == files[i].mtime.tv_sec &&
		    before.mtime.tv_nsec == files[i].mtime.tv_nsec)))
			continue;
		strbuf_printf(&changed, "%s%s", changed.len ? ", " : "",
		    files[i].path);
	}
	if (changed.len == 0) {
		strbuf_free(&changed);
		return NULL;
	}
	return strbuf_steal(&changed);
}
