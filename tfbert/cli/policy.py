"""``--policy`` of the training commands: resolve ``auto``, refuse what the hardware cannot run, record it.

``check_policy(settings)`` runs before the run directory is written (a refused policy leaves
nothing behind); ``apply_policy(run, settings)`` sets the Keras global dtype policy, prints which
one and why, and records ``{"requested", "policy", "reason"}`` as ``precision`` in ``run.json``.

Example:
>>> from tfbert.cli.policy import check_policy
>>> check_policy({"policy": "float32"})
('float32', 'as requested')
"""

from tfbert.cli.options import UsageError


def check_policy(settings):
    """``(policy, reason)`` for ``settings["policy"]`` on this machine; UsageError if it cannot run here."""
    from tfbert.precision import choose_policy

    try:
        return choose_policy(settings["policy"])
    except ValueError as error:
        raise UsageError(str(error)) from None


def apply_policy(run, settings):
    """Set the dtype policy the run trains with; print and record which one and why. Returns the policy."""
    import keras

    policy, reason = check_policy(settings)
    keras.config.set_dtype_policy(policy)
    print(f"dtype policy {policy} ({reason})")
    run.update_record(precision={"requested": settings["policy"], "policy": policy, "reason": reason})
    return policy
