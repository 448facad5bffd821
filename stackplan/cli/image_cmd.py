"""``stackplan image build``: the build image for ``stackplan run --isolation container``, made offline.

A thin shell over flows/builders/image.py: a Debian root filesystem from Debian's packages
(debootstrap), imported into podman or docker, plus py-rattler-build from a local wheelhouse; tagged
by a digest of its inputs and rebuilt only when they change.
"""

from __future__ import annotations

import typer

HELP = "\n\n".join(
    [
        "Make the image linux jobs build in under --isolation container, with no image registry: "
        "debootstrap --variant=minbase bookworm with python3 and python3-venv (from Debian's packages), "
        "imported with `podman import` / `docker import`, plus a layer with py-rattler-build installed "
        "from a wheelhouse downloaded on this machine (pip install --no-index inside, no network).",
        "The tag is a digest of the inputs: running it again does nothing until they change. "
        "Wheelhouses are kept in $STACKPLAN_IMAGE_CACHE (default ~/.cache/stackplan/image).",
        "[bold]Examples[/bold]",
        "[cyan]stackplan image build[/cyan]   then   "
        "[cyan]stackplan run examples/stack -b rattler-build --isolation container[/cyan]",
        "[cyan]stackplan image tag[/cyan]   (print the tag the next run would use)",
    ]
)

image_app = typer.Typer(help=HELP, no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(image_app, name="image")


@image_app.command("build", help="Build the build image (if its inputs changed) and print its tag.")
def build(
    engine: str | None = typer.Option(
        None, "--container-engine", help="podman | docker (default: the one that works)."
    ),
    mirror: str | None = typer.Option(None, "--mirror", help="Debian mirror for debootstrap."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the inputs did not change."),
) -> None:
    from flows.builders.container import EngineError, find_engine
    from flows.builders.image import ImageError, build_image

    try:
        exe = find_engine(engine)
        result = build_image(exe, mirror=mirror, force=force, log=lambda m: typer.echo(m, err=True))
    except (EngineError, ImageError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    what = "built" if result.built else "up to date"
    typer.echo(f"{result.tag}  ({what} in {result.seconds:.1f}s, {result.size / 1e6:.0f} MB, {exe})")


@image_app.command("tag", help="Print the tag of the build image for this stackplan (built or not).")
def tag() -> None:
    from flows.builders.image import image_tag

    typer.echo(image_tag())
