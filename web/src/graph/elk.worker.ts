// Web Worker running ELK off the main thread. Protocol: {id, graph} in, {id, graph} or {id, error} out.
// elk.bundled.js carries ELK's GWT-compiled code and runs it in-process (its "FakeWorker"), i.e. in
// this worker thread. On import it also installs its own `self.onmessage` (elk-api's protocol);
// the assignment below replaces it with ours, which reports errors as plain strings.
import ELK from "elkjs/lib/elk.bundled.js";
import type { ElkNode } from "elkjs/lib/elk-api";

interface LayoutRequest {
  id: number;
  graph: ElkNode;
}

const elk = new ELK();
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<LayoutRequest>) => void) | null;
  postMessage: (message: unknown) => void;
};

scope.onmessage = (event: MessageEvent<LayoutRequest>) => {
  const { id, graph } = event.data;
  elk.layout(graph).then(
    (result) => scope.postMessage({ id, graph: result }),
    (err: unknown) => scope.postMessage({ id, error: errorText(err) }),
  );
};

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === "object" && "message" in err) return String((err as { message: unknown }).message);
  return String(err);
}
