"""Preview pictures of the home page's Prediction and Activation maps cards (web/public/cards/, 320x180 JPEG),
made from real results on the default model and skimage's chelsea, and the Evaluation card (the digits model on
its built-in digits: top-1 and six misclassified digits).

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
    evaluate_card()


def evaluate_card() -> None:
    from PIL import ImageFont

    from convscope.core import digits
    from convscope.recipes.evaluate import EvaluateSpec

    with tempfile.TemporaryDirectory() as folder:
        spec = EvaluateSpec(model={"spec": "digits"}, dataset="digits")
        result = convscope.run(spec, out=Path(folder) / "e").data
    images = digits.load_data().images
    card = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(card)
    draw.text((12, 40), f"{result['top1'] * 100:.1f}%", fill=(20, 20, 20), font=ImageFont.load_default(38))
    draw.text((14, 90), f"top-1 on {result['images']} digits", fill=(90, 90, 90), font=ImageFont.load_default(13))
    for i, wrong in enumerate(result["misclassified"][:6]):
        x, y = 150 + 56 * (i % 3), 14 + 84 * (i // 3)
        pixels = (images[int(wrong["id"].split(":")[1]), 0].numpy() * 255).astype("uint8")
        card.paste(Image.fromarray(pixels).convert("RGB").resize((52, 52), Image.NEAREST), (x, y))
        caption = f"{wrong['true_name']} > {wrong['predicted_name']}"
        draw.text((x + 6, y + 56), caption, fill=(180, 35, 24), font=ImageFont.load_default(13))
    card.save(CARDS / "evaluate.jpg", quality=88)


if __name__ == "__main__":
    main()
