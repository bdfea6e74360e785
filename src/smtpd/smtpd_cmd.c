/* smtpd_cmd: split an SMTP command line into verb and argument. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "tlsrelay/smtpd_parse.h"

/* Space and tab separate words; CR and LF can only be stray leftovers of a
 * line end, and count as white space so they never reach an argument's end. */
#define CMD_SPACE " \t\r\n"

static const struct {
	enum smtp_verb verb;
	const char *name;	/* lower case, as in Postfix's disconnect line */
} verb_table[] = {
	{SMTP_VERB_HELO, "helo"},
	{SMTP_VERB_EHLO, "ehlo"},
	{SMTP_VERB_MAIL, "mail"},
	{SMTP_VERB_RCPT, "rcpt"},
	{SMTP_VERB_DATA, "data"},
	{SMTP_VERB_RSET, "rset"},
	{SMTP_VERB_NOOP, "noop"},
	{SMTP_VERB_QUIT, "quit"},
	{SMTP_VERB_VRFY, "vrfy"},
	{SMTP_VERB_EXPN, "expn"},
	{SMTP_VERB_HELP, "help"},
	{SMTP_VERB_STARTTLS, "starttls"},
	{SMTP_VERB_AUTH, "auth"},
	{SMTP_VERB_BDAT, "bdat"},
	{SMTP_VERB_ETRN, "etrn"},
};

#define VERB_COUNT (sizeof(verb_table) / sizeof(verb_table[0]))

void
smtpd_parse_command(char *line, struct smtp_command *cmd)
{
	char *word, *end;
	size_t word_len, i;

	/* Cut trailing white space first: arg then ends where the text does. */
	end = line + strlen(line);
	while (end > line && strchr(CMD_SPACE, end[-1]) != NULL)
		*--end = '\0';

	word = line + strspn(line, CMD_SPACE);
	word_len = strcspn(word, CMD_SPACE);

	cmd->verb = SMTP_VERB_UNKNOWN;
	for (i = 0; i < VERB_COUNT; i++) {
		if (strlen(verb_table[i].name) == word_len
		    && strncasecmp(word, verb_table[i].name, word_len) == 0) {
			cmd->verb = verb_table[i].verb;
			break;
		}
	}
	cmd->arg = word + word_len + strspn(word + word_len, CMD_SPACE);
}

const char *
smtpd_verb_name(enum smtp_verb verb)
{
	size_t i;

	for (i = 0; i < VERB_COUNT; i++)
		if (verb_table[i].verb == verb)
			return verb_table[i].name;
	return "unknown";
}
