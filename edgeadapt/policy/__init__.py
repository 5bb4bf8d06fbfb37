"""Model-switching policies: the Python twin of firmware/policy/ (same decision on every frame).

    load_policy_config(path_or_name) -> PolicyConfig
    quantize_policy(config, output_fl_small) -> IntPolicyConfig
    Policy(config, output_fl_small).reset() / .decide_next(model_used, int_outputs)
    simulate(config, small_int_outputs, big_int_outputs, output_fl) -> [0|1|2 per frame]
    to_c_initializer(config, output_fl_small) -> str
    protocol_commands(config, output_fl_small) -> [command lines]
"""

from edgeadapt.policy.cgen import policy_default_c_source, protocol_commands, to_c_initializer
from edgeadapt.policy.config import KINDS, PolicyConfig, load_policy_config, validate_policy_config
from edgeadapt.policy.engine import BIG, RUN_BOTH, SMALL, Policy, xorshift32
from edgeadapt.policy.intconfig import IntPolicyConfig, quantize_policy
from edgeadapt.policy.simulate import simulate

__all__ = [
    "BIG",
    "KINDS",
    "RUN_BOTH",
    "SMALL",
    "IntPolicyConfig",
    "Policy",
    "PolicyConfig",
    "load_policy_config",
    "policy_default_c_source",
    "protocol_commands",
    "quantize_policy",
    "simulate",
    "to_c_initializer",
    "validate_policy_config",
    "xorshift32",
]
