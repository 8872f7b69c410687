#!/usr/bin/env python3
"""Writes a man page (section 1) for halb and each of its commands, from what the program says of itself
(`halb --experimental-dump-help`, swift-argument-parser's description of every command and option), so the pages
say what `halb --help` says.

    manpages.py BINARY VERSION DIRECTORY
"""
import gzip
import json
import os
import subprocess
import sys
import time


def roff(text):
    """Text made safe for roff: backslashes, hyphens, and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def option_names(argument):
    names = []
    for name in argument.get("names", []):
        names.append(("-" if name["kind"] == "short" else "--") + name["name"])
    if not names:
        return "<" + argument.get("valueName", "value") + ">"
    text = ", ".join(names)
    if argument["kind"] == "option":
        text += " <" + argument.get("valueName", "value") + ">"
    return text


def synopsis(path, command):
    parts = [" ".join(path)]
    for argument in command.get("arguments", []):
        if not argument.get("shouldDisplay", True) or argument.get("valueName") in ("help", "version"):
            continue
        text = option_names(argument).split(", ")[-1]
        if argument.get("isRepeating"):
            text += " ..."
        parts.append("[" + text + "]" if argument.get("isOptional") else text)
    if command.get("subcommands"):
        parts.append("<subcommand>")
    return " ".join(parts)


def page(path, command, version, date):
    name = "-".join(path)
    out = [
        '.TH "%s" "1" "%s" "halb %s" "HALB"' % (name.upper(), date, version),
        ".SH NAME",
        "%s \\- %s" % (roff(name), roff(command.get("abstract", ""))),
        ".SH SYNOPSIS",
        ".B " + roff(synopsis(path, command)),
        ".SH DESCRIPTION",
        roff(command.get("abstract", "")),
    ]
    if command.get("discussion"):
        # Indented lines (examples) keep their lines; the others are filled.
        out.append(".PP")
        verbatim = False
        for line in command["discussion"].split("\n"):
            indented = line.startswith("  ")
            if indented != verbatim:
                out.append(".nf" if indented else ".fi")
                verbatim = indented
            out.append(roff(line) if line.strip() else ".PP")
        if verbatim:
            out.append(".fi")
    arguments = [a for a in command.get("arguments", []) if a.get("shouldDisplay", True)]
    if arguments:
        out.append(".SH OPTIONS")
        for argument in arguments:
            out += [".TP", ".B " + roff(option_names(argument)), roff(argument.get("abstract", "") or "")]
            if argument.get("defaultValue") is not None:
                out.append("(default: %s)" % roff(str(argument["defaultValue"])))
    subcommands = [s for s in command.get("subcommands", []) if s.get("shouldDisplay", True)]
    if subcommands:
        out.append(".SH COMMANDS")
        for sub in subcommands:
            out += [".TP", ".B " + roff(sub["commandName"]), roff(sub.get("abstract", ""))]
    see = ["halb(1)"] if len(path) > 1 else []
    see += ["%s(1)" % "-".join(path + [s["commandName"]]) for s in subcommands]
    if see:
        out += [".SH SEE ALSO", ", ".join(roff(s) for s in see)]
    return "\n".join(out) + "\n"


def walk(path, command, version, date, directory):
    if command.get("commandName") == "help":
        return
    text = page(path, command, version, date)
    file = os.path.join(directory, "-".join(path) + ".1.gz")
    # mtime 0: the same input makes the same bytes.
    with open(file, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
        out.write(text.encode())
    os.chmod(file, 0o644)
    for sub in command.get("subcommands", []):
        if sub.get("shouldDisplay", True):
            walk(path + [sub["commandName"]], sub, version, date, directory)


def main():
    binary, version, directory = sys.argv[1:4]
    tool = json.loads(subprocess.run([binary, "--experimental-dump-help"], check=True, capture_output=True).stdout)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
    date = time.strftime("%Y-%m-%d", time.gmtime(epoch))
    os.makedirs(directory, exist_ok=True)
    walk(["halb"], tool["command"], version, date, directory)


if __name__ == "__main__":
    main()
