"""``python -m sagemaker_async_results.local serve``: keep a local deployment running for the CLI and your own code.

``python -m sagemaker_async_results.local demo`` is the same as ``python -m sagemaker_async_results.local.demo``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sagemaker_async_results.local.synth import CdkApp


def serve(argv: list[str]) -> int:
    from sagemaker_async_results.local.emulator import AwsTarget
    from sagemaker_async_results.local.environment import LocalEnvironment
    from sagemaker_async_results.local.model import load_model

    parser = argparse.ArgumentParser(prog="python -m sagemaker_async_results.local serve")
    parser.add_argument("--delivery", choices=["direct", "buffered"], default="buffered")
    parser.add_argument("--model", help="package.module:function to run instead of the sample model")
    parser.add_argument("--no-bundle", action="store_true")
    parser.add_argument("--app-dir", type=Path, help="the CDK app's folder (default: the current one)")
    parser.add_argument("--endpoint-url", help="an AWS-compatible endpoint instead of the embedded emulator")
    args = parser.parse_args(argv)
    app = CdkApp(args.app_dir)
    outdir = app.directory / ".build" / f"serve-{args.delivery}.cdk.out"
    app.synthesize(outdir, {"delivery": {"mode": args.delivery}}, bundle=not args.no_bundle)
    target = AwsTarget(args.endpoint_url) if args.endpoint_url else None
    with LocalEnvironment(
        outdir, model=load_model(args.model), log_dir=app.directory / ".build" / "local-logs", target=target
    ) as env:
        assert env.target is not None
        print("Local deployment ready. In another shell:")
        for key, value in sorted(env.target.environment().items()):
            print(f"  export {key}={value}")
        print(
            f"  python -m sagemaker_async_results.client --stack-name {env.deployed.name} invoke <file> --wait"
        )
        print("Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("serve", "demo"):
        print("usage: python -m sagemaker_async_results.local {serve,demo} [options]", file=sys.stderr)
        return 2
    if sys.argv[1] == "demo":
        from sagemaker_async_results.local.demo import main as demo

        return demo(sys.argv[2:])
    return serve(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
