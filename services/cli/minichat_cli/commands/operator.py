"""`minichat operator`: the Kopf operator for MiniChat resources, and `minichat operator render`,
which prints what it would create for one, with no cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "operator",
        help="run the Kubernetes operator for MiniChat resources (or render one's objects)",
        description=(
            "Run the MiniChat operator: it reconciles MiniChat resources in every namespace, or "
            "in those named, with the credentials kubectl would use (KUBECONFIG, or the Pod's "
            "ServiceAccount)."
        ),
    )
    parser.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        metavar="NS",
        help="a namespace to watch (repeat for more; default: every namespace)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port of /healthz and /metrics (default: %(default)s)",
    )
    parser.set_defaults(handler=run)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    render = actions.add_parser(
        "render",
        help="print every object the operator would create for a MiniChat, as YAML",
        description=(
            "Print every object the operator would create for the MiniChat resources in FILE, "
            "as multi-document YAML, with no cluster. Generated Secrets get fresh random values "
            "on each render (the operator creates them once and keeps them); ownerReferences "
            "appear only when the file's metadata has the resource's uid."
        ),
    )
    render.add_argument(
        "-f", "--file", required=True, type=Path, help="a MiniChat YAML file ('-': stdin)"
    )
    render.add_argument(
        "--namespace",
        "-n",
        dest="render_namespace",
        default=None,
        help="override metadata.namespace",
    )
    render.set_defaults(handler=run_render)


def run(args: argparse.Namespace) -> int:
    from minichat_operator.main import run as run_operator

    run_operator(args.namespace, args.port)
    return 0


def run_render(args: argparse.Namespace) -> int:
    from minichat_operator.documents import DocumentError, load
    from minichat_operator.render import GeneratedSecrets, render, to_yaml

    source = str(args.file)
    try:
        text = sys.stdin.read() if source == "-" else args.file.read_text()
        minichats = load(text, namespace=args.render_namespace)
    except OSError as error:
        print(f"minichat operator render: {source}: {error.strerror}", file=sys.stderr)
        return 2
    except DocumentError as error:
        print(f"minichat operator render: {source}: {error}", file=sys.stderr)
        return 2
    objects = []
    for minichat in minichats:
        manifest = render(minichat, GeneratedSecrets.random(), serving_tag=minichat.spec.image.tag)
        objects.extend(manifest.objects)
    sys.stdout.write(to_yaml(objects))
    return 0
