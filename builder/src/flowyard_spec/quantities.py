"""Memory and CPU sizes as the config file writes them, and the CPU/memory pairs AWS Fargate accepts."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

MIN_MEMORY_MIB = 128
MIN_CPU_UNITS = 128
MAX_CPU_VCPUS = 192
UNITS_PER_VCPU = 1024
MEMORY_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mi|mib|gi|gib)?\s*$", re.IGNORECASE)
MEMORY_FORMS = "a whole number of MiB (4096) or a string with a unit ('512Mi', '2Gi', '4096')"
CPU_FORMS = "a number of ECS units (1024 = one vCPU, e.g. 512) or a string of vCPUs ('0.5' = 512, '2' = 2048)"

# Fargate's task sizes (AWS ECS developer guide, "Task CPU and memory"): cpu units -> allowed memory MiB.
# The one table: the config file's validation and the ECS runtime backend both read it.
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}


class QuantityError(ValueError):
    """A memory or CPU value that cannot be read; the message says which forms are accepted."""


def parse_memory(value: object) -> int:
    """Memory in MiB from an int (MiB) or a string such as "4096", "512Mi", "2Gi" or "0.5Gi"."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise QuantityError(f"memory must be {MEMORY_FORMS}, not {value!r}")
    if isinstance(value, str):
        match = MEMORY_PATTERN.match(value)
        if match is None:
            raise QuantityError(f"memory {value!r} is not understood; use {MEMORY_FORMS}")
        amount = Decimal(match.group(1)) * (1024 if (match.group(2) or "mi").lower().startswith("g") else 1)
        has_unit = match.group(2) is not None
    else:
        amount, has_unit = Decimal(str(value)), False
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise QuantityError(f"memory {value!r} is not a whole number of MiB; use {MEMORY_FORMS}")
    mib = int(amount)
    if mib < MIN_MEMORY_MIB:
        hint = f" (for {mib} GiB write '{mib}Gi' or {mib * 1024})" if mib >= 1 and not has_unit else ""
        raise QuantityError(f"memory is in MiB and must be at least {MIN_MEMORY_MIB}; got {value!r}{hint}")
    return mib


def parse_cpu(value: object) -> int:
    """CPU in ECS units from an int (units, 1024 = one vCPU) or a string of vCPUs ("0.5" → 512, "2" → 2048)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise QuantityError(f"cpu must be {CPU_FORMS}, not {value!r}")
    if isinstance(value, str):
        try:
            vcpus = Decimal(value.strip())
        except InvalidOperation:
            raise QuantityError(f"cpu {value!r} is not understood; use {CPU_FORMS}") from None
        if not vcpus.is_finite() or vcpus <= 0:
            raise QuantityError(f"cpu {value!r} must be a positive number of vCPUs; use {CPU_FORMS}")
        if vcpus > MAX_CPU_VCPUS:
            raise QuantityError(
                f"cpu {value!r} as a string means {value} vCPUs; for {value} ECS units write the number {value.strip()}"
            )
        units = vcpus * UNITS_PER_VCPU
    else:
        units = Decimal(str(value))
    if not units.is_finite() or units != units.to_integral_value():
        raise QuantityError(f"cpu {value!r} is not a whole number of ECS units (1/1024 vCPU); use {CPU_FORMS}")
    if units < MIN_CPU_UNITS:
        hint = "" if isinstance(value, str) else f' (for {value} vCPUs write "{value}" or {int(units) * UNITS_PER_VCPU})'
        raise QuantityError(
            f"cpu is in ECS units (1024 = one vCPU) and must be at least {MIN_CPU_UNITS}; got {value!r}{hint}"
        )
    return int(units)


def fargate_problem(cpu: int, memory: int) -> tuple[str, str] | None:
    """None when Fargate accepts this cpu/memory pair, else (field, message) naming what is allowed."""
    if cpu not in FARGATE_MEMORY:
        sizes = ", ".join(f"{units} ({units / UNITS_PER_VCPU:g} vCPU)" for units in FARGATE_MEMORY)
        return "cpu", f"Fargate does not offer cpu {cpu}; allowed cpu values (ECS units): {sizes}"
    allowed = FARGATE_MEMORY[cpu]
    if memory not in allowed:
        values = ", ".join(str(mib) for mib in allowed)
        return "memory", f"Fargate does not accept memory {memory} MiB with cpu {cpu}; for cpu {cpu} use one of: {values}"
    return None
