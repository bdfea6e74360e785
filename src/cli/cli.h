/* cli: the verbs of the tlsrelay command. Each takes the arguments after
 * the verb (argv[0] is the verb) and returns the exit status. */
#ifndef TLSRELAY_CLI_H
#define TLSRELAY_CLI_H

int cmd_cache(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_conf(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_setup(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_tls_finger(int argc, char **argv);

#endif
