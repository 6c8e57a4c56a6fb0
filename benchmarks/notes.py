"""Why a target was missed, and what would close it: one note per group of targets that missed.

Each note explains the miss from this run's numbers, then proposes changes to the package. The
proposals were prototyped in scratch copies of the package at commit 0a42eec, on the 2-core machine
these benchmarks were first run on, one thread, baseline and prototype timed in turns; the figures
they quote come from those prototypes (``PROTOTYPED``) and say so. Three of them have since been
applied (the tape's, the one-column perturbation, jax's numpy arguments); the notes say which.
"""

from __future__ import annotations

from .timing import ratio, seconds

#: prototype measurements quoted by the notes (seconds, medians; baseline → prototype)
PROTOTYPED = {
    "central 1e4": (0.358, 0.079), "central 1e5": (9.46, 1.92),
    "report": (22.4, 18.5, 17.0, 10.3), "report floor": 1.86, "report no jax": 6.5,
    "jax training": (2.04, 0.42),
    "W2 stack": 13.9e-3, "W2 products": (3.9e-3, 2.65e-3), "directions": (6.5e-3, 3.1e-3),
    # the core's tape, forward + backward (float32 / float64 at widths 256, 1024, 4096)
    "tape float32": ((0.80e-3, 0.58e-3), (10.7e-3, 7.5e-3), (210e-3, 123e-3)),
    "tape float64": ((1.47e-3, 1.07e-3), (22.4e-3, 14.8e-3), (351e-3, 216e-3)),
    # one 64 × 4096 @ 4096 × 4096 product, float32: numpy (OpenBLAS) against jax (XLA)
    "product float32": (23.9e-3, 13.1e-3),
}


def _report(e2e, **_):
    floor, report = e2e["floor"].timing.median, e2e["report"].timing.median
    no_jax = next((c for c in e2e["extra"] if "--backend" in c.label), None)
    share = ""
    if no_jax is not None:
        t = no_jax.timing.median
        share = (f" Without jax the same report takes {seconds(t)} ({ratio(t / floor)} the floor): jax accounts for "
                 f"{seconds(report - t)} of the {seconds(report)}.")
    summary = e2e["report"].summary or "the default catalogue"
    base, jit0, numpy_args, cached = PROTOTYPED["report"]
    pfloor = PROTOTYPED["report floor"]
    return (
        f"**Report wall time.** The report judges the catalogue ({summary}) on four backends in two dtypes, trains "
        "the cases that carry a training run (XOR for 2000 steps, a regression stack for 200) on every backend, "
        "measures gradient flow and draws four plots; the floor only imports." + share +
        " Almost all of jax's share is XLA compilation: the jax backend jits one `value_and_grad` per case and dtype "
        "(0.1–0.15 s each, for graphs that then run once). Prototyped in `crosscheck/backends/jax.py` (medians "
        f"of 3 in turns, before the second was applied: floor {seconds(pfloor)}, `crosscheck report` "
        f"{seconds(base)}):\n"
        "  1. compile with `jax.jit(..., compiler_options={\"xla_backend_optimization_level\": 0, "
        "\"xla_llvm_disable_expensive_passes\": True})`: the graphs are a few ops on arrays of a few elements, so "
        f"optimising their machine code buys nothing at run time: {seconds(base)} → {seconds(jit0)};\n"
        "  2. (applied) pass the numpy inputs and cotangent straight to the jitted function instead of "
        "`jnp.asarray` per input and step (jit converts them on its C++ fast path): the four jax training runs "
        f"{seconds(PROTOTYPED['jax training'][0])} → {seconds(PROTOTYPED['jax training'][1])}, losses identical; "
        f"report → {seconds(numpy_args)};\n"
        "  3. jax's persistent compilation cache (`jax_compilation_cache_dir`, e.g. under `~/.cache/crosscheck`, "
        "with `jax_persistent_cache_min_compile_time_secs = 0`): every report after the first skips compilation: "
        f"→ {seconds(cached)}, {ratio(cached / pfloor)} the floor.\n"
        f"  What remains is the report's own work without jax ({seconds(PROTOTYPED['report no jax'])}) plus tracing "
        "and lowering one function per case and dtype, which jax does even on a cache hit. Closing the rest needs "
        "jax off the critical path: judge and train on jax in a child process while the other backends run (2 "
        "cores; not prototyped; estimated ≈ max(the rest, jax's part) ≈ 4× the floor).")


def _full(checks, **_):
    by = {s.target: s for s in checks}
    seen = []
    for target in (10**4, 10**5):
        s = by.get(target)
        if s is None or "gradcheck full" not in s.timings:
            continue
        gc = s.timings["gradcheck full"]
        seen.append(f"P = {s.count}: crosscheck core {seconds(s.timings['central core'].median)}, gradcheck {gc}")
    before4, after4 = PROTOTYPED["central 1e4"]
    before5, after5 = PROTOTYPED["central 1e5"]
    return (
        "**Full element-wise check against gradcheck(fast_mode=False)** (" + "; ".join(seen) + "). Both evaluate the "
        "network twice per element; crosscheck batches the evaluations, spares the product that contains the "
        "perturbed weight (a rank-one update) and, since the prototype measured here was applied, keeps a "
        "perturbation confined to one column lazy through bias adds and element-wise ops (`ColumnDelta` in "
        "`crosscheck/backends/numeric.py`; prototype: core backend, P = 10⁴ "
        f"{seconds(before4)} → {seconds(after4)}, P = 10⁵ {seconds(before5)} → {seconds(after5)}). What is left "
        "is dense work after the first layer for W1 and b1 copies, and Python overhead per chunk of copies.")


def _directional(checks, **_):
    s = next((s for s in checks if s.target == 10**5), None)
    equal, left = "", ""
    saved = (PROTOTYPED["W2 stack"] + PROTOTYPED["W2 products"][0] - PROTOTYPED["W2 products"][1]
             + PROTOTYPED["directions"][0] - PROTOTYPED["directions"][1])
    if s is not None:
        fast = s.timings["gradcheck fast"].median
        ours = s.timings["dir16 core"].median
        equal = (" At equal coverage (×1, table 2b) crosscheck takes "
                 + " / ".join(ratio(s.timings[f'dir1 {b}'].median / fast) for b in ("core", "torch", "jax"))
                 + " of gradcheck's fast mode (core / torch / jax).")
        left = (f" Together they would save ≈ {seconds(saved)} of this run's {seconds(ours)}, leaving "
                f"≈ {ratio(max(ours - saved, 0) / fast)} gradcheck's fast mode: 16 directions cannot come within 2× "
                "of one.")
    return (
        "**Directional check against gradcheck(fast_mode=True).** With 16 directions per input crosscheck evaluates "
        "the network 2 × 16 × 6 = 192 times, gradcheck's fast mode 2 × 6 = 12 times (one random direction per "
        "input): 16× the evaluations by design." + equal + " Beyond the evaluations, much of crosscheck's time is "
        "bookkeeping: the stack of x ± h·v for each input is built in full "
        f"({seconds(PROTOTYPED['W2 stack'])} for W2 alone at P = 10⁵) and the ±1 directions are drawn with "
        f"`rng.choice` ({seconds(PROTOTYPED['directions'][0])} for W2; `rng.integers(0, 2, dtype=np.int8)·2 − 1` "
        f"takes {seconds(PROTOTYPED['directions'][1])}). Proposed (measured on W2 at P = 10⁵): (1) in "
        "`numerical.directional_difference` and `backends/numeric.py`, keep the directional stack lazy for matmul "
        "operands as the element-wise one is: a @ (x ± h·V) = a @ x ± h·(a @ V), 16 products instead of 32 and no "
        f"stack: {seconds(PROTOTYPED['W2 stack'])} + {seconds(PROTOTYPED['W2 products'][0])} → "
        f"{seconds(PROTOTYPED['W2 products'][1])}; (2) draw the directions as int8 in "
        "`numerical.rademacher_directions`." + left + " Meeting the target needs fewer evaluations: ≤ 4 directions "
        "per input for inputs this large (a single wrong element is still caught by every direction; two that "
        "cancel escape with probability 2⁻⁴ instead of 2⁻¹⁶), or one set of directions shared by all inputs of a "
        "case (32 evaluations instead of 192, falling back to per-input directions on a failure, at the price of "
        "one tolerance for all inputs together).")


def _layers(layers, **_):
    rows = []
    for layer in layers:
        t = {k: v.median for k, v in layer.timings.items()}
        big = layer.width >= 1024
        if t["core tape"] > t["torch eager"] or (big and t["core tape"] > 1.2 * t["jax jit"]):
            rows.append(f"width {layer.width} {layer.dtype}: core ÷ torch {ratio(t['core tape'] / t['torch eager'])}, "
                        f"core ÷ jax {ratio(t['core tape'] / t['jax jit'])}, numpy by hand ÷ torch "
                        f"{ratio(t['numpy by hand'] / t['torch eager'])}, ÷ jax "
                        f"{ratio(t['numpy by hand'] / t['jax jit'])}")
    f32, f64 = PROTOTYPED["tape float32"], PROTOTYPED["tape float64"]
    gains = "; ".join(f"width {w}: float32 {seconds(a[0])} → {seconds(a[1])}, float64 {seconds(b[0])} → {seconds(b[1])}"
                      for w, a, b in zip((256, 1024, 4096), f32, f64))
    numpy_product, xla_product = PROTOTYPED["product float32"]
    floor_slow = [f"{layer.width} {layer.dtype} "
                  f"({ratio(layer.timings['numpy by hand'].median / layer.timings['jax jit'].median)})"
                  for layer in layers if layer.width >= 1024 and
                  layer.timings["numpy by hand"].median > 1.2 * layer.timings["jax jit"].median]
    blas = ""
    if floor_slow:
        blas = (" Against jax, even the hand-written numpy is more than 1.2× slower at width " + "; ".join(floor_slow)
                + ": XLA's own matrix product beats numpy's OpenBLAS at these shapes (64 × 4096 @ 4096 × 4096, "
                f"float32, one thread: {seconds(numpy_product)} against {seconds(xla_product)}), which no change to "
                "the tape can close; only a faster BLAS under numpy would.")
    return (
        "**The core's forward + backward against torch eager and jax jit** (" + "; ".join(rows) + "). The tape's "
        "own waste, found by these benchmarks, has been removed (matmul no longer computes the gradient of a "
        "constant operand; the first contribution to a gradient is no longer copied; zeros only for leaves without "
        f"a gradient; prototype: {gains}). What is left is the Python cost of recording one node per op (it shows "
        "at small widths) and the gradients a tape returns as arrays of their own; the hand-written numpy column "
        "is the floor for any numpy tape." + blas)


def _memory(e2e, **_):
    return ("**Memory of a numpy-only run.** The run imported " + ", ".join(e2e["numpy_only"].imported or ["nothing"])
            + "; see table 4.")


def _imports(e2e, **_):
    return ("**A numpy-only run imported a framework** (" + ", ".join(e2e["numpy_only"].imported) + "): some "
            "module on the path of `crosscheck run --backend core --backend handwritten` imports it eagerly; "
            "`python -X importtime` on that command names it.")


def _memory_size(e2e, **_):
    return ("**Memory against the input's size.** Past 8× the input, look at what the backend keeps alive at "
            "once (table 4b): the core's tape releases each inner value as its sweep passes it; the reference "
            "evaluates one perturbed copy at a time for large inputs and makes its ±1 directions one at a time "
            "as int8.")


def _scaling(**_):
    return ("**The report at scale (section 5).** The cost a row adds is in the per-backend table: a backend "
            "above the line pays per case for something other than its gradients (for jax: tracing and lowering "
            "one function per case and dtype, which jax does even when the compiled executable comes from the "
            "persistent cache; for TensorFlow: eager dispatch per op). `-j 2` can at best halve the part that is "
            "spread (the judging, the training runs, the studies); rendering the report (plots, tables) stays in "
            "one process, and each worker imports the frameworks again.")


def _detection(**_):
    return ("**Directional checks at equal detection power (section 6).** crosscheck's single direction catches "
            "errors orders of magnitude smaller than gradcheck's fast mode (its tolerance comes from the finite "
            "differences' own error estimate, not a fixed atol = 1e-5, rtol = 1e-3), but pays for that estimate: "
            "six evaluations per direction (the Richardson stencil) against gradcheck's two.")


NOTES = {"scaling": _scaling, "detection": _detection, "memory size": _memory_size, "report": _report, "full": _full, "directional": _directional, "layers torch": _layers,
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
