"""Find printed outputs that depend on the CPU's arithmetic, before they land.

Usage: python tools/portable.py [NOTEBOOK ...] [--variants avx-nofma,sse-nofma] [--jobs 2]

Executes each notebook (default: every chapter and the benchmarks page) in a fresh
kernel under the native arithmetic and under each arithmetic variant this CPU can
emulate (tools/arithmetic.py), without touching the files.  Then, cell by cell, it
compares what strict nbval compares (text outputs after nbval_sanitize.cfg; images
and cells tagged nbval-ignore-output are not compared) between the stored outputs and
every run.  It prints each cell whose text differs between the arithmetics (NOT
PORTABLE), with the differing lines one under the other, and each cell whose text is
the same everywhere but differs from the stored output (stale: re-execute the
notebook).  Exit status 1 if any cell is either: an output that is not portable must
be made portable (a verdict against a bound, or the digits that are stable), not
re-executed and committed.
"""

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arithmetic  # noqa: E402  (a sibling module of this script)

ROOT = Path(__file__).resolve().parent.parent
SANITIZE = ROOT / "nbval_sanitize.cfg"
# What nbval leaves out of the comparison (nbval.plugin.IPyNbFile.skip_compare).
SKIP = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
        "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}
IGNORED_TAGS = {"nbval-ignore-output", "nbval-skip", "raises-exception"}


def execute_into(path, target, timeout=300):
    """Child process: run one notebook in a fresh kernel, write it to ``target``."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(Path(path).parent)}})
    client.execute()
    nbformat.write(nb, target)


def sanitizer():
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns(SANITIZE.read_text())
    import re

    compiled = [(re.compile(regex), replace) for regex, replace in patterns]

    def sanitize(text):
        for regex, replace in compiled:
            text = regex.sub(replace, text)
        return text

    return sanitize


def comparable(cell, sanitize):
    """The text strict nbval compares for one code cell, as a list of lines (None: not compared).

    As nbval does: streams of one name are joined, images and widget views are left
    out, and every string goes through nbval_sanitize.cfg.
    """
    from nbval.plugin import coalesce_streams

    tags = set(cell.get("metadata", {}).get("tags", []))
    if tags & IGNORED_TAGS or "# NBVAL_IGNORE_OUTPUT" in "".join(cell.get("source", "")):
        return None
    lines = []
    for output in coalesce_streams(copy.deepcopy(cell.get("outputs", []))):
        if output.get("output_type") == "stream":
            items = [(output.get("name", "stdout"), output.get("text", ""))]
        elif output.get("output_type") == "error":
            items = [("error", f"{output.get('ename')}: {output.get('evalue')}")]
        else:
            items = [(key, value) for key, value in output.get("data", {}).items() if key not in SKIP]
        for key, value in items:
            text = sanitize("".join(value) if isinstance(value, list) else str(value))
            if key == "text/html":  # one tag a line, so that a difference shows where it is
                text = text.replace("><", ">\n<")
            lines.extend(f"{key}: {line}" for line in text.splitlines())
    return lines


def code_cells(path):
    import nbformat

    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def run_variant(path, name, env, tmp):
    target = Path(tmp) / f"{Path(path).stem}.{name}.ipynb"
    status = subprocess.run(
        [sys.executable, __file__, "--execute-into", str(path), str(target)],
        env=arithmetic.environment(env), capture_output=True, text=True,
    )
    if status.returncode:
        return name, None, status.stderr.strip().splitlines()[-1:] or ["failed"]
    return name, target, None


def side_by_side(columns):
    """Each group of lines where a run differs from the stored output, one under the other."""
    import difflib

    names = list(columns)
    base = columns[names[0]]
    label = max(len(n) for n in names)
    out = []
    for other in names[1:]:
        matcher = difflib.SequenceMatcher(a=base, b=columns[other], autojunk=False)
        for op, a0, a1, b0, b1 in matcher.get_opcodes():
            if op == "equal":
                continue
            for k in range(max(a1 - a0, b1 - b0)):
                a = base[a0 + k] if a0 + k < a1 else "(no line)"
                b = columns[other][b0 + k] if b0 + k < b1 else "(no line)"
                out.append(f"    {names[0]:>{label}} | {a}")
                out.append(f"    {other:>{label}} | {b}")
            out.append("")
    return out


def check(paths, variants, jobs):
    sanitize = sanitizer()
    runs = [("native", {})] + [(name, env) for name, _, env, reason in variants if reason is None]
    differing = 0
    with tempfile.TemporaryDirectory(prefix="nnlib-portable-") as tmp, ThreadPoolExecutor(jobs) as pool:
        futures = {(path, name): pool.submit(run_variant, path, name, env, tmp) for path in paths for name, env in runs}
        for path in paths:
            results = {"stored": code_cells(path)}
            for name, _ in runs:
                _, target, error = futures[(path, name)].result()
                if error:
                    print(f"{path}: the run under {name} failed: {error[0]}")
                    differing += 1
                    continue
                results[name] = code_cells(target)
            if "native" not in results:
                continue
            count = min(len(cells) for cells in results.values())
            fragile = stale = 0
            for k in range(count):
                texts = {name: comparable(cells[k], sanitize) for name, cells in results.items()}
                if texts["native"] is None:
                    continue
                runs_only = {name: text for name, text in texts.items() if name != "stored"}
                if len({json.dumps(t) for t in runs_only.values()}) > 1:
                    fragile += 1
                    print(f"\n{path} Cell {k}: NOT PORTABLE, the text differs between " + ", ".join(runs_only))
                    print("\n".join(side_by_side(runs_only)))
                elif texts["stored"] != texts["native"]:
                    stale += 1
                    print(f"\n{path} Cell {k}: the same under every arithmetic, but not the stored output "
                          "(re-execute: python3 tasks.py notebooks NOTEBOOK)")
                    print("\n".join(side_by_side({"stored": texts["stored"], "fresh": texts["native"]})))
            if len({len(cells) for cells in results.values()}) > 1:
                print(f"{path}: the number of code cells differs between the stored notebook and the runs")
                stale += 1
            differing += fragile + stale
            verdict = "portable" if fragile == 0 else f"{fragile} cell(s) NOT PORTABLE"
            verdict += "" if stale == 0 else f"; {stale} stored output(s) stale"
            print(f"{path}: {verdict} ({', '.join(name for name, _ in runs)})", flush=True)
    return differing


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--execute-into":
        execute_into(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", help="notebooks (default: chapters/*.ipynb and benchmarks/*.ipynb)")
    parser.add_argument("--variants", help=f"comma-separated subset of {', '.join(arithmetic.VARIANTS)}")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="notebooks run at once")
    args = parser.parse_args()
    paths = args.paths or sorted([*ROOT.glob("chapters/*.ipynb"), *ROOT.glob("benchmarks/*.ipynb")])
    variants = arithmetic.plan(args.variants.split(",") if args.variants else None)
    print(f"native arithmetic: {arithmetic.native_description()}")
    for name, description, env, reason in variants:
        settings = " ".join(f"{k}={v}" for k, v in env.items())
        print(f"variant {name}: {description} [{settings}]" + (f" -- SKIPPED: {reason}" if reason else ""))
    differing = check([Path(p) for p in paths], variants, max(1, args.jobs))
    print(f"\n{differing} cell(s) to fix (see above)" if differing
          else "\nevery compared output is the same under every arithmetic, and equal to the stored one")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
