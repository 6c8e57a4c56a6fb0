"""Why a target was missed, and what would close it: one note per group of targets that missed.

Each note explains the miss from this run's numbers, then proposes changes to the package. The
proposals were prototyped in a scratch copy of the package on the 2-core machine these benchmarks
were first run on, one thread (``--threads 1``); the figures they quote come from those prototypes,
and say so. Nothing here changes the package.
"""

from __future__ import annotations

from .timing import ratio, seconds


def _report(e2e, **_):
    floor, report = e2e["floor"].timing.median, e2e["report"].timing.median
    no_jax = next((c for c in e2e["extra"] if "--backend" in c.label), None)
    share = ""
    if no_jax is not None:
        t = no_jax.timing.median
        share = (f" Without jax the same report takes {seconds(t)} ({ratio(t / floor)} the floor): jax accounts for "
                 f"{seconds(report - t)} of the {seconds(report)}.")
    summary = e2e["report"].summary or "the default catalogue"
    return (
        f"**Report wall time.** The report judges the catalogue ({summary}) on four backends in two dtypes, trains "
        "the cases that carry a training run (XOR for 2000 steps, a regression stack for 200) on every backend, "
        "measures gradient flow and draws four plots; the floor only imports." + share +
        " Almost all of jax's share is XLA compilation: the jax backend jits one `value_and_grad` per case and dtype "
        "(0.1–0.15 s each, for graphs that then run once), and each of jax's 4 400 training steps pays "
        "`jnp.asarray` on every input. Proposed, in `crosscheck/backends/jax.py` (prototyped; 1 thread; "
        "`crosscheck report` 27.6 s, floor 1.77 s, medians of 3):\n"
        "  1. compile with `jax.jit(..., compiler_options={\"xla_backend_optimization_level\": 0, "
        "\"xla_llvm_disable_expensive_passes\": True})`: the graphs are a few ops on arrays of a few elements, so "
        "optimising their machine code buys nothing at run time: report 27.6 s → 20.7 s;\n"
        "  2. pass the numpy inputs and cotangent straight to the jitted function instead of `jnp.asarray` per "
        "input and step (jit converts them on its C++ fast path): the four jax training runs 2.04 s → 0.42 s, "
        "losses identical;\n"
        "  3. jax's persistent compilation cache (`jax_compilation_cache_dir`, e.g. under `~/.cache/crosscheck`, "
        "with `jax_persistent_cache_min_compile_time_secs = 0`): every report after the first skips compilation. "
        "1 + 2 + 3: 10.1 s, 5.7× the floor.\n"
        "  What remains is the report's own work without jax (6.3 s, 3.6× the floor) plus tracing and lowering the "
        "114 functions, which jax does even on a cache hit (~3 s). Closing the last 0.7× needs that off the "
        "critical path: judge jax in a child process while the other backends run (2 cores; not prototyped, "
        "estimated ≈ max(6.3 s, jax's part) ≈ 4× the floor).")


def _full(checks, **_):
    by = {s.target: s for s in checks}
    seen = []
    for target in (10**4, 10**5):
        s = by.get(target)
        if s is None or "gradcheck full" not in s.timings:
            continue
        seen.append(f"P = {s.count}: crosscheck core {seconds(s.timings['central core'].median)}, gradcheck "
                    f"{s.timings['gradcheck full']}")
    return (
        "**Full element-wise check against gradcheck(fast_mode=False)** (" + "; ".join(seen) + "). Both evaluate the "
        "network twice per element; crosscheck batches the evaluations, and its lazy rank-one shortcut spares the "
        "product that contains the perturbed weight, but every later layer still runs dense on every perturbed "
        "copy: perturbing one element of W2 (H² of the P elements) changes one column of the 32 × H activations, "
        "yet each copy pays a tanh and a product over all 32·H of them; perturbing W1 or b1 costs each copy a full "
        "32 × H × H product in the second layer. Proposed, in `crosscheck/backends/numeric.py`: keep a perturbation "
        "confined to one column lazy as well (a `ColumnDelta`: the base matrix, one column index per copy and that "
        "column's new values) through bias adds and element-wise ops, and turn it into a rank-one update at the "
        "next matmul; W2 and b2 copies then cost O(batch) instead of O(batch·H), and W1 and b1 copies a rank-one "
        "update instead of a product. Prototyped (~120 lines; the numerical, directional, runner, core and "
        "seed-figure tests pass; the reference's worst error against the core's analytic gradient stays at "
        "≤ 2e-3 of the tolerance): core backend, 1 thread, P = 10⁴ 0.34 s → 0.079 s, P = 10⁵ 10.0 s → 1.9 s, "
        "about 25× and 35–40× faster than gradcheck(fast_mode=False) on the same machine.")


def _directional(checks, **_):
    s = next((s for s in checks if s.target == 10**5), None)
    equal = ""
    if s is not None:
        fast = s.timings["gradcheck fast"].median
        equal = (" At equal coverage (×1, table 2b) crosscheck takes "
                 + " / ".join(ratio(s.timings[f'dir1 {b}'].median / fast) for b in ("core", "torch", "jax"))
                 + " of gradcheck's fast mode (core / torch / jax).")
    return (
        "**Directional check against gradcheck(fast_mode=True).** With 16 directions per input crosscheck evaluates "
        "the network 2 × 16 × 6 = 192 times, gradcheck's fast mode 2 × 6 = 12 times (one random direction per "
        "input): 16× the evaluations by design." + equal + " Beyond the evaluations, half of crosscheck's time is "
        "bookkeeping: the stack of x ± h·v for each input is built in full (12 ms for W2 alone at P = 10⁵) and the "
        "±1 directions are drawn with `rng.choice` (7.4 ms for W2; `rng.integers(0, 2, dtype=np.int8)·2 − 1` "
        "takes 3.3 ms). Proposed (measured on W2 at P = 10⁵, 1 thread): (1) in `numerical.directional_difference` "
        "and `backends/numeric.py`, keep the directional stack lazy for matmul operands as the element-wise one "
        "is: a @ (x ± h·V) = a @ x ± h·(a @ V), 16 products instead of 32 and no stack: 12.2 + 3.8 ms → 2.7 ms; "
        "(2) draw the directions as int8 in `numerical.rademacher_directions`: 7.4 → 3.3 ms. Together they save "
        "≈ 17 ms of the ≈ 74 ms this check took in the prototype runs, leaving ≈ 4× gradcheck's fast mode: 16 "
        "directions cannot come within 2× of one. Meeting the target "
        "needs fewer evaluations: ≤ 4 directions per input for inputs this large (a single wrong element is still "
        "caught by every direction; two that cancel escape with probability 2⁻⁴ instead of 2⁻¹⁶), or one set of "
        "directions shared by all inputs of a case (32 evaluations instead of 192, falling back to per-input "
        "directions on a failure, at the price of one tolerance for all inputs together).")


def _layers(layers, **_):
    rows = []
    for layer in layers:
        t = {k: v.median for k, v in layer.timings.items()}
        big = layer.width >= 1024
        if t["core tape"] > t["torch eager"] or (big and t["core tape"] > 1.2 * t["jax jit"]):
            rows.append(f"width {layer.width} {layer.dtype}: core ÷ torch {ratio(t['core tape'] / t['torch eager'])}, "
                        f"core ÷ jax {ratio(t['core tape'] / t['jax jit'])}, numpy by hand ÷ torch "
                        f"{ratio(t['numpy by hand'] / t['torch eager'])}")
    return (
        "**The core's forward + backward against torch eager and jax jit** (" + "; ".join(rows) + "). The same "
        "computation written out in numpy keeps up with torch, so the gap is the tape's, and beyond the Python "
        "cost of recording a node per op (which is what shows at small widths) it comes from three things in "
        "`crosscheck/core/tape.py` and `ops.py`: (1) matmul's vjp computes both operands' gradients even when one "
        "is a constant, so x @ W1 costs one more 64 × w × w product (6 instead of 5); (2) the first contribution to "
        "every gradient is copied (`np.array(dparent)`, \"own copy: += must not alias\"): two w × w copies; (3) "
        "`gradients` builds `np.zeros_like(t.value)` for every requested leaf even when it has a gradient (the "
        "default of `dict.get` is evaluated eagerly): two more w × w arrays. Proposed: `apply` tells a vjp which "
        "inputs want a gradient (matmul then skips the other product); the sweep accumulates out of place "
        "(`grads[p] = grads[p] + d`, so nothing stored is ever written through an alias and the first contribution "
        "needs no copy; a returned leaf gradient that is not the tape's own array is copied once at the end); zeros "
        "only where a leaf got no gradient. Prototyped (the core and runner tests pass), 1 thread, round-robin "
        "medians: width 4096 float32 714 → 198 ms, float64 1729 → 689 ms; width 1024 float32 34.7 → 10.8 ms; width "
        "256 float32 0.91 → 0.63 ms; core ÷ torch then 0.6–1.2 across widths (1.2 at width 1024 float32, where the "
        "tape still costs 1.35× the hand-written numpy: the temporaries of tanh's and multiply's rules) and "
        "core ÷ jax 0.6–1.1 at widths ≥ 1024.")


def _memory(e2e, **_):
    return ("**Memory of a numpy-only run.** The run imported " + ", ".join(e2e["numpy_only"].imported or ["nothing"])
            + "; see table 4.")


def _imports(e2e, **_):
    return ("**A numpy-only run imported a framework** (" + ", ".join(e2e["numpy_only"].imported) + "): some "
            "module on the path of `crosscheck run --backend core --backend handwritten` imports it eagerly; "
            "`python -X importtime` on that command names it.")


NOTES = {"report": _report, "full": _full, "directional": _directional, "layers torch": _layers,
         "layers jax": _layers, "memory": _memory, "imports": _imports}


def notes_for(targets, e2e, checks, layers):
    """One note per group with a missed target, in the order of the targets table."""
    out, done = [], set()
    for t in targets:
        note = NOTES[t.group]
        if t.met() is False and note not in done:
            done.add(note)
            out += [note(e2e=e2e, checks=checks, layers=layers), ""]
    return out
