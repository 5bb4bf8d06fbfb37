/*
 * ea_link_host.c - the host port's byte link. Output is buffered and flushed before every
 * blocking read, so a reply reaches the client exactly when the firmware waits for more input.
 */
#define _POSIX_C_SOURCE 200809L

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ea_link_host.h"

static FILE *link_in;
static FILE *link_out;

static void default_to_stdio(void)
{
    if (!link_in) {
        link_in = stdin;
        link_out = stdout;
    }
}

int ea_link_open(const char *spec)
{
    char host[256];
    const char *port;
    struct addrinfo hints, *addr = 0;
    int server, client, one = 1;
    if (strncmp(spec, "tcp:", 4) != 0)
        return -1;
    port = strrchr(spec + 4, ':');
    if (!port || (size_t)(port - (spec + 4)) >= sizeof host)
        return -1;
    memcpy(host, spec + 4, (size_t)(port - (spec + 4)));
    host[port - (spec + 4)] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(host, port + 1, &hints, &addr) != 0)
        return -1;
    server = socket(addr->ai_family, addr->ai_socktype, addr->ai_protocol);
    if (server < 0) {
        freeaddrinfo(addr);
        return -1;
    }
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(server, addr->ai_addr, addr->ai_addrlen) != 0 || listen(server, 1) != 0) {
        freeaddrinfo(addr);
        close(server);
        return -1;
    }
    freeaddrinfo(addr);
    client = accept(server, 0, 0);
    close(server);
    if (client < 0)
        return -1;
    link_in = fdopen(client, "rb");
    link_out = fdopen(dup(client), "wb");
    return link_in && link_out ? 0 : -1;
}

int ea_link_getc(void)
{
    int c;
    default_to_stdio();
    fflush(link_out);
    c = fgetc(link_in);
    return c == EOF ? -1 : c;
}

void ea_link_write(const void *buf, uint32_t n)
{
    default_to_stdio();
    fwrite(buf, 1, n, link_out);
}

void ea_link_flush(void)
{
    default_to_stdio();
    fflush(link_out);
}
