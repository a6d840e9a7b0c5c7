"""``musicgenre model-info [--model PATH]``: a model's id, labels, inputs and model card."""

from __future__ import annotations

from pathlib import Path

import click

from musicgenre.cli.common import CONTEXT_SETTINGS


@click.command("model-info", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--model",
    "-m",
    type=click.Path(path_type=Path),
    default=None,
    help="A training run folder or model.ckpt [default: the bundled model].",
)
def model_info(model: Path | None) -> None:
    """Show a model's id, labels, inputs and its card (MODEL_CARD.md beside the checkpoint).

    Nothing is computed and no feature backbone is loaded: only the checkpoint is read.
    """
    from musicgenre.checkpoint import load_checkpoint
    from musicgenre.predict.classifier import LOW_CONFIDENCE, _sha256
    from musicgenre.serve.model import MODEL_CARD

    if model is None:
        from musicgenre.bundled import default_checkpoint

        model = default_checkpoint()
    file = model / "model.ckpt" if model.is_dir() else model
    ckpt = load_checkpoint(model)
    inputs = "+".join(ckpt.inputs)
    threshold = ckpt.meta.get("low_confidence")
    threshold = float(threshold) if isinstance(threshold, int | float) else LOW_CONFIDENCE
    click.echo(f"model:    {ckpt.model_name}:{inputs}@{_sha256(file)[:12]}")
    click.echo(f"file:     {file}")
    click.echo(f"labels:   {', '.join(ckpt.labels)}")
    click.echo(f"inputs:   {', '.join(ckpt.inputs)}")
    click.echo(f"low_confidence below: {threshold:.3f}")
    card = file.parent / MODEL_CARD
    click.echo("")
    click.echo(card.read_text(encoding="utf-8").rstrip("\n") if card.is_file() else "no model card")
