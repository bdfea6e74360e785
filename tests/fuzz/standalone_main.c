/* A main() for the fuzz harnesses without libFuzzer: runs
 * LLVMFuzzerTestOneInput once over every file named on the command line,
 * and over every file in each directory named (sorted, not recursive).
 * With no arguments it runs the empty input. A harness reports a bug by
 * crashing (abort() or a sanitizer), so reaching the end means success. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	uint8_t *data;
	size_t size;

	if (fp == NULL || fstat(fileno(fp), &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (fp)
			fclose(fp);
		return -1;
	}
	size = (size_t)st.st_size;
	/* Exactly size bytes, so that a sanitizer sees any overread. */
	data = malloc(size ? size : 1);
	if (data == NULL || fread(data, 1, size, fp) != size) {
		fprintf(stderr, "%s: read error\n", path);
		free(data);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	fprintf(stderr, "running %s (%zu bytes)\n", path, size);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file in dir; returns the count, or -1 on error. */
static int
run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int ran = 0;

	if (d == NULL) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				abort();
		}
		if ((names[n] = malloc(strlen(dir) + strlen(de->d_name) + 2))
		    == NULL)
			abort();
		sprintf(names[n++], "%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), compare_names);
	for (i = 0; i < n; i++) {
		struct stat st;

		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(names[i]) < 0)
				ran = -1;
			else if (ran >= 0)
				ran++;
		}
		free(names[i]);
	}
	free(names);
	return ran;
}

int
main(int argc, char **argv)
{
	int i, total = 0, status = 0;

	if (argc < 2) {
		LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
		total = 1;
	}
	for (i = 1; i < argc; i++) {
		struct stat st;
		int n;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		n = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
		if (n < 0)
			status = 1;
		else
			total += S_ISDIR(st.st_mode) ? n : 1;
	}
	fprintf(stderr, "%s: %d inputs run\n", argv[0], total);
	return status;
}
