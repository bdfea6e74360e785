/* shm: memory shared by the supervisor and the children it forks. The
 * mapping is anonymous and MAP_SHARED, made before fork(): the children
 * inherit it, nothing is named in the file system, and it goes away with
 * the last process that maps it. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

void *
shm_map(size_t len, const char *what)
{
	void *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (map == MAP_FAILED)
		msg_fatal("%s: mmap %zu bytes: %s", what, len, strerror(errno));
	/* Zero-filled by the kernel. */
	return map;
}

void
shm_unmap(void *map, size_t len)
{
	if (map != NULL)
		munmap(map, len);
}
