// The top dataset examples of each unit, one contact sheet per unit, with the images' ids and scores under it.
import { Link } from "react-router";
import type { ResultView } from "../../api/client";
import { resultData } from "../../api/results";
import { Picture } from "../../components/Picture";
import { fixed } from "../../lib/format";
import { unitLink } from "../../lib/links";

export function ExamplesResult({ result, model }: { result: ResultView; model: string }) {
  const d = resultData(result, "examples");
  return (
    <>
      {d.units.map((u) => (
        <section key={`${u.layer}:${u.index}`}>
          <h3>
            <Link to={unitLink(model, u.layer, u.index)}>
              {u.layer}:{u.index}
            </Link>{" "}
            — top {u.examples.length} of {d.images} images by {d.by === "relevance" ? "relevance" : "activation"}
          </h3>
          <Picture
            src={u.sheet}
            imgClassName="sheet"
            alt={`top examples of ${u.layer}:${u.index}`}
            caption={`top ${u.examples.length} of ${d.images} images by ${d.by === "relevance" ? "relevance" : "activation"}, scores under each`}
            testid={`sheet-${u.layer}:${u.index}`}
          />
          <p className="small example-ids" data-testid={`example-ids-${u.layer}:${u.index}`}>
            {u.examples.map((e, i) => `${i + 1}. ${e.path} (${fixed(e.score, 2)})`).join(" · ")}
          </p>
        </section>
      ))}
    </>
  );
}
