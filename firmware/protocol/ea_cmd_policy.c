/*
 * ea_cmd_policy.c - `ea-policy` (show or replace the policy at run time) and `ea-decide` (feed
 * recorded outputs to the device's policy: the C/Python agreement test and policy replays).
 */
#include <string.h>

#include "ea_cmds.h"

static void put_u32_list(const uint32_t *v, int n)
{
    for (int i = 0; i < n; i++) {
        if (i)
            ea_put_char(':');
        ea_put_u64(v[i]);
    }
}

static void put_policy(const ea_policy_config_t *c)
{
    ea_put("m-policy-[kind=");
    ea_put(ea_policy_kind_name(c->kind));
    ea_put(",n=");
    ea_put_u64(c->num_channels);
    ea_put(",w=");
    for (uint32_t i = 0; i < c->num_channels && i < EA_POLICY_MAX_CH; i++) {
        if (i)
            ea_put_char(':');
        ea_put_i64(c->weight[i]);
    }
    ea_put(",t=");
    ea_put_i64(c->threshold);
    ea_put(",k=");
    ea_put_u64(c->k);
    ea_put(",rerun=");
    ea_put_u64(c->rerun);
    ea_put(",aux=");
    ea_put_u64(c->aux_index);
    ea_put(",at=");
    ea_put_i64(c->aux_threshold);
    ea_put(",seed=");
    ea_put_u64(c->seed);
    ea_put(",p=");
    ea_put_u64(c->p_big);
    if (c->kind != EA_POLICY_PARTITION) { /* keep the line short: it crosses a lossy link */
        ea_put_char(']');
        ea_put_eol();
        return;
    }
    ea_put(",pn=");
    ea_put_u64(c->part_n);
    ea_put(",pc=");
    put_u32_list(c->part_channel, EA_POLICY_PART_MAX_CH);
    ea_put(",pa=");
    ea_put_u64(c->part_abs);
    ea_put(",pk=");
    put_u32_list(c->part_ncut, EA_POLICY_PART_MAX_CH);
    for (int m = 0; m < 2; m++) {
        ea_put(m ? ",pb=" : ",ps=");
        for (int i = 0; i < EA_POLICY_PART_MAX_CH; i++)
            for (int j = 0; j < EA_POLICY_PART_MAX_CUTS; j++) {
                if (i || j)
                    ea_put_char(':');
                ea_put_i64(c->part_cut[m][i][j]);
            }
    }
    ea_put(",ml=");
    ea_put_u64(c->part_mask_lo);
    ea_put(",mh=");
    ea_put_u64(c->part_mask_hi);
    ea_put_char(']');
    ea_put_eol();
}

/* Split s in place on ',' or ':' into at most max items; returns the count or -1. */
static int split_list(char *s, char **items, int max)
{
    int n = 0;
    for (;;) {
        if (n == max)
            return -1;
        items[n++] = s;
        while (*s && *s != ',' && *s != ':')
            s++;
        if (!*s)
            return n;
        *s++ = '\0';
    }
}

/* pc / pk: a list of up to 3 unsigned values; the rest of the array keeps its value. */
static const char *parse_u32_list(char *value, uint32_t *dst, const char *what)
{
    char *items[EA_POLICY_PART_MAX_CH];
    uint32_t v[EA_POLICY_PART_MAX_CH];
    int n = split_list(value, items, EA_POLICY_PART_MAX_CH);
    if (n < 0)
        return what;
    for (int i = 0; i < n; i++)
        if (ea_parse_u32(items[i], &v[i]))
            return what;
    for (int i = 0; i < n; i++)
        dst[i] = v[i];
    return 0;
}

/* The partition keys: pn, pc, pa, pk, s<i> / b<i> (channel i's cuts for small / big), ml, mh. */
static const char *apply_partition_setting(ea_policy_config_t *c, const char *arg, char *value)
{
    if (strcmp(arg, "pn") == 0)
        return ea_parse_u32(value, &c->part_n) ? "pn: bad channel count" : 0;
    if (strcmp(arg, "pc") == 0)
        return parse_u32_list(value, c->part_channel, "pc: bad channel list");
    if (strcmp(arg, "pa") == 0)
        return ea_parse_u32(value, &c->part_abs) ? "pa: bad mask" : 0;
    if (strcmp(arg, "pk") == 0)
        return parse_u32_list(value, c->part_ncut, "pk: bad cut counts");
    if (strcmp(arg, "ml") == 0)
        return ea_parse_u32(value, &c->part_mask_lo) ? "ml: bad mask" : 0;
    if (strcmp(arg, "mh") == 0)
        return ea_parse_u32(value, &c->part_mask_hi) ? "mh: bad mask" : 0;
    if ((arg[0] == 's' || arg[0] == 'b') && arg[1] >= '0' && arg[1] <= '2' && arg[2] == '\0') {
        char *items[EA_POLICY_PART_MAX_CUTS];
        int32_t v[EA_POLICY_PART_MAX_CUTS];
        int n = split_list(value, items, EA_POLICY_PART_MAX_CUTS);
        int32_t *dst = c->part_cut[arg[0] == 'b'][arg[1] - '0'];
        if (n < 0)
            return "s<i>/b<i>: more than 3 cuts";
        for (int i = 0; i < n; i++)
            if (ea_parse_i32(items[i], &v[i]))
                return "s<i>/b<i>: bad cut";
        for (int i = 0; i < n; i++)
            dst[i] = v[i];
        return 0;
    }
    return "unknown key";
}

/* Apply one key=value to c; NULL or the reason it was refused. */
static const char *apply_setting(ea_policy_config_t *c, char *arg)
{
    char *value = arg;
    while (*value && *value != '=')
        value++;
    if (!*value)
        return "expected key=value";
    *value++ = '\0';
    if (strcmp(arg, "w") == 0) {
        char *items[EA_POLICY_MAX_CH];
        int32_t w[EA_POLICY_MAX_CH];
        int n = split_list(value, items, EA_POLICY_MAX_CH);
        if (n < 0)
            return "w: more than 8 weights";
        for (int i = 0; i < n; i++)
            if (ea_parse_i32(items[i], &w[i]))
                return "w: bad weight";
        for (int i = 0; i < n; i++)
            c->weight[i] = w[i];
        c->num_channels = (uint32_t)n;
        return 0;
    }
    if (arg[0] == 'w' && arg[1] >= '0' && arg[1] <= '7' && arg[2] == '\0')
        return ea_parse_i32(value, &c->weight[arg[1] - '0']) ? "w<i>: bad weight" : 0;
    if (strcmp(arg, "n") == 0)
        return ea_parse_u32(value, &c->num_channels) ? "n: bad channel count" : 0;
    if (strcmp(arg, "t") == 0)
        return ea_parse_i64(value, &c->threshold) ? "t: bad threshold" : 0;
    if (strcmp(arg, "k") == 0)
        return ea_parse_u32(value, &c->k) ? "k: bad frame count" : 0;
    if (strcmp(arg, "rerun") == 0)
        return ea_parse_u32(value, &c->rerun) ? "rerun: expected 0 or 1" : 0;
    if (strcmp(arg, "aux") == 0)
        return ea_parse_u32(value, &c->aux_index) ? "aux: bad output index" : 0;
    if (strcmp(arg, "at") == 0)
        return ea_parse_i32(value, &c->aux_threshold) ? "at: bad threshold" : 0;
    if (strcmp(arg, "seed") == 0)
        return ea_parse_u32(value, &c->seed) ? "seed: bad seed" : 0;
    if (strcmp(arg, "p") == 0)
        return ea_parse_u32(value, &c->p_big) ? "p: bad probability" : 0;
    return apply_partition_setting(c, arg, value);
}

int ea_cmd_policy(int argc, char **argv)
{
    ea_policy_config_t c;
    const char *why;
#if EA_SINGLE
    (void)argc;
    (void)argv;
    (void)c;
    (void)why;
    (void)put_policy;
    (void)apply_setting;
    ea_put_error("ea-policy: single-model export, no policy");
    return EA_CMD_DONE;
#else
    if (argc == 1) {
        put_policy(ea_app_policy());
        return EA_CMD_DONE;
    }
    if (strcmp(argv[1], "default") == 0) {
        if (argc != 2) {
            ea_put_error("Usage: ea-policy default");
            return EA_CMD_DONE;
        }
        c = ea_policy_default;
    } else {
        int32_t kind = ea_policy_kind_parse(argv[1]);
        if (kind < 0) {
            ea_put_error_arg("ea-policy: unknown policy", argv[1]);
            return EA_CMD_DONE;
        }
        c = *ea_app_policy();
        c.kind = kind;
        for (int i = 2; i < argc; i++) {
            char *arg = argv[i];
            why = apply_setting(&c, arg);
            if (why) {
                ea_put("e-[ea-policy: ");
                ea_put(why);
                ea_put(" in ");
                ea_put_sanitized(arg, (uint32_t)strlen(arg) > 40u ? 40u : (uint32_t)strlen(arg));
                ea_put_char(']');
                ea_put_eol();
                return EA_CMD_DONE;
            }
        }
    }
    why = ea_app_set_policy(&c);
    if (why) {
        ea_put("e-[ea-policy: refused: ");
        ea_put(why);
        ea_put_char(']');
        ea_put_eol();
        return EA_CMD_DONE;
    }
    put_policy(ea_app_policy());
    return EA_CMD_DONE;
#endif
}

int ea_cmd_decide(int argc, char **argv)
{
#if EA_SINGLE
    (void)argc;
    (void)argv;
    ea_put_error("ea-decide: single-model export, no policy");
    return EA_CMD_DONE;
#else
    const ea_policy_config_t *c = ea_app_policy();
    ea_policy_state_t *s = ea_app_policy_state();
    char *items[EA_MAX_OUTPUTS];
    int32_t out[EA_MAX_OUTPUTS];
    uint32_t model, needed = 0;
    int n;
    if (argc != 3 || ea_parse_u32(argv[1], &model) || model > 1u) {
        ea_put_error("Usage: ea-decide <0|1> <o0,o1,...>");
        return EA_CMD_DONE;
    }
    n = split_list(argv[2], items, EA_MAX_OUTPUTS);
    if (n < 0) {
        ea_put_error("ea-decide: too many outputs");
        return EA_CMD_DONE;
    }
    for (int i = 0; i < EA_MAX_OUTPUTS; i++)
        out[i] = 0;
    for (int i = 0; i < n; i++)
        if (ea_parse_i32(items[i], &out[i])) {
            ea_put_error_arg("ea-decide: bad output", items[i]);
            return EA_CMD_DONE;
        }
    if (model == EA_POLICY_SMALL)
        needed = c->kind == EA_POLICY_TEMPORAL ? c->num_channels
                 : c->kind == EA_POLICY_AUX    ? c->aux_index + 1u
                                               : 0u;
    if (c->kind == EA_POLICY_PARTITION) /* reads the outputs of either model */
        for (uint32_t i = 0; i < c->part_n && i < EA_POLICY_PART_MAX_CH; i++)
            if (c->part_channel[i] + 1u > needed)
                needed = c->part_channel[i] + 1u;
    if ((uint32_t)n < needed) {
        ea_put_error("ea-decide: fewer outputs than the policy reads");
        return EA_CMD_DONE;
    }
    ea_policy_decide(s, c, (int32_t)model, out);
    ea_put("m-decide-[next=");
    ea_put_u64((uint64_t)s->next_model);
    ea_put(",rerun=");
    ea_put_u64(s->rerun);
    ea_put_char(']');
    ea_put_eol();
    return EA_CMD_DONE;
#endif
}
