"""``python -m local_run serve``: keep a local deployment running for the CLI and your own code.

``python -m local_run demo`` is the same as ``python -m local_run.demo``.
"""

from __future__ import annotations

import argparse
import sys
import time

from local_run.synth import ROOT, synthesize


def serve(argv: list[str]) -> int:
    from local_run.emulator import AwsTarget
    from local_run.environment import LocalEnvironment
    from local_run.model import load_model

    parser = argparse.ArgumentParser(prog="python -m local_run serve")
    parser.add_argument("--delivery", choices=["direct", "buffered"], default="buffered")
    parser.add_argument("--model", help="package.module:function to run instead of the sample model")
    parser.add_argument("--no-bundle", action="store_true")
    parser.add_argument("--endpoint-url", help="an AWS-compatible endpoint instead of the embedded emulator")
    args = parser.parse_args(argv)
    outdir = ROOT / ".build" / f"serve-{args.delivery}.cdk.out"
    synthesize(outdir, {"delivery": {"mode": args.delivery}}, bundle=not args.no_bundle)
    target = AwsTarget(args.endpoint_url) if args.endpoint_url else None
    with LocalEnvironment(
        outdir, model=load_model(args.model), log_dir=ROOT / ".build" / "local-logs", target=target
    ) as env:
        assert env.target is not None
        print("Local deployment ready. In another shell:")
        for key, value in sorted(env.target.environment().items()):
            print(f"  export {key}={value}")
        print(f"  python -m inference_client --stack-name {env.deployed.name} invoke <file> --wait")
        print("Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("serve", "demo"):
        print("usage: python -m local_run {serve,demo} [options]", file=sys.stderr)
        return 2
    if sys.argv[1] == "demo":
        from local_run.demo import main as demo

        return demo(sys.argv[2:])
    return serve(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
