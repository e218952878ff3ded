// A result picture at full resolution in a modal dialog (a real <dialog>: the page behind is inert, focus stays in
// it, Esc closes it and focus returns to the picture that opened it), with its caption, its size and a download.
import { useEffect, useId, useRef, useState } from "react";
import { createPortal } from "react-dom";
import "./pictures.css";

/** The file name a picture downloads as: the last part of its URL's path. */
export function fileName(src: string): string {
  const path = src.split(/[?#]/)[0];
  return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1)) || "picture.png";
}

/** Tab and Shift+Tab cycle through the dialog's controls (a modal <dialog> alone lets Tab leave for the browser). */
function trapTab(e: React.KeyboardEvent, box: HTMLElement | null) {
  if (e.key !== "Tab" || !box) return;
  const items = [...box.querySelectorAll<HTMLElement>("a[href], button:not([disabled]), input:not([disabled])")];
  if (items.length === 0) return;
  const [first, last] = [items[0], items[items.length - 1]];
  const active = document.activeElement;
  if (e.shiftKey && (active === first || !box.contains(active))) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && (active === last || !box.contains(active))) {
    e.preventDefault();
    first.focus();
  }
}

export function Lightbox({
  src,
  title,
  caption,
  under,
  opacity,
  download,
  legend,
  onClose,
}: {
  src: string;
  /** the picture's colour bar (a map's), under it */
  legend?: React.ReactNode;
  /** the file name it downloads as (default: its URL's) */
  download?: string;
  title: string;
  caption?: React.ReactNode;
  /** a picture shown under `src` (the map's input), `src` over it at `opacity` */
  under?: string;
  opacity?: number;
  onClose: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const id = useId();
  const [size, setSize] = useState<{ width: number; height: number }>();
  const [underSize, setUnderSize] = useState<{ width: number; height: number }>();
  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (typeof d.showModal === "function") d.showModal();
    else d.setAttribute("open", ""); // (jsdom)
    return () => {
      if (d.open) d.close();
    };
  }, []);
  // over its input, a map is shown at the input's size or its own, whichever is larger
  const base = size && underSize && underSize.width > size.width ? underSize : size;
  // the largest whole zoom that fits the window (pixels stay crisp squares); at least 1: the natural size
  const zoom = base
    ? Math.max(1, Math.floor(Math.min((window.innerWidth * 0.88) / base.width, (window.innerHeight * 0.66) / base.height)))
    : 1;
  const shown = base ? { width: base.width * zoom, height: base.height * zoom } : undefined;
  const picture = (
    <img
      src={src}
      alt={title}
      className={under ? "overlay-map" : undefined}
      style={under ? { opacity } : shown}
      onLoad={(e) => setSize({ width: e.currentTarget.naturalWidth, height: e.currentTarget.naturalHeight })}
      data-testid="lightbox-picture"
    />
  );
  return createPortal(
    <dialog
      ref={dialog}
      className="lightbox"
      aria-labelledby={`${id}-title`}
      onClose={onClose}
      onClick={(e) => {
        if (e.target === dialog.current) dialog.current?.close(); // a click on the backdrop
      }}
      onKeyDown={(e) => trapTab(e, dialog.current)}
      data-testid="lightbox"
    >
      <h2 id={`${id}-title`}>{title}</h2>
      <div className="stage">
        {under ? (
          <span className="overlay" style={shown}>
            <img
              src={under}
              alt=""
              onLoad={(e) => setUnderSize({ width: e.currentTarget.naturalWidth, height: e.currentTarget.naturalHeight })}
            />
            {picture}
          </span>
        ) : (
          picture
        )}
      </div>
      {legend}
      {caption && <p>{caption}</p>}
      {size && (
        <p className="size" data-testid="lightbox-size">
          {size.width} × {size.height} px
          {under && underSize ? ` over the ${underSize.width} × ${underSize.height} px input` : ""}
          {zoom > 1 ? `, shown ×${zoom}` : ", shown at its size"}
        </p>
      )}
      <div className="actions">
        <a href={src} download={download ?? fileName(src)} data-testid="lightbox-download">
          Download the picture (PNG)
        </a>
        {under && (
          <a href={under} download={fileName(under)}>
            Download the input
          </a>
        )}
        <button type="button" onClick={() => dialog.current?.close()} autoFocus>
          Close
        </button>
      </div>
    </dialog>,
    document.body, // not inside the tile that opened it: none of its styles
  );
}
