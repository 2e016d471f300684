import os, time, pytest
from s3_fault_proxy import FaultProxy
from test_s3_faults import load_through, through, bucket  # noqa

CASES = {k: v for k, v in {
    "none": ({}, True),
    "slow5": ({"slowdown": 0.05}, True),
    "slow30": ({"slowdown": 0.3}, True),
    "slow30all": ({"slowdown": 0.3}, False),
    "mix": ({"slowdown": 0.3, "error500": 0.05, "reset": 0.05}, False),
    "reset5": ({"reset": 0.05}, True),
    "mix2": ({"slowdown": 0.2, "error500": 0.05, "reset": 0.05}, False),
    "mix3": ({"slowdown": 0.15, "error500": 0.05, "reset": 0.05}, False),
}.items() if k in os.environ.get("CASES", "none").split(",")}

@pytest.mark.parametrize("case", list(CASES))
def test_measure(through, moto_server, case):
    rates, objects_only = CASES[case]
    with FaultProxy(moto_server.endpoint_url, rates, seed=11, objects_only=objects_only) as proxy:
        t = time.monotonic()
        proc = load_through(through, proxy, check=False)
        print(f"\n{case}: rc={proc.returncode} {time.monotonic()-t:.1f}s {dict(proxy.counts)}\n{proc.stderr[-500:]}")
