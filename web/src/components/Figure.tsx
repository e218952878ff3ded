// A picture tile of a result: the picture (it opens large; a map can lie over its input), its caption, a link
// (`to`, e.g. the unit's page) and, under a map, its colour bar.
import { Link } from "react-router";
import type { OverlayView } from "./Overlay";
import { Picture } from "./Picture";

export function Figure({
  src,
  caption,
  to,
  toLabel = "unit page",
  testid,
  large,
  alt,
  under,
  view,
  colorbar,
  download,
}: {
  src: string;
  caption: React.ReactNode;
  to?: string;
  /** the words of the `to` link */
  toLabel?: string;
  testid?: string;
  large?: boolean;
  /** what the picture shows (default: the caption, when it is text) */
  alt?: string;
  /** the map's input, under it when `view.over` */
  under?: string;
  view?: OverlayView;
  /** the map's colour bar (ColorBar), under the picture */
  colorbar?: React.ReactNode;
  /** the file name the picture downloads as (default: its URL's) */
  download?: string;
}) {
  const text = alt ?? (typeof caption === "string" ? caption : "result picture");
  return (
    <figure className={`tile${large ? " large" : ""}${large && colorbar ? " map" : ""}`} data-testid={testid}>
      <Picture
        src={src}
        alt={text}
        caption={caption}
        under={under}
        view={view}
        download={download}
        legend={colorbar}
      />
      {colorbar}
      <figcaption>
        {caption}
        {to && (
          <>
            {" "}
            <Link to={to}>{toLabel}</Link>
          </>
        )}
      </figcaption>
    </figure>
  );
}
