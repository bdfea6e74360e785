/* spool_format: the record types and limits of a queue file, shared by
 * its writer and its reader. Documented in SPOOL-FORMAT.md. */
#ifndef TLSRELAY_SPOOL_FORMAT_H
#define TLSRELAY_SPOOL_FORMAT_H

#define SPOOL_MAGIC		"TLSRELAY-QUEUE "

/* Upper-case record types are critical: a reader that does not know one
 * must refuse the file. Lower-case ones are optional: it skips them. */
#define SPOOL_REC_ID		'I'
#define SPOOL_REC_TIME		'T'
#define SPOOL_REC_CLIENT_NAME	'N'
#define SPOOL_REC_CLIENT_ADDR	'A'
#define SPOOL_REC_HELO		'H'
#define SPOOL_REC_PROTOCOL	'P'
#define SPOOL_REC_TLS		'X'
#define SPOOL_REC_BODY		'B'
#define SPOOL_REC_SENDER	'S'
#define SPOOL_REC_RCPT		'R'
#define SPOOL_REC_CONTENT	'M'
/* Optional: the content's length in SPOOL_SIZE_DIGITS decimal digits,
 * written as zeros with the envelope and set in place at commit, so that
 * a file cut short (or grown) later is found instead of delivered. */
#define SPOOL_REC_CONTENT_SIZE	'z'
#define SPOOL_SIZE_DIGITS	20

#define SPOOL_STATUS_PENDING	' '
#define SPOOL_STATUS_DELIVERED	'D'
#define SPOOL_STATUS_BOUNCED	'B'

#define SPOOL_BODY_7BIT		"7BIT"
#define SPOOL_BODY_8BIT		"8BITMIME"

/* Longest value in an envelope record; a record is at most the type,
 * the status byte, the value and LF. */
#define SPOOL_VALUE_MAX		16384
#define SPOOL_RECORD_MAX	(SPOOL_VALUE_MAX + 3)

#endif
