#!/usr/bin/env python3
"""Measures the house rules issue 11 sets for the engine's production code.

Prints a table: engine functions, always-on assertions (SS_ASSERT) and their
ratio per function, the longest engine functions, and every production file
over 500 lines anywhere in the tree. Function boundaries come from Universal
Ctags (Debian package universal-ctags), which knows C++ definitions better than
a regular expression would.

Usage: tools/code_metrics.py [--check] [--top N] [--folder engine/wal]
  --check  exit 1 when a rule is broken (ratio < 1.0, a function > 70 lines,
           a production file > 500 lines)
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PRODUCTION_DIRS = ["engine", "sim", "properties", "scenarios", "tools", "fuzz", "reports", "bench"]
SOURCE_SUFFIXES = (".cc", ".h")
MAX_FUNCTION_LINES = 70
MAX_FILE_LINES = 500
MIN_ASSERTIONS_PER_FUNCTION = 1.0
MAX_FOLDER_SHARE = 0.25

# Test code and test-only helpers: the rules are about what ships.
# forwarding_env.h is the base of the tests' and benchmarks' Env wrappers;
# no production code includes it.
TEST_FILE = re.compile(r"(_test\.cc|_test_util\.h|_test_model\.h|/planted_fault_env\.h|"
                       r"/yield_gate_env\.h|/world_test_util\.h|/forwarding_env\.h)$")


def production_sources(folder):
    for directory, _, names in sorted(os.walk(os.path.join(ROOT, folder))):
        if "/build" in directory or "/bugs" in directory:
            continue
        for name in sorted(names):
            path = os.path.relpath(os.path.join(directory, name), ROOT)
            if name.endswith(SOURCE_SUFFIXES) and not TEST_FILE.search("/" + path):
                yield path


def functions(paths):
    """Returns (name, path, first_line, last_line) for every function definition."""
    if shutil.which("ctags") is None:
        sys.exit("code_metrics: needs Universal Ctags (apt-get install universal-ctags)")
    command = ["ctags", "--languages=C++", "--language-force=C++", "--kinds-C++=f",
               "--fields=+ne", "-x", "--_xformat=%{scope}|%N|%F|%n|%e", "-f", "-"] + paths
    output = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    result = []
    for line in output.splitlines():
        scope, name, path, first, last = line.rsplit("|", 4)
        if last in ("", "-"):
            continue
        qualified = f"{scope.split(':')[-1]}::{name}" if scope and scope != "-" else name
        result.append((qualified, path, int(first), int(last)))
    return result


def count_lines(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
        return handle.read().count("\n")


def count_assertions(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
        # Calls only: not the macro's own definition, not mentions in comments.
        code = [line for line in handle if not line.lstrip().startswith(("//", "#define"))]
        return sum(len(re.findall(r"\bSS_ASSERT\(", line.split("//")[0])) for line in code)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--folder", default="engine",
                        help="measure functions and assertions under this folder only")
    options = parser.parse_args()

    engine = list(production_sources(options.folder))
    defined = functions(engine)
    assertions = sum(count_assertions(path) for path in engine)
    ratio = assertions / max(1, len(defined))
    longest = sorted(defined, key=lambda f: f[3] - f[2] + 1, reverse=True)
    long_files = [(path, count_lines(path)) for folder in PRODUCTION_DIRS
                  for path in production_sources(folder) if count_lines(path) > MAX_FILE_LINES]

    print(f"measured folder:              {options.folder}")
    print(f"engine production files:      {len(engine)}")
    print(f"engine functions:             {len(defined)}")
    print(f"SS_ASSERT in engine:          {assertions}")
    print(f"assertions per function:      {ratio:.2f} (rule: >= {MIN_ASSERTIONS_PER_FUNCTION})")
    print(f"longest engine functions (rule: <= {MAX_FUNCTION_LINES} lines):")
    for name, path, first, last in longest[:options.top]:
        print(f"  {last - first + 1:4d}  {name}  {path}:{first}")
    shares = {}
    for path in engine:
        folder = "/".join(path.split("/")[:2])
        shares[folder] = shares.get(folder, 0) + count_lines(path)
    total_lines = max(1, sum(shares.values()))
    print(f"production lines per folder (rule: <= {MAX_FOLDER_SHARE:.0%} of {total_lines}):")
    for folder, lines in sorted(shares.items(), key=lambda item: -item[1]):
        print(f"  {lines:5d}  {lines / total_lines:5.1%}  {folder}")
    print(f"production files over {MAX_FILE_LINES} lines: {len(long_files)}")
    for path, lines in long_files:
        print(f"  {lines:4d}  {path}")

    broken = (ratio < MIN_ASSERTIONS_PER_FUNCTION or long_files or
              (options.folder == "engine" and max(shares.values()) > MAX_FOLDER_SHARE * total_lines) or
              (longest and longest[0][3] - longest[0][2] + 1 > MAX_FUNCTION_LINES))
    return 1 if options.check and broken else 0


if __name__ == "__main__":
    sys.exit(main())
