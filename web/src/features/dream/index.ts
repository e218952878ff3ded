// The DeepDream page: amplify what a layer sees in an image, octave by octave (the `dream` recipe).
import type { PageDef } from "../../components/RecipePage";
import { clean, intList, modelRef, num } from "../../lib/spec";
import { lazyResult } from "../../components/lazyResult";
const DreamResult = lazyResult(() => import("./DreamResult"), "DreamResult"); // loaded with the first result

export const dreamPage: PageDef = {
  path: "dream",
  title: "DeepDream",
  recipe: "dream",
  intro: "Amplify what a layer (or some of its channels) sees in the image, octave by octave.",
  paper: { label: "Mordvintsev et al. 2015", url: "https://research.google/blog/inceptionism-going-deeper-into-neural-networks/" },
  fields: [
    { key: "image", label: "Image", kind: "image" },
    { key: "layer", label: "Layer", kind: "layer" },
    { key: "channels", label: "Channels", kind: "text", hint: "default: the whole layer" },
    { key: "octaves", label: "Octaves", kind: "number", default: "3" },
    { key: "steps", label: "Steps per octave", kind: "number", default: "10" },
  ],
  toSpec: (v, m) =>
    clean({ model: modelRef(m), image: v.image, layer: v.layer, channels: intList(v.channels), octaves: num(v, "octaves"), steps: num(v, "steps") }),
  Result: DreamResult,
};
