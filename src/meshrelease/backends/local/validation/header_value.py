"""Envoy's header-value substitution syntax as Istio's webhook checks it before Envoy sees it.

A header value may hold ``%VARIABLE%`` or ``%VARIABLE(args)%`` substitutions; a ``%`` that starts none must be
escaped as ``%%``. Envoy refuses anything else and the whole route update with it, so Istio's webhook refuses it
first (istio/istio 1.30.3 pkg/config/validation/header_value_validator.go validateHeaderValue, a port of Envoy's
source/common/router/header_parser.cc; validation.go ValidateHTTPHeaderValue): ``abc%123`` and ``%START_TIME%%``
are refused, ``100%%``, ``%HOSTNAME%`` and ``prefix %REQ(x-y)% suffix`` pass.
"""

from __future__ import annotations

_LITERAL, _NAME, _EXPECT_ARRAY, _EXPECT_STRING, _STRING, _EXPECT_DELIMITER, _EXPECT_ARGS_END, _EXPECT_END = range(8)


def header_value_problem(value: str) -> str | None:
    """Istio's message for a header value Envoy would refuse, or None."""
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
        return f"header value configuration {value} is invalid"
    problem = _substitution_problem(value)
    return f"header value configuration: {problem}" if problem else None


def _substitution_problem(value: str) -> str | None:
    state, pos = _LITERAL, 0
    while pos < len(value):
        ch = value[pos]
        has_next = pos + 1 < len(value)
        if state == _LITERAL:
            if ch == "%":
                if not has_next:
                    return "invalid header configuration. Un-escaped %"
                if value[pos + 1] == "%":
                    pos += 1  # an escaped %
                else:
                    state = _NAME
        elif state == _NAME:
            if ch == "%":
                state = _LITERAL
            elif ch == "(":
                state = _EXPECT_ARRAY
        elif state == _EXPECT_ARRAY:
            if ch == "[":
                state = _EXPECT_STRING
            elif ch != " ":
                state = _STRING
        elif state == _EXPECT_DELIMITER:
            if ch == ",":
                state = _EXPECT_STRING
            elif ch == "]":
                state = _EXPECT_ARGS_END
            elif ch != " ":
                return "invalid header configuration. Expecting ',', ']', or whitespace"
        elif state == _EXPECT_STRING:
            if ch == '"':
                state = _STRING
            elif ch != " ":
                return "invalid header configuration. Expecting '\"'"
        elif state == _STRING:
            if ch == "\\":
                if not has_next:
                    return "invalid header configuration. Un-terminated backslash in JSON string"
                pos += 1
            elif ch == ")":
                state = _EXPECT_END
            elif ch == '"':
                state = _EXPECT_DELIMITER
        elif state == _EXPECT_ARGS_END:
            if ch == ")":
                state = _EXPECT_END
            elif ch != " ":
                return "invalid header configuration. Expecting ')' or whitespace after '{}', but found '{}'"
        elif state == _EXPECT_END:
            if ch == "%":
                state = _LITERAL
            elif ch != " ":
                return "invalid header configuration. Expecting '%' or whitespace after"
        pos += 1
    if state != _LITERAL:
        return f"invalid header configuration. Un-terminated variable expression '{value}'"
    return None
