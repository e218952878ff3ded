// The activation maps of each layer asked for, strongest channel first; a map leads to its unit's page.
import type { ResultView } from "../../api/client";
import { resultData } from "../../api/results";
import { Figure } from "../../components/Figure";
import { unitLink } from "../../lib/links";
import { fixed } from "../../lib/format";

export function ActivationsResult({ result, model }: { result: ResultView; model: string }) {
  const d = resultData(result, "activations");
  const layers = d.layers ?? [d];
  return (
    <>
      <p>Channels by mean activation, each map scaled to its own maximum (click one for its unit page).</p>
      {layers.map((entry) => (
        <section key={entry.layer} data-testid={`maps-${entry.layer}`}>
          <h3>
            <code>{entry.layer}</code>, output {entry.output_shape?.join("×")}
          </h3>
          <div className="tiles">
            {entry.channels.map((c) => (
              <Figure
                key={c.index}
                src={c.image}
                to={unitLink(model, entry.layer, c.index)}
                caption={`#${c.index} mean ${fixed(c.mean, 2)}`}
                testid={`map-${c.index}`}
              />
            ))}
          </div>
        </section>
      ))}
    </>
  );
}
