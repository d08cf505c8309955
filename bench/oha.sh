# Sourced by the benchmarks: one oha run at full speed against a URL (extra oha options before
# it), printed as "rps p50_ms p99_ms failures". Needs SECS, CONNS and WORK (a scratch directory).
load() {
  oha --no-tui --output-format json -z "${SECS}s" -c "$CONNS" -r 0 "$@" > "$WORK/oha.json"
  python3 - "$WORK/oha.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s, p = d["summary"], d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
bad = sum(v for k, v in codes.items() if not (k.startswith("2") or k.startswith("3")))
print(f'{s["requestsPerSec"]:.0f} {p["p50"]*1000:.3f} {p["p99"]*1000:.3f} {bad}')
PY
}
