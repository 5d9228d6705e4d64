#!/usr/bin/env python3
"""Checks the layering of agor's modules: every `import` of an agor module in Sources/ must be
allowed by the rules block (```imports) of docs/ARCHITECTURE.md, and every module in Sources/ must
have a rule. Imports of other packages' modules are not checked. Prints each violation and exits 1
on any; prints a summary line and exits 0 otherwise.

usage: check-imports.py [ROOT]   (default: the repository this script is in)
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(root, "docs", "ARCHITECTURE.md")) as f:
    block = re.search(r"```imports\n(.*?)```", f.read(), re.S)
if not block:
    sys.exit("docs/ARCHITECTURE.md has no ```imports block")
rules = {}
for line in block.group(1).splitlines():
    if not line.strip():
        continue
    module, _, allowed = line.partition(":")
    rules[module.strip()] = {name.strip() for name in allowed.split(",") if name.strip()}

sources = os.path.join(root, "Sources")
modules = sorted(name for name in os.listdir(sources) if os.path.isdir(os.path.join(sources, name)))
import_line = re.compile(r"^\s*(?:@testable\s+|@_exported\s+|public\s+|internal\s+|package\s+)*import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)
problems = []
checked = 0
for module in modules:
    if module not in rules:
        problems.append(f"{module}: no rule in docs/ARCHITECTURE.md")
        continue
    for folder, _, files in os.walk(os.path.join(sources, module)):
        for name in files:
            if not name.endswith(".swift"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for imported in import_line.findall(text):
                # SwiftPM names a module after its target; a folder with '-' becomes '_'.
                target = next((m for m in modules if m.replace("-", "_") == imported or m == imported), None)
                if target is None or target == module:
                    continue
                checked += 1
                if target not in rules[module]:
                    problems.append(f"{os.path.relpath(path, root)}: {module} may not import {target}")
for module in rules:
    if module not in modules:
        problems.append(f"docs/ARCHITECTURE.md: a rule for {module}, which is not in Sources/")
for problem in problems:
    print(problem)
print(f"imports: {len(modules)} modules, {checked} imports of agor modules checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
