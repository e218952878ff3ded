// The activation maps of each layer asked for, strongest channel first, over the image the model saw (or alone),
// each with its colour bar; a map opens large, its caption leads to its unit's page.
import type { ResultView } from "../../api/client";
import { resultData } from "../../api/results";
import { ColorBar, rampWords } from "../../components/ColorBar";
import { Figure } from "../../components/Figure";
import { OverlayControls, useOverlayView } from "../../components/Overlay";
import { unitLink } from "../../lib/links";
import { sci } from "../../lib/format";

export function ActivationsResult({ result, model }: { result: ResultView; model: string }) {
  const d = resultData(result, "activations");
  const layers = d.layers ?? [d];
  const [view, setView] = useOverlayView();
  return (
    <>
      <p>
        Channels by mean activation. Each map is drawn {rampWords(false)} from 0 to its own maximum (the numbers under
        it, in the layer's activation units); negative activations show as 0. Click a map to enlarge it.
      </p>
      <OverlayControls view={view} onChange={setView} />
      {layers.map((entry) => {
        const shape = entry.output_shape ?? [];
        const spatial = shape.length === 3 && shape[1] * shape[2] > 1; // a 1×1 "map" (a linear layer) covers nothing
        return (
          <section key={entry.layer} data-testid={`maps-${entry.layer}`}>
            <h3>
              <code>{entry.layer}</code>, output {entry.output_shape?.join("×")}
            </h3>
            <div className="tiles">
              {entry.channels.map((c) => (
                <Figure
                  key={c.index}
                  src={c.image}
                  under={spatial ? d.input : undefined}
                  view={view}
                  to={unitLink(model, entry.layer, c.index)}
                  alt={`activation map of ${entry.layer}:${c.index}`}
                  caption={`#${c.index} mean ${sci(c.mean)}`}
                  testid={`map-${c.index}`}
                  colorbar={
                    <ColorBar
                      compact
                      scale={{ signed: false, low: 0, high: Math.max(0, c.max ?? 0), min: c.min, max: c.max }}
                      units="activation"
                    />
                  }
                />
              ))}
            </div>
          </section>
        );
      })}
    </>
  );
}
