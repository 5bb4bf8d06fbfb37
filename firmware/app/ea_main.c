/*
 * ea_main.c - the program: bring the board up, announce, serve the protocol.
 * Ports that need their own main() (see docs/decisions.md D7) define EA_PORT_HAS_MAIN and call
 * ea_app_main().
 */
#include "ea_app.h"
#include "ea_proto.h"

int ea_app_main(void)
{
    const char *refused;
    ea_hal_init();
    refused = ea_app_init();
    if (refused)
        ea_put_error_arg("Baked policy refused, running always-small", refused);
    ea_proto_banner();
    ea_proto_serve();
    return 0;
}

#ifndef EA_PORT_HAS_MAIN
int main(void)
{
    return ea_app_main();
}
#endif
