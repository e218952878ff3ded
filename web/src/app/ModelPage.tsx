// A technique page, fresh for each model: another model's result or running job is never shown under it. Loaded
// on demand (React.lazy in App.tsx) with the form and run logic it needs.
import { useParams } from "react-router";
import { RecipePage, type PageDef } from "../components/RecipePage";

export default function ModelPage({ page }: { page: PageDef }) {
  const { model } = useParams();
  return <RecipePage key={`${model}/${page.path}`} page={page} />;
}
