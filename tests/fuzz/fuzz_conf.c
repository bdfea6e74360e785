/* fuzz_conf: arbitrary bytes as main.cf (and, from a separator on, as
 * master.cf) through conf_load_strings. Whatever the input, loading must
 * end in a configuration or an error message, never a crash, a leak or
 * unbounded memory; a loaded configuration must answer every getter. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every parameter back through its typed getter, and builds each
 * service's view, so those paths run on fuzzed input too. */
static void
exercise(const struct conf *conf)
{
	const struct master_service *const *services;
	const struct conf_param_def *table;
	size_t n, n_services;
	char *err = NULL, *s;

	table = conf_param_table(&n);
	for (size_t i = 0; i < n; i++) {
		/* The table's order is the identifiers' order. */
		int param = (int)i;
		const char *value = conf_text(conf, param);

		if (value == NULL)
			abort();
		switch (table[i].type) {
		case CONF_BOOL:
			(void)conf_bool(conf, (enum conf_bool_param)param);
			break;
		case CONF_INT:
			(void)conf_int(conf, (enum conf_int_param)param);
			break;
		case CONF_TIME:
			(void)conf_time(conf, (enum conf_time_param)param);
			break;
		case CONF_SIZE:
			(void)conf_size(conf, (enum conf_size_param)param);
			break;
		case CONF_STR:
			break;
		}
		(void)conf_origin(conf, param);
	}
	for (size_t i = 0; conf_set_name(conf, i, NULL) != NULL; i++)
		;
	n_services = conf_services(conf, &services);
	for (size_t i = 0; i < n_services; i++) {
		struct conf *view = conf_for_service(conf, services[i], &err);

		/* conf_load already checked every service's overrides. */
		if (view == NULL)
			abort();
		conf_free(view);
	}
	if ((s = conf_expand(conf, "$myhostname ${mail_name?{x}:{y}}",
	    &err)) == NULL)
		abort();
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char separator[] = "\n%%master.cf\n";
	static int quiet;
	char *text, *master = NULL, *err = NULL;
	struct conf *conf;

	/* Warnings are expected by the thousand; keep them off the
	 * terminal. */
	if (!quiet) {
		char *log_err = NULL;

		if (log_open("/dev/null", 0, NULL, &log_err) < 0)
			free(log_err);
		quiet = 1;
	}
	/* Text ends at the first NUL, as it would when read from a file
	 * (conf_load refuses NUL bytes). */
	text = xstrndup((const char *)data, size);
	if ((master = strstr(text, separator)) != NULL) {
		*master = '\0';
		master += sizeof(separator) - 1;
	}
	conf = conf_load_strings(text, "main.cf", master, "master.cf", &err);
	if (conf == NULL) {
		if (err == NULL)
			abort();
		free(err);
	} else {
		if (err != NULL)
			abort();
		exercise(conf);
		conf_free(conf);
	}
	free(text);
	return 0;
}
