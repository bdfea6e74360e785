/* Small helpers shared by the Check suites. */
#ifndef TLSRELAY_TESTUTIL_H
#define TLSRELAY_TESTUTIL_H

/* Removes path and everything below it (rm -rf); links are not followed. */
void tu_remove_tree(const char *path);

/* Sends stderr (where msg_warn goes before log_open) to a temporary file
 * until tu_capture_end(), which returns what was written (caller frees). */
void tu_capture_begin(void);
char *tu_capture_end(void);

#endif
