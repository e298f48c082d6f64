"""Copy each scenario's main figure from a reference run into ``docs/scenarios/img/NAME.png``.

    python docs/scenarios/refresh_images.py RUN_DIR   # RUN_DIR/NAME/ from `attnflow run NAME --out`

Each PNG is reduced to a 256-colour palette (the figures are flat colours and lines, so this keeps
them sharp) and, if still over the size limit, scaled down until it fits.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image

MAIN_FIGURE = {
    "clustering": "snapshots_softmax",
    "phase_diagram": "phase_single_cluster_prob_beta_d",
    "acceleration": "evaluations",
    "sympformer": "energy",
    "in_context": "layers",
    "lora": "deviation",
    "layers": "errors",
    "metastability": "cluster_counts",
    "mean_field": "w1_vs_n",
    "train": "learning_curves",
    "pretrained": "layers",
    "measure_transport": "paths",
    "normalization": "clustering",
    "vlasov_map": "w1_vs_depth",
    "context_consistency": "convergence",
    "causal": "angles",
    "long_context": "transition",
}
MAX_BYTES = 150_000
IMG_DIR = Path(__file__).parent / "img"


def shrink(image: Image.Image, max_bytes: int = MAX_BYTES) -> bytes:
    """The image as palette PNG bytes under ``max_bytes``, scaled down by 10% steps if needed."""
    image = image.convert("RGBA")
    background = Image.new("RGBA", image.size, "white")
    image = Image.alpha_composite(background, image).convert("RGB")
    while True:
        buffer = io.BytesIO()
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            buffer, format="PNG", optimize=True
        )
        if buffer.tell() < max_bytes:
            return buffer.getvalue()
        width, height = image.size
        image = image.resize((int(width * 0.9), int(height * 0.9)), Image.Resampling.LANCZOS)


def main(run_dir: str) -> None:
    IMG_DIR.mkdir(exist_ok=True)
    for name, stem in MAIN_FIGURE.items():
        data = shrink(Image.open(Path(run_dir) / name / f"{stem}.png"))
        (IMG_DIR / f"{name}.png").write_bytes(data)
        print(f"{name}: {stem}.png -> {len(data) / 1000:.0f} kB")


if __name__ == "__main__":
    main(sys.argv[1])
