"""
Marathon's placement constraints, C{[field, operator, value?]}: C{field} is
C{hostname} or a slave attribute; the operators are C{UNIQUE}, C{CLUSTER},
C{GROUP_BY}, C{LIKE}, C{UNLIKE} and C{MAX_PER}.
"""

import re
from collections import Counter

__all__ = ["OPERATORS", "satisfies", "validate_constraint", "field_value"]

OPERATORS = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER")


def validate_constraint(constraint):
    """
    Why a constraint is invalid, or L{None}.
    """
    if not (isinstance(constraint, list) and 2 <= len(constraint) <= 3
            and all(isinstance(part, str) for part in constraint)):
        return "expected [field, operator] or [field, operator, value] (strings)"
    operator = constraint[1]
    value = constraint[2] if len(constraint) == 3 else None
    if operator not in OPERATORS:
        return f"unknown operator {operator!r} (expected one of {', '.join(OPERATORS)})"
    if operator in ("LIKE", "UNLIKE", "MAX_PER") and value is None:
        return f"{operator} needs a value"
    if operator in ("LIKE", "UNLIKE"):
        try:
            re.compile(value)
        except re.error as error:
            return f"{value!r} is not a valid regular expression: {error}"
    if operator in ("MAX_PER", "GROUP_BY") and value is not None and not value.isdigit():
        return f"{operator} needs a whole number, got {value!r}"
    return None


def field_value(field, hostname, attributes):
    """
    The value of C{field} for a slave: its hostname, or its attribute as
    text (L{None} if it has none).
    """
    if field == "hostname":
        return hostname
    value = attributes.get(field)
    return None if value is None else str(value)


def satisfies(constraint, hostname, attributes, placed):
    """
    Whether an instance may go on a slave.

    @param hostname: the offer's hostname.
    @param attributes: C{{name: value}} of the offer's attributes.
    @param placed: C{[(hostname, attributes), ...]} of the app's other
        instances (those running or launching).
    """
    field, operator = constraint[0], constraint[1]
    value = constraint[2] if len(constraint) == 3 else None
    here = field_value(field, hostname, attributes)
    others = [field_value(field, host, attrs) for host, attrs in placed]
    if operator == "UNIQUE":
        return here is not None and here not in others
    if operator == "CLUSTER":
        if value is not None:
            return here == value
        return here is not None and all(other == here for other in others)
    if operator == "LIKE":
        return here is not None and re.fullmatch(value, here) is not None
    if operator == "UNLIKE":
        return here is None or re.fullmatch(value, here) is None
    if operator == "MAX_PER":
        return here is not None and others.count(here) < int(value)
    # GROUP_BY: spread evenly over the values seen (at least C{value} of them).
    if here is None:
        return False
    counts = Counter(other for other in others if other is not None)
    if here not in counts:
        return True
    if value is not None and len(counts) < int(value):
        return False
    return counts[here] <= min(counts.values())
