#!/usr/bin/env bash
# The accelerator check: on a machine with a GPU, in under 8 minutes, run mcalc's
# device-relevant tests on the GPU, `mcalc run`, and the benchmark rows that matter
# there (scripts/bench_accelerator.py), and write one JSON of results.
#
#   scripts/accelerator_check.sh [--dry-run] [--out DIR] [--wheels DIR]
#
# --dry-run   the same steps on the CPU at tiny sizes (the test suite runs this)
# --out DIR   where the logs and accelerator_check.json go (default: accelerator-check)
# --wheels D  install the *.whl files of D first (pip --no-index --no-deps, into a
#             folder put on PYTHONPATH): for packages that the machine's Python lacks
#             and cannot download (default: .whl in the repository, if it exists)
#
# Each step runs under its own time limit (seconds; override by environment):
#   MCALC_CHECK_TESTS_S (170), MCALC_CHECK_RUN_S (110), MCALC_CHECK_BENCH_S (170).
# A step that fails or times out is recorded and the next one runs; the exit status
# is 0 only when every step passed. Python is $PYTHON, else python3.
set -u

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRY=0
OUT=accelerator-check
WHEELS="$REPO/.whl"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --out) OUT=${2:?--out needs a folder}; shift ;;
    --wheels) WHEELS=${2:?--wheels needs a folder}; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "accelerator_check.sh: error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
PY=${PYTHON:-python3}
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
STEPS="$OUT/steps.tsv"
: > "$STEPS"

# mcalc is used from this checkout, not installed.
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
export MCALC_CACHE_DIR="$OUT/cache"
if [ "$DRY" = 1 ]; then
  export JAX_PLATFORMS=cpu
  TESTS_S=120 RUN_S=120 BENCH_S=120
else
  # Fail loudly when JAX finds no GPU instead of running everything on the CPU. Take
  # GPU memory as needed: the tests run in several processes on one device.
  export JAX_PLATFORMS=cuda
  export XLA_PYTHON_CLIENT_PREALLOCATE=false
  TESTS_S=${MCALC_CHECK_TESTS_S:-170} RUN_S=${MCALC_CHECK_RUN_S:-110}
  BENCH_S=${MCALC_CHECK_BENCH_S:-170}
fi

step() {  # step NAME LIMIT_S COMMAND...: run it, log it, record its status
  local name=$1 limit=$2; shift 2
  local t0 rc status command="$*"
  echo "== $name (limit ${limit}s): $*"
  t0=$(date +%s%N)
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  case $rc in
    0) status=ok ;;
    124|137) status=timeout ;;
    *) status=failed ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" \
    "$(( ($(date +%s%N) - t0) / 1000000 ))" "${command//[$'\t\n']/ }" >> "$STEPS"
  echo "   $status (exit $rc), log: $OUT/$name.log"
  tail -n 3 "$OUT/$name.log" | sed 's/^/   | /'
}

# 0. Wheels carried for what the machine's Python lacks (it reaches no registry).
if compgen -G "$WHEELS/*.whl" > /dev/null; then
  step wheels 60 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$OUT/site" "$WHEELS"/*.whl
  export PYTHONPATH="$OUT/site:$PYTHONPATH"
fi

# 1. The environment: versions, devices, and which of mcalc's packages are missing.
step environment 120 "$PY" - "$OUT/environment.json" "$DRY" <<'EOF'
import importlib, importlib.metadata, importlib.util, json, platform, sys
out, dry = sys.argv[1], sys.argv[2] == "1"
# import name -> the distribution to carry as a wheel (pyproject.toml's dependencies
# and the test extra)
needed = {
    "jax": "jax", "optax": "optax", "flax": "flax", "chex": "chex", "numpy": "numpy",
    "yaml": "pyyaml", "omegaconf": "omegaconf", "orbax.checkpoint": "orbax-checkpoint",
    "matplotlib": "matplotlib", "tqdm": "tqdm", "sklearn": "scikit-learn",
    "scipy": "scipy", "pytest": "pytest", "hypothesis": "hypothesis", "xdist": "pytest-xdist",
}
info = {"python": platform.python_version(), "dry_run": dry, "missing": [], "versions": {}}
for mod, dist in needed.items():
    try:  # importable, not merely present: a broken install counts as missing
        m = importlib.import_module(mod)
        info["versions"][dist] = getattr(m, "__version__", None) or "?"
    except Exception as e:  # noqa: BLE001 - report every missing package, then fail
        info["missing"].append(dist)
        print(f"missing: {dist} ({type(e).__name__}: {e})")
try:
    info["torch"] = importlib.metadata.version("torch")
    if not dry:
        import torch
        info["torch_cuda"] = torch.cuda.is_available()
        info["torch_device"] = torch.cuda.get_device_name(0) if info["torch_cuda"] else None
except importlib.metadata.PackageNotFoundError:
    info["torch"] = None
    print("torch is not installed: the PyTorch rows are skipped")
ok = not info["missing"]
try:
    import jax
    info["jax_backend"] = jax.default_backend()
    info["jax_devices"] = [f"{d.platform}: {d.device_kind}" for d in jax.devices()]
    gpu = jax.default_backend() == "gpu"
    if not dry and not gpu:
        print(f"JAX sees no GPU (backend {jax.default_backend()}): is a CUDA jaxlib installed?")
        ok = False
except Exception as e:  # noqa: BLE001 - JAX_PLATFORMS=cuda without a GPU raises here
    info["jax_error"] = f"{type(e).__name__}: {e}"
    print(f"JAX could not start: {info['jax_error']}")
    ok = False
if info["missing"]:
    names = " ".join(info["missing"])
    print(
        "carry them as wheels, on a machine with pip and network access, in the repository:\n"
        "  python3 -m pip download --no-deps --only-binary=:all: --python-version "
        f"{sys.version_info.major}.{sys.version_info.minor} --implementation cp "
        "--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 "
        f"--platform manylinux2014_x86_64 -d .whl {names}\n"
        "and run again (the script installs .whl/*.whl first)"
    )
json.dump(info, open(out, "w"), indent=2)
print(json.dumps(info, indent=2))
sys.exit(0 if ok else 1)
EOF
if ! grep -q "^environment	ok" "$STEPS"; then
  echo "accelerator_check.sh: the environment is not ready (see $OUT/environment.log); the other steps are skipped" >&2
fi

if grep -q "^environment	ok" "$STEPS"; then
  # 2. The tests that run JAX programs, on the device. In full float32: by default XLA
  # may run float32 products in TF32 on the GPU, outside the tests' float32 tolerances.
  # Deselected on the GPU: tests of the CPU's own policies (threads per core, lanes per
  # core) and of several simulated CPU devices.
  if [ "$DRY" = 1 ]; then
    TESTS=("tests/test_problems.py::test_closed_form_matches_autodiff[0-resnet_W0-f32]"
           tests/test_models.py::test_pure_training_step_across_jit_with_split_merge)
    XDIST=(-p no:xdist)
  else
    # (`mcalc run` below verifies every derivation on the device: no test_verify.py here)
    TESTS=(tests/test_problems.py tests/test_models.py tests/test_solvers.py tests/test_sweep.py
           -m "not slow"
           --deselect tests/test_sweep.py::test_sharded_across_simulated_devices_equals_one_device
           --deselect tests/test_solvers.py::test_default_chains_by_size
           --deselect tests/test_solvers.py::test_default_batch_size_by_size
           --deselect tests/test_sweep.py::test_auto_lanes_by_problem_size
           --deselect tests/test_sweep.py::test_concurrent_map_keeps_order_and_raises)
    XDIST=(-n 4)
  fi
  step tests "$TESTS_S" env JAX_DEFAULT_MATMUL_PRECISION=highest \
    "$PY" -m pytest -q -p no:cacheprovider "${XDIST[@]}" --junitxml "$OUT/tests.xml" "${TESTS[@]}"

  # 3. `mcalc run`: verify, train every task, write the report. The dry run trains P4
  # alone without the verification (the whole job takes minutes on the CPU).
  if [ "$DRY" = 1 ]; then
    step mcalc_run "$RUN_S" "$PY" -c "import mcalc, sys
r = mcalc.run(sys.argv[1], tasks=('p4',), verify=False, progress=False)
print(r.report); sys.exit(0 if r.ok else 1)" "$OUT/run"
  else
    step mcalc_run "$RUN_S" "$PY" -m mcalc run --out "$OUT/run" --no-progress
  fi

  # 4. The benchmark rows that matter on the device.
  if [ "$DRY" = 1 ]; then
    BENCH=(--quick --repeat 2 --budget 1)
  else
    BENCH=(--repeat 9 --budget 5)
  fi
  step bench "$BENCH_S" "$PY" "$REPO/scripts/bench_accelerator.py" "${BENCH[@]}" \
    --json "$OUT/bench.json"
fi

# 5. One JSON of everything.
"$PY" - "$OUT" <<'EOF'
import json, os, sys
import xml.etree.ElementTree as ET
out = sys.argv[1]
steps = []
for line in open(os.path.join(out, "steps.tsv")):
    name, status, rc, seconds, command = line.rstrip("\n").split("\t")
    log = os.path.join(out, name + ".log")
    tail = open(log, errors="replace").read()[-2000:] if os.path.exists(log) else ""
    steps.append({"name": name, "status": status, "exit": int(rc),
                  "seconds": round(int(seconds) / 1000, 1), "command": command, "log_tail": tail})
def load(name):
    path = os.path.join(out, name)
    return json.load(open(path)) if os.path.exists(path) else None
tests = None
if os.path.exists(os.path.join(out, "tests.xml")):
    root = ET.parse(os.path.join(out, "tests.xml")).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    tests = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    tests["failed"] = [
        f"{c.get('classname')}::{c.get('name')}" for c in suite.iter("testcase")
        if c.find("failure") is not None or c.find("error") is not None
    ]
bench = load("bench.json")
result = {
    "ok": bool(steps) and all(s["status"] == "ok" for s in steps)
    and {s["name"] for s in steps} >= {"environment", "tests", "mcalc_run", "bench"},
    "environment": load("environment.json"),
    "steps": steps,
    "tests": tests,
    "bench": bench and bench["rows"],
}
path = os.path.join(out, "accelerator_check.json")
json.dump(result, open(path, "w"), indent=2, default=str)
print(f"accelerator_check: {'all steps passed' if result['ok'] else 'NOT all steps passed'}; "
      f"results in {path}")
sys.exit(0 if result["ok"] else 1)
EOF
