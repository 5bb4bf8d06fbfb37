/*
 * ea_profile.h - per-layer cycle accounting around one model run (app internal).
 */
#ifndef EA_PROFILE_H
#define EA_PROFILE_H

#include "ea_app.h"

void ea_profile_begin(int m);  /* start timing a run of model m */
void ea_profile_started_at(uint64_t t0);  /* after the run: layers counted from the run's own start t0 */
ea_profile_t *ea_profile_current(void);
ea_layer_sink_t ea_profile_sink(void);

#endif /* EA_PROFILE_H */
