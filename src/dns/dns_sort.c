/* dns_sort: MX records in the order RFC 5321 5.1 asks for: lowest
 * preference first, hosts of equal preference in random order so that
 * senders spread their load over them. */
#include "config.h"

#include <stddef.h>

#include "tlsrelay/dns.h"

/* Fisher-Yates over mx[lo..hi). */
static void
shuffle(struct dns_mx *mx, size_t lo, size_t hi, unsigned int (*rnd)(void))
{
	struct dns_mx tmp;
	size_t i, j;

	for (i = hi - 1; i > lo; i--) {
		j = lo + rnd() % (unsigned int)(i - lo + 1);
		tmp = mx[i];
		mx[i] = mx[j];
		mx[j] = tmp;
	}
}

void
dns_mx_sort(struct dns_mx *mx, size_t n, unsigned int (*rnd)(void))
{
	struct dns_mx cur;
	size_t i, j, run;

	/* Insertion sort: stable, and an MX set is a handful of records. */
	for (i = 1; i < n; i++) {
		cur = mx[i];
		for (j = i; j > 0 && mx[j - 1].preference > cur.preference; j--)
			mx[j] = mx[j - 1];
		mx[j] = cur;
	}
	for (i = 0; i < n; i = run) {
		for (run = i + 1; run < n &&
		    mx[run].preference == mx[i].preference; run++)
			;
		if (run - i > 1)
			shuffle(mx, i, run, rnd);
	}
}
