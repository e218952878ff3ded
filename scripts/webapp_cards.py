"""Preview pictures of the home page's Prediction and Activation maps cards (web/public/cards/, 320x180 JPEG),
made from real results on the default model and skimage's chelsea.

    .venv/bin/python scripts/webapp_cards.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image, ImageDraw
from skimage import data

import convscope
from convscope.recipes import ActivationsSpec, PredictSpec

CARDS = Path(__file__).resolve().parents[1] / "web" / "public" / "cards"
SIZE = (320, 180)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "chelsea.png"
        Image.fromarray(data.chelsea()).save(image)
        top = convscope.run(PredictSpec(image=str(image), top=3), out=Path(folder) / "p").data["predictions"]
        card = Image.new("RGB", SIZE, "white")
        card.paste(Image.open(image).convert("RGB").resize((180, 180)), (0, 0))
        draw = ImageDraw.Draw(card)
        for i, p in enumerate(top):
            y = 30 + 45 * i
            draw.text((190, y), f"{p['label'][:18]}", fill=(20, 20, 20))
            draw.rectangle((190, y + 16, 190 + int(120 * p["probability"]), y + 26), fill=(52, 101, 164))
        card.save(CARDS / "predict.jpg", quality=88)

        maps = convscope.run(ActivationsSpec(image=str(image), layer="blocks.1", top=8), out=Path(folder) / "a").data[
            "channels"
        ]
        card = Image.new("RGB", SIZE, "white")
        for i, m in enumerate(maps):
            tile = Image.open(m["image"]).convert("RGB").resize((78, 78), Image.NEAREST)
            card.paste(tile, (2 + 80 * (i % 4), 10 + 82 * (i // 4)))
        card.save(CARDS / "activations.jpg", quality=88)


if __name__ == "__main__":
    main()
