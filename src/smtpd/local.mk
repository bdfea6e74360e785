include src/smtpd/parsers.mk
