"""Hypothesis strategies for every payload, derived from the declarations."""

from hypothesis import strategies as st

from afbms.protocol.enums import MsgType
from afbms.protocol.layout import LOG_RECORD_LAYOUT, MESSAGE_LAYOUTS, Field
from afbms.protocol.messages import LOG_PAGE_RECORDS

_INT_RANGES = {
    "B": (0, 2**8 - 1),
    "H": (0, 2**16 - 1),
    "I": (0, 2**32 - 1),
    "i": (-(2**31), 2**31 - 1),
}
_ASCII_NO_NUL = st.characters(min_codepoint=1, max_codepoint=127)


def field_values(field: Field) -> st.SearchStrategy:
    """Any value the field can carry, including enum values this build does not know."""
    if field.text:
        return st.text(_ASCII_NO_NUL, max_size=int(field.fmt[:-1]))
    if field.fmt.endswith("s"):
        size = int(field.fmt[:-1])
        return st.binary(min_size=size, max_size=size)
    low, high = _INT_RANGES[field.fmt]
    return st.integers(low, high)


def record_values() -> st.SearchStrategy[dict]:
    body = [f for f in LOG_RECORD_LAYOUT.fields if f.name != LOG_RECORD_LAYOUT.checksum_field]
    return st.fixed_dictionaries({f.name: field_values(f) for f in body})


def payloads(msg_type: MsgType) -> st.SearchStrategy[dict]:
    layout = MESSAGE_LAYOUTS[msg_type]
    fields = {f.name: field_values(f) for f in layout.fields if f.name != layout.count_field}
    if layout.array_field:
        fields[layout.array_field] = st.lists(record_values(), max_size=LOG_PAGE_RECORDS)
    return st.fixed_dictionaries(fields)


seqs = st.integers(0, 2**16 - 1)
flag_bytes = st.integers(0, 255)
