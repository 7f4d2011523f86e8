import { Link } from "react-router";
import { useTitle } from "../components/common";

export function NotFound() {
  useTitle("Not found");
  return (
    <div className="centered">
      <h1>There is no page here</h1>
      <p>The link may be mistyped, or what it named was deleted.</p>
      <p>
        <Link to="/">Back to the start</Link>
      </p>
    </div>
  );
}
