#!/usr/bin/env python3
"""Writes the named constants of the ENUM settings of src/config/settings.def as a C header.

    settings_enums.py SETTINGS.def OUTPUT.h

For each `RP_SETTING(name, ENUM, default, min, max, "a|b|c", ...)` row it writes

    enum rp_cfg_name {
        RP_CFG_NAME_A = 0, /* "a" */
        RP_CFG_NAME_B,     /* "b" */
        ...
        RP_CFG_NAME__COUNT
    };

in the order of the choices, so a constant is the index config.c stores for that choice,
and two X-macro tables for code that checks them: RP_CFG_ENUM_SETTINGS(X) with
X(setting, count) and RP_CFG_ENUM_CHOICES(X) with X(setting, constant, "text").
A choice's constant is its text in upper case with every run of other characters than
letters and digits turned into one `_` ("jwt+webhook" -> JWT_WEBHOOK). It fails (exit 1,
with "file:line: what") when choices are not one string literal, a choice is empty, two
choices of a setting give the same constant, or the default is not a choice. The output
only changes when settings.def does, so rebuilds stay reproducible.
"""

import os
import re
import sys


class DefError(Exception):
    pass


def tokens(text):
    """Yields (kind, value, line): kind is 'str' (value unquoted, escapes kept), 'word' or
    'punct'. Comments and whitespace are skipped."""
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise DefError(f"{line}: unterminated comment")
            line += text.count("\n", i, end)
            i = end + 2
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\n":
                    raise DefError(f"{line}: unterminated string")
                j += 2 if text[j] == "\\" else 1
            yield ("str", text[i + 1 : j], line)
            i = j + 1
        elif c.isalnum() or c == "_":
            m = re.compile(r"[A-Za-z0-9_.]+").match(text, i)
            yield ("word", m.group(0), line)
            i = m.end()
        else:
            yield ("punct", c, line)
            i += 1


def rows(text):
    """Yields (line, args) per RP_SETTING(...) row; each argument is a list of tokens."""
    toks = list(tokens(text))
    i = 0
    while i < len(toks):
        kind, value, line = toks[i]
        if kind != "word" or value != "RP_SETTING":
            i += 1
            continue
        if i + 1 >= len(toks) or toks[i + 1][1] != "(":
            raise DefError(f"{line}: RP_SETTING without its arguments")
        args, cur, depth, i = [], [], 0, i + 2
        while True:
            if i >= len(toks):
                raise DefError(f"{line}: RP_SETTING( is not closed")
            tok = toks[i]
            i += 1
            if tok[0] == "punct" and tok[1] == "(":
                depth += 1
            elif tok[0] == "punct" and tok[1] == ")":
                if depth == 0:
                    args.append(cur)
                    break
                depth -= 1
            elif tok[0] == "punct" and tok[1] == "," and depth == 0:
                args.append(cur)
                cur = []
                continue
            cur.append(tok)
        yield line, args


def string_arg(arg, line, what):
    """The text of an argument made of adjacent string literals."""
    if not arg or any(t[0] != "str" for t in arg):
        raise DefError(f"{line}: {what} must be a string literal")
    text = "".join(t[1] for t in arg)
    if "\\" in text:
        raise DefError(f"{line}: {what} must not contain escapes")
    return text


def constant(choice):
    return re.sub(r"[^A-Z0-9]+", "_", choice.upper()).strip("_")


def enums(text):
    """[(name, [(constant_suffix, choice)], line)] for every ENUM row, in table order."""
    out = []
    for line, args in rows(text):
        if len(args) != 9:
            raise DefError(f"{line}: RP_SETTING takes 9 arguments, this row has {len(args)}")
        if [t[1] for t in args[1]] != ["ENUM"]:
            continue
        if len(args[0]) != 1 or not re.fullmatch(r"[a-z][a-z0-9_]*", args[0][0][1]):
            raise DefError(f"{line}: the setting's name must be a lower-case identifier")
        name = args[0][0][1]
        choices = string_arg(args[5], line, f"{name}: choices").split("|")
        seen = {}
        listed = []
        for choice in choices:
            suffix = constant(choice)
            if not suffix:
                raise DefError(f"{line}: {name}: choice {choice!r} gives no constant name")
            if suffix in seen:
                raise DefError(
                    f"{line}: {name}: choices {seen[suffix]!r} and {choice!r} both give "
                    f"RP_CFG_{name.upper()}_{suffix}"
                )
            seen[suffix] = choice
            listed.append((suffix, choice))
        default = string_arg(args[2], line, f"{name}: default")
        if default not in choices:
            raise DefError(f"{line}: {name}: default {default!r} is not one of its choices")
        out.append((name, listed, line))
    return out


def render(src_name, found):
    parts = [
        "/* SPDX-License-Identifier: MIT */\n"
        f"/* Generated by scripts/settings_enums.py from {src_name}: edit that file. */\n"
        "#ifndef RP_CONFIG_SETTINGS_ENUMS_H\n"
        "#define RP_CONFIG_SETTINGS_ENUMS_H\n"
    ]
    for name, listed, line in found:
        upper = name.upper()
        decls = [
            f"RP_CFG_{upper}_{suffix}" + (" = 0," if i == 0 else ",")
            for i, (suffix, _) in enumerate(listed)
        ]
        width = max(len(d) for d in decls)
        body = [f"    {d:<{width}} /* \"{c}\" */\n" for d, (_, c) in zip(decls, listed)]
        parts.append(
            "\n"
            f"/* {name} (settings.def line {line}), in the order of its choices. */\n"
            f"enum rp_cfg_{name} {{\n" + "".join(body) + f"    RP_CFG_{upper}__COUNT\n"
            "};\n"
        )
    settings = [f"X({name}, RP_CFG_{name.upper()}__COUNT)" for name, _, _ in found]
    choices = [
        f'X({name}, RP_CFG_{name.upper()}_{suffix}, "{choice}")'
        for name, listed, _ in found
        for suffix, choice in listed
    ]
    parts.append(
        "\n/* Every ENUM setting and its number of choices: X(setting, count). */\n"
        + macro("RP_CFG_ENUM_SETTINGS(X)", settings)
        + "\n/* Every choice of every ENUM setting: X(setting, constant, text). */\n"
        + macro("RP_CFG_ENUM_CHOICES(X)", choices)
    )
    parts.append("\n#endif\n")
    return "".join(parts)


def macro(head, items):
    """A multi-line #define, its backslashes in column 100 as clang-format puts them."""
    lines = [f"#define {head}"] + [f"    {item}" for item in items]
    return "".join(f"{line:<99}\\\n" for line in lines[:-1]) + lines[-1] + "\n"


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: settings_enums.py SETTINGS.def OUTPUT.h\n")
        return 2
    src, out = argv[1:]
    with open(src, encoding="utf-8") as f:
        text = f.read()
    try:
        found = enums(text)
    except DefError as e:
        sys.stderr.write(f"{src}:{e}\n")
        return 1
    if not found:
        sys.stderr.write(f"{src}: no ENUM settings found (is this settings.def?)\n")
        return 1
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(render(os.path.basename(src), found))
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
