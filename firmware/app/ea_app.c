/*
 * ea_app.c - application state: the selection (small, big or the policy), the policy config and
 * its sequence state, and the outcome of the last frame. A single-model export (EA_SINGLE) runs
 * model 0 on every step: no policy is consulted, the policy state stays reset (next model 0).
 */
#include <string.h>

#include "ea_profile.h"

uint8_t ea_frame[EA_FRAME_BYTES];

static ea_policy_config_t policy;
static ea_policy_state_t policy_state;
static int selection = EA_SELECT_POLICY;
static uint32_t frame_index;
static ea_step_t last_step;
static int have_last_step;

#if EA_SINGLE
#define SINGLE_NO_POLICY "single-model export: no policy"
#endif

const char *ea_app_init(void)
{
#if EA_SINGLE
    const char *why = 0;
    memset(&policy, 0, sizeof policy);
    policy.kind = EA_POLICY_ALWAYS_SMALL;  /* never consulted; keeps the state reset at model 0 */
    policy.seed = 1;
    selection = 0;
#else
    const char *why = ea_policy_check(&ea_policy_default, ea_models[EA_MODEL_SMALL].num_outputs);
    memset(&policy, 0, sizeof policy);
    if (why) {
        policy.kind = EA_POLICY_ALWAYS_SMALL;
        policy.seed = 1;
    } else {
        policy = ea_policy_default;
    }
    selection = EA_SELECT_POLICY;
#endif
    have_last_step = 0;
    ea_app_reset_sequence();
    return why;
}

int ea_app_run_model(int m, const uint8_t *frame, int32_t *outputs, uint64_t *cycles)
{
    uint64_t t0;
    int status;
    ea_profile_begin(m);
    t0 = ea_hal_cycles();
    status = ea_model_run(m, frame, outputs);
    *cycles = ea_hal_cycles() - t0;
    ea_profile_started_at(t0);  /* outside the timed run: the model's own count is unchanged */
    return status;
}

/* Run model m into step, adding its cycles and per-core cycles. */
static int run_into(int m, const uint8_t *frame, ea_step_t *step)
{
    uint64_t cycles = 0;
    const ea_profile_t *prof;
    int status = ea_app_run_model(m, frame, step->outputs, &cycles);
    step->cycles += cycles;
    prof = ea_app_profile();
    for (uint32_t c = 0; c < EA_PORT_NUM_CORES; c++)
        step->core_cycles[c] += prof->core_cycles[c];
    step->out_model = m;
    step->num_outputs = ea_models[m].num_outputs;
    return status;
}

int ea_app_step(const uint8_t *frame, ea_step_t *step)
{
    int status;
    int m = selection == EA_SELECT_POLICY ? policy_state.next_model : selection;
    memset(step, 0, sizeof *step);
    step->frame = frame_index;
    step->model = m;
    status = run_into(m, frame, step);
    if (status != 0)
        return status;
#if !EA_SINGLE
    if (selection == EA_SELECT_POLICY) {
        uint64_t t0 = ea_hal_cycles();
        int32_t next = ea_policy_decide(&policy_state, &policy, m, step->outputs);
        step->policy_cycles = ea_hal_cycles() - t0;
        if (policy_state.rerun) {
            /* the policy asked for this very frame again, on the big model */
            status = run_into(EA_MODEL_BIG, frame, step);
            if (status != 0)
                return status;
            step->model = EA_RUN_BOTH;
            t0 = ea_hal_cycles();
            next = ea_policy_decide(&policy_state, &policy, EA_MODEL_BIG, step->outputs);
            step->policy_cycles += ea_hal_cycles() - t0;
        }
        step->next_model = next;
    } else {
        step->next_model = selection;
    }
#else
    step->next_model = 0;
#endif
    frame_index++;
    last_step = *step;
    have_last_step = 1;
    return 0;
}

uint32_t ea_app_frame_index(void)
{
    return frame_index;
}

const ea_step_t *ea_app_last_step(void)
{
    return have_last_step ? &last_step : 0;
}

int ea_app_select(int sel)
{
#if EA_SINGLE
    if (sel != 0)
        return -1;
#else
    if (sel != EA_MODEL_SMALL && sel != EA_MODEL_BIG && sel != EA_SELECT_POLICY)
        return -1;
#endif
    selection = sel;
    return sel;
}

int ea_app_selection(void)
{
    return selection;
}

void ea_app_reset_sequence(void)
{
    frame_index = 0;
    ea_policy_reset(&policy_state, &policy);
}

const ea_policy_config_t *ea_app_policy(void)
{
    return &policy;
}

const char *ea_app_set_policy(const ea_policy_config_t *config)
{
#if EA_SINGLE
    const char *why = SINGLE_NO_POLICY;
    (void)config;
#else
    const char *why = ea_policy_check(config, ea_models[EA_MODEL_SMALL].num_outputs);
#endif
    if (why)
        return why;
    policy = *config;
    ea_app_reset_sequence();
    return 0;
}

ea_policy_state_t *ea_app_policy_state(void)
{
    return &policy_state;
}
