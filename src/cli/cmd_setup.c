/* tlsrelay setup: the one step after `make install`.
 *
 *	tlsrelay setup [-c confdir]
 *
 * As root: main.cf and master.cf from the installed samples when there
 * are none yet, the mail_owner user and the setgid_group group when they
 * are missing (useradd and groupadd, as Debian's packages create system
 * users), then queue_directory and data_directory with the owners and
 * modes tlsrelayd gives them (setup_directories, shared with the
 * daemon). Running it again changes nothing that is right already. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/setup.h"
#include "tlsrelay/util.h"

#include "cli.h"

/* confdir/name from confdir/name.sample, unless it exists. */
static int
install_sample(const char *confdir, const char *name)
{
	char *path = xasprintf("%s/%s", confdir, name);
	char *sample = xasprintf("%s.sample", path);
	char *text, *err = NULL;
	size_t len;
	int fd, rc = 0;

	if (access(path, F_OK) == 0 || (text = file_read(sample, &len,
	    &err)) == NULL) {
		if (err != NULL && access(path, F_OK) != 0) {
			fprintf(stderr, "tlsrelay: error: %s, and no %s: "
			    "write one\n", err, path);
			rc = -1;
		}
		free(err);
		free(path);
		free(sample);
		return rc;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, text, len) < 0 || fsync(fd) < 0) {
		fprintf(stderr, "tlsrelay: error: %s: %s\n", path,
		    strerror(errno));
		rc = -1;
	} else {
		printf("tlsrelay setup: %s made from %s\n", path, sample);
	}
	if (fd >= 0)
		close(fd);
	free(text);
	free(path);
	free(sample);
	return rc;
}

static int
run(char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "tlsrelay: error: %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int
make_group(const char *name)
{
	char *argv[] = { "groupadd", "--system", (char *)name, NULL };

	if (getgrnam(name) != NULL)
		return 0;
	if (run(argv) < 0) {
		fprintf(stderr, "tlsrelay: error: groupadd --system %s "
		    "failed\n", name);
		return -1;
	}
	printf("tlsrelay setup: group %s created\n", name);
	return 0;
}

static int
make_user(const char *name)
{
	char *argv[] = { "useradd", "--system", "--no-create-home",
	    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
	    (char *)name, NULL };

	if (getpwnam(name) != NULL)
		return 0;
	if (run(argv) < 0) {
		fprintf(stderr, "tlsrelay: error: useradd --system %s "
		    "failed\n", name);
		return -1;
	}
	printf("tlsrelay setup: user %s created\n", name);
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: tlsrelay setup [-c confdir]\n");
	return 2;
}

int
cmd_setup(int argc, char **argv)
{
	const char *confdir = SYSCONFDIR;
	struct run_user user;
	struct conf *conf;
	char *err = NULL;
	int ch, rc = 0;

	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c')
			return usage();
		confdir = optarg;
	}
	if (optind != argc)
		return usage();
	if (geteuid() != 0) {
		fprintf(stderr, "tlsrelay: error: setup makes users, groups "
		    "and directories: run it as root\n");
		return 1;
	}
	if (install_sample(confdir, "main.cf") < 0 ||
	    install_sample(confdir, "master.cf") < 0)
		return 1;
	if ((conf = conf_load(confdir, &err)) == NULL) {
		for (char *line = strtok(err, "\n"); line != NULL;
		    line = strtok(NULL, "\n"))
			fprintf(stderr, "tlsrelay: error: %s\n", line);
		free(err);
		return 1;
	}
	if (make_user(conf_str(conf, P_mail_owner)) < 0 ||
	    make_group(conf_str(conf, P_setgid_group)) < 0 ||
	    run_user_lookup(conf, &user, &err) < 0 ||
	    setup_directories(conf, &user, &err) < 0) {
		if (err != NULL)
			fprintf(stderr, "tlsrelay: error: %s\n", err);
		free(err);
		rc = 1;
	} else {
		printf("tlsrelay setup: %s and %s are ready; next: "
		    "tlsrelay check -c %s\n", conf_str(conf, P_queue_directory),
		    conf_str(conf, P_data_directory), confdir);
		free(user.name);
	}
	conf_free(conf);
	return rc;
}
