# Local submission: the maildrop file, the rewriting of local mail, the
# pickup inside the queue manager (include/tlsrelay/maildrop.h), and the
# sendmail command (src/cli/sendmail.c).
libtlsrelay_a_SOURCES += \
	src/maildrop/addr_list.c \
	src/maildrop/local_message.c \
	src/maildrop/maildrop_file.c \
	src/maildrop/pickup.c

sbin_PROGRAMS += tlsrelay-sendmail
tlsrelay_sendmail_SOURCES = src/cli/sendmail.c
tlsrelay_sendmail_LDADD = $(LIBTLSRELAY)

check_PROGRAMS += tests/unit/check_maildrop
TESTS += tests/unit/check_maildrop
tests_unit_check_maildrop_SOURCES = tests/unit/check_maildrop.c
tests_unit_check_maildrop_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_maildrop_LDADD = $(UNIT_LDADD)

# tlsrelay-sendmail is set-group-ID to setgid_group (default tlsdrop), as
# Postfix's postdrop: only root can give it that, and only when the group
# exists; otherwise say what to do.
install-exec-hook: install-sendmail-setgid
install-sendmail-setgid:
	@f="$(DESTDIR)$(sbindir)/tlsrelay-sendmail"; \
	if [ "$$(id -u)" = 0 ] && getent group tlsdrop >/dev/null; then \
		chgrp tlsdrop "$$f" && chmod 2755 "$$f"; \
	else \
		echo "note: $$f is not set-group-ID tlsdrop; as root:" \
		    "groupadd --system tlsdrop; chgrp tlsdrop $$f;" \
		    "chmod 2755 $$f"; \
	fi
.PHONY: install-sendmail-setgid
