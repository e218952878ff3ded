// A result picture that opens large: a button around the picture (or the map over its input), and the Lightbox
// with its caption and download while it is open.
import { useState } from "react";
import { Lightbox } from "./Lightbox";
import { OverlayPicture, type OverlayView } from "./Overlay";
import "./pictures.css";

export function Picture({
  src,
  alt,
  caption,
  under,
  view,
  className,
  imgClassName,
  download,
  legend,
  testid,
}: {
  src: string;
  /** what the picture shows (its alt text and the dialog's title) */
  alt: string;
  /** more words under it in the dialog (unit, activation, objective ...) */
  caption?: React.ReactNode;
  /** the map's input, shown under it when `view.over` */
  under?: string;
  view?: OverlayView;
  className?: string;
  /** the picture's own class (e.g. "sheet") */
  imgClassName?: string;
  /** the file name it downloads as (default: its URL's) */
  download?: string;
  /** the colour bar of a map, shown with it in the dialog */
  legend?: React.ReactNode;
  testid?: string;
}) {
  const [open, setOpen] = useState(false);
  const over = Boolean(under && view?.over);
  return (
    <>
      <button
        type="button"
        className={className ? `picture ${className}` : "picture"}
        onClick={() => setOpen(true)}
        aria-label={`enlarge: ${alt}`}
        aria-haspopup="dialog"
        data-testid={testid}
      >
        <OverlayPicture map={src} under={under} alt={alt} view={view} className={imgClassName} />
      </button>
      {open && (
        <Lightbox
          src={src}
          title={alt}
          caption={caption}
          under={over ? under : undefined}
          opacity={view?.opacity}
          download={download}
          legend={legend}
          onClose={() => setOpen(false)}
        />
      )}
    </>
  );
}
