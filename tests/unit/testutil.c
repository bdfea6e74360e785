/* Small helpers shared by the Check suites. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tlsrelay/util.h"
#include "testutil.h"

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
tu_remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int saved_stderr = -1;
static char capture_path[64];

void
tu_capture_begin(void)
{
	int fd;

	snprintf(capture_path, sizeof(capture_path), "/tmp/tu_stderr.XXXXXX");
	fd = mkstemp(capture_path);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

char *
tu_capture_end(void)
{
	char *text, *err = NULL;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	text = file_read(capture_path, NULL, &err);
	ck_assert_msg(text != NULL, "%s", err ? err : "");
	unlink(capture_path);
	return text;
}
