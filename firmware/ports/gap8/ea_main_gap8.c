/*
 * ea_main_gap8.c - the program entry on GAP8. PMSIS wants the application to start as the OS's
 * main task (pmsis_kickoff); the port therefore owns main() and the app provides ea_app_main()
 * (EA_PORT_HAS_MAIN, docs/decisions.md D7).
 */
#include "pmsis.h"

int ea_app_main(void);

static void main_task(void) { pmsis_exit(ea_app_main()); }

int main(void) { return pmsis_kickoff((void *)main_task); }
