// A picture tile of a result: the image (a link when `to` is given) and its caption.
import { Link } from "react-router";

export function Figure({
  src,
  caption,
  to,
  testid,
  large,
}: {
  src: string;
  caption: React.ReactNode;
  to?: string;
  testid?: string;
  large?: boolean;
}) {
  const img = <img src={src} alt={typeof caption === "string" ? caption : ""} loading="lazy" />;
  return (
    <figure className={large ? "tile large" : "tile"} data-testid={testid}>
      {to ? <Link to={to}>{img}</Link> : img}
      <figcaption>{caption}</figcaption>
    </figure>
  );
}
