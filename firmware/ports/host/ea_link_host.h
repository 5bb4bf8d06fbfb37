/*
 * ea_link_host.h - the host port's link to the client: stdin/stdout, or one TCP connection.
 */
#ifndef EA_LINK_HOST_H
#define EA_LINK_HOST_H

#include <stdint.h>

/* Serve on a TCP server socket: spec is "tcp:HOST:PORT"; waits for one client. 0 or -1. */
int ea_link_open(const char *spec);
int ea_link_getc(void);                       /* -1 when the client is gone */
void ea_link_write(const void *buf, uint32_t n);
void ea_link_flush(void);

#endif /* EA_LINK_HOST_H */
