# SPDX-License-Identifier: MIT OR Apache-2.0
"""The CPU model, as the benchmark reports name the machine they ran on."""


def cpu_model(default="unknown"):
    """The first `model name` of /proc/cpuinfo, or `default`."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default
