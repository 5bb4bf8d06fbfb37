/*
 * ea_cmds.h - the command handlers behind the table in ea_cmd_table.c (protocol internal).
 */
#ifndef EA_CMDS_H
#define EA_CMDS_H

#include "ea_app.h"
#include "ea_proto.h"

/* Set when the frame buffer holds a complete load that passed its checks. */
extern int ea_frame_loaded;

/* EEMBC / MLPerf Tiny verbs (ea_cmd_eembc.c) */
int ea_cmd_name(int argc, char **argv);
int ea_cmd_profile(int argc, char **argv);
int ea_cmd_help(int argc, char **argv);
int ea_cmd_timestamp(int argc, char **argv);
int ea_cmd_db(int argc, char **argv);
int ea_cmd_infer(int argc, char **argv);
int ea_cmd_results(int argc, char **argv);

/* edgeadapt verbs (ea_cmd_edgeadapt.c, ea_cmd_policy.c) */
int ea_cmd_info(int argc, char **argv);
int ea_cmd_select(int argc, char **argv);
int ea_cmd_reset(int argc, char **argv);
int ea_cmd_step(int argc, char **argv);
int ea_cmd_layers(int argc, char **argv);
int ea_cmd_crc(int argc, char **argv); /* ea_cmd_layercrc.c */
int ea_cmd_ld(int argc, char **argv);
int ea_cmd_ldc(int argc, char **argv);
int ea_cmd_policy(int argc, char **argv);
int ea_cmd_decide(int argc, char **argv);
int ea_cmd_sync(int argc, char **argv);
int ea_cmd_exit(int argc, char **argv);

/* Ends an open chunked load (ea_cmd_ldc.c): called by every other writer of the frame buffer. */
void ea_ldc_cancel(void);

/* m-results-[...] of a step: its outputs dequantized to 3 decimals */
void ea_put_results(const ea_step_t *step);
/* m-step / m-outputs / m-core-cycles lines of a step, then m-step-crc over the three */
void ea_put_step(const ea_step_t *step);

#endif /* EA_CMDS_H */
